package sandbox

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
)

func TestValidateUserNamespace(t *testing.T) {
	big, ok := int64(UserNSSize), int64(UserNSSize-1)
	p := validPod()
	p.UserNamespace, p.HostNetwork = true, true
	p.FSGroup = &big
	p.Volumes = []Volume{{Name: "v", HostPath: &HostPathVolume{Path: "/mnt"}}}
	c := &p.Containers[0]
	c.UID, c.GID, c.SupplementalGroups = &big, &ok, []int64{1, big}
	c.VolumeMounts = []VolumeMount{{Name: "v", Target: "/v", Propagation: "Bidirectional"}}
	err := p.Validate()
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("err = %v", err)
	}
	for _, want := range []string{
		"hostUsers: false can not go with hostNetwork: true",
		"fsGroup: 65536 is outside the pod's user namespace (hostUsers: false maps IDs 0-65535)",
		"containers[0].runAsUser: 65536 is outside",
		"containers[0].supplementalGroups[1]: 65536 is outside",
		"containers[0].volumeMounts[0].mountPropagation: Bidirectional can not work with hostUsers: false",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "runAsGroup") {
		t.Errorf("gid 65535 is inside the namespace: %v", err)
	}
	// An ephemeral container of such a pod too.
	st := &PodStatus{Config: *validPod()}
	st.Config.UserNamespace = true
	if errs := checkEphemeral(st, &ContainerConfig{Name: "dbg", Rootfs: "/img", Command: []string{"sh"}, UID: &big}); len(errs) != 1 || !strings.Contains(errs[0].Error(), "ephemeralContainers[0].runAsUser: 65536 is outside the pod's user namespace") {
		t.Errorf("ephemeral container with uid 65536 in a hostUsers: false pod: %v", errs)
	}
	// Without a user namespace the same IDs are fine.
	q := validPod()
	q.Containers[0].UID = &big
	if err := q.Validate(); err != nil {
		t.Errorf("uid 65536 without a user namespace: %v", err)
	}
}

func TestUserNamespaceConfig(t *testing.T) {
	u := &UserNamespace{IDRange: IDRange{HostID: 131072, Size: UserNSSize}}
	c := libcontainerConfig(containerSpec{
		ctr: &ContainerConfig{Name: "c"}, rootfs: "/r", cgroupPath: "/p/c",
		podNS:  map[configs.NamespaceType]string{configs.NEWUSER: "/pod/ns/user", configs.NEWNET: "/pod/ns/net"},
		userns: u,
	})
	if p := c.Namespaces.PathOf(configs.NEWUSER); p != "/pod/ns/user" {
		t.Errorf("user namespace joined at %q, want the pod's", p)
	}
	want := []configs.IDMap{{ContainerID: 0, HostID: 131072, Size: UserNSSize}}
	if len(c.UIDMappings) != 1 || c.UIDMappings[0] != want[0] || len(c.GIDMappings) != 1 || c.GIDMappings[0] != want[0] {
		t.Errorf("mappings %v %v, want %v", c.UIDMappings, c.GIDMappings, want)
	}
	if u.String() != "0 131072 65536" {
		t.Errorf("range shown as %q", u.String())
	}
}

// deadPID is the PID of a process that has ended.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// TestIDAllocator: ranges are handed out once each, skip other users'
// subordinate IDs, and come back after release; a record whose pod is gone
// (user namespace not pinned, creator dead) is taken back, one whose
// creator lives is not, and a torn one stays held.
func TestIDAllocator(t *testing.T) {
	dir := t.TempDir()
	a := &idAllocator{dir: dir, first: UserNSSize, end: 6 * UserNSSize,
		taken: [][2]int64{{2*UserNSSize + 10, 2*UserNSSize + 20}}}
	me, err := processStart(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	live := idRecord{UID: "a", UserNS: "/nonexistent", Creator: os.Getpid(), CreatorStart: me}
	r1, err := a.allocate(live)
	if err != nil || r1.HostID != UserNSSize || r1.Size != UserNSSize {
		t.Fatalf("first range: %+v, %v", r1, err)
	}
	live.UID = "b"
	r2, err := a.allocate(live)
	if err != nil || r2.HostID != 3*UserNSSize {
		t.Fatalf("second range: %+v, %v; want %d (the one below holds another user's subordinate IDs)", r2, err, 3*UserNSSize)
	}
	// A pod gone without podbox: creator dead, namespace not pinned.
	stale := idRecord{UID: "gone", UserNS: "/nonexistent", Creator: deadPID(t)}
	b, _ := json.Marshal(stale)
	os.WriteFile(filepath.Join(a.rangesDir(), strconv.Itoa(4*UserNSSize)), b, 0o600)
	os.WriteFile(filepath.Join(a.rangesDir(), strconv.Itoa(5*UserNSSize)), []byte("{torn"), 0o600)
	live.UID = "c"
	r3, err := a.allocate(live)
	if err != nil || r3.HostID != 4*UserNSSize {
		t.Fatalf("third range: %+v, %v; want the stale one, %d", r3, err, 4*UserNSSize)
	}
	live.UID = "d"
	if r, err := a.allocate(live); err == nil || !strings.Contains(err.Error(), "no free range") {
		t.Fatalf("full pool: %+v, %v; want an error (the torn record keeps its range)", r, err)
	}
	// Release only by the holder's UID.
	if err := a.release(r1.HostID, "not-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(a.rangesDir(), strconv.Itoa(UserNSSize))); err != nil {
		t.Fatalf("released by another pod's UID: %v", err)
	}
	if err := a.release(r1.HostID, "a"); err != nil {
		t.Fatal(err)
	}
	if r, err := a.allocate(live); err != nil || r.HostID != r1.HostID {
		t.Fatalf("after release: %+v, %v; want %d again", r, err, r1.HostID)
	}
}

func TestIDAllocatorSubIDs(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ sub, want string }{
		{"alice:100000:65536\n", ""},
		{"podbox:131072:65536\nbob:1:2\n", "podbox"},
	} {
		p := filepath.Join(dir, "subuid")
		os.WriteFile(p, []byte(tc.sub), 0o644)
		ids, err := readSubIDs(p)
		if err != nil || len(ids) == 0 || (tc.want != "" && ids[0].name != tc.want) {
			t.Errorf("%q: %+v, %v", tc.sub, ids, err)
		}
	}
	if ids, err := readSubIDs(filepath.Join(dir, "missing")); err != nil || ids != nil {
		t.Errorf("missing file: %v, %v", ids, err)
	}
}
