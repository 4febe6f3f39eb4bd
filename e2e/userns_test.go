package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/mounts"
)

// usernsManifest is a hostUsers: false pod with a hostPath and an emptyDir.
func usernsManifest(t *testing.T, name, hostDir string) string {
	return manifest(t, name+".yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  hostUsers: false
  terminationGracePeriodSeconds: 0
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: host, mountPath: /host}
    - {name: scratch, mountPath: /scratch}
  volumes:
  - {name: host, hostPath: {path: %s, type: Directory}}
  - {name: scratch, emptyDir: {}}
`, name, hostDir))
}

// holdsRange says whether the host's range record at hostID names the pod
// of UID uid (another test may take a released range at once).
func holdsRange(t *testing.T, hostID uint32, uid string) bool {
	b, err := os.ReadFile(filepath.Join("/run/podbox/userns/ranges", strconv.FormatUint(uint64(hostID), 10)))
	if os.IsNotExist(err) {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(string(b), `"uid":"`+uid+`"`)
}

// TestUserNamespacePod: podbox run of a hostUsers: false manifest gives the
// pod a range of host IDs of its own, shown by inspect and get pod; what
// it writes in a hostPath is owned by those IDs on the host, its image and
// emptyDir look root's inside; the range outlives a killed monitor, a
// second pod gets another, and rm gives it back. Where the kernel can not
// idmap the image store's filesystem, run refuses the pod and says why.
func TestUserNamespacePod(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	hostDir := t.TempDir()
	if err := os.Chmod(hostDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := testutil.IDMapRefused(t, mounts.CheckIDMap, mounts.ErrNoIDMap, e.root); err != nil {
		failPodbox(t, e, 1, []string{"hostUsers: false", "can not idmap"}, "run", usernsManifest(t, "uns", hostDir))
		if rows := e.ps(t); len(rows) != 0 {
			t.Errorf("ps after the refusal: %+v", rows)
		}
		return
	}
	mustPodbox(t, e, "run", usernsManifest(t, "uns", hostDir))
	in := e.inspect(t, "uns")
	u := in.UserNamespace
	if u == nil || u.HostID == 0 || u.Size != 65536 || u.UIDMap != fmt.Sprintf("0 %d 65536", u.HostID) {
		t.Fatalf("inspect: userNamespace %+v, want a range of 65536 above 0", u)
	}
	if got := strings.Fields(mustPodbox(t, e, "exec", "uns", "--", "cat", "/proc/self/uid_map")); strings.Join(got, " ") != u.UIDMap {
		t.Errorf("uid_map inside: %q, want %q", got, u.UIDMap)
	}
	if a := e.getPod(t, "uns").Annotations["podbox.io/user-namespace"]; a != u.UIDMap {
		t.Errorf("get pod: annotation podbox.io/user-namespace %q, want %q", a, u.UIDMap)
	}
	mustPodbox(t, e, "exec", "uns", "--", "touch", "/host/made-inside")
	fi, err := os.Stat(filepath.Join(hostDir, "made-inside"))
	if err != nil {
		t.Fatal(err)
	}
	if s := fi.Sys().(*syscall.Stat_t); s.Uid != u.HostID || s.Gid != u.HostID {
		t.Errorf("a file the pod's root made in the hostPath is %d:%d on the host, want %d", s.Uid, s.Gid, u.HostID)
	}
	if out := mustPodbox(t, e, "exec", "uns", "--", "stat", "-c", "%u:%g", "/", "/bin", "/scratch"); strings.Fields(out)[0] != "0:0" || strings.Count(out, "0:0") != 3 {
		t.Errorf("owners of /, /bin and the emptyDir inside: %q, want 0:0", out)
	}
	// The monitor dies: the range stays the pod's (its namespace is pinned).
	if err := syscall.Kill(in.MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "monitor gone", func() (bool, string) {
		return syscall.Kill(in.MonitorPID, 0) != nil, ""
	})
	if !holdsRange(t, u.HostID, in.UID) {
		t.Fatalf("the range after the monitor died: no longer the pod's")
	}
	mustPodbox(t, e, "run", usernsManifest(t, "uns2", hostDir))
	in2 := e.inspect(t, "uns2")
	u2 := in2.UserNamespace
	if u2 == nil || (u.HostID < u2.HostID+u2.Size && u2.HostID < u.HostID+u.Size) {
		t.Fatalf("second pod's range %+v overlaps the first's %+v", u2, u)
	}
	mustPodbox(t, e, "rm", "-f", "uns")
	if holdsRange(t, u.HostID, in.UID) {
		t.Errorf("the range after rm: still the pod's")
	}
	if !holdsRange(t, u2.HostID, in2.UID) {
		t.Errorf("the other pod's range after rm of the first: gone")
	}
	mustPodbox(t, e, "rm", "-f", "uns2")
	if holdsRange(t, u2.HostID, in2.UID) {
		t.Errorf("the second range after rm: still the pod's")
	}
}

// TestUserNamespaceRefusals: what a user namespace can not go with is
// refused with the field and the reason, and nothing is made.
func TestUserNamespaceRefusals(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	for _, tc := range []struct{ spec, want string }{
		{"hostNetwork: true", "spec.hostUsers: false can not go with hostNetwork: true"},
		{"securityContext: {runAsUser: 70000}", "containers[0].runAsUser: 70000 is outside the pod's user namespace"},
	} {
		m := manifest(t, "refused.yaml", `apiVersion: v1
kind: Pod
metadata: {name: refused}
spec:
  hostUsers: false
  `+tc.spec+`
  containers:
  - {name: c, image: busybox, command: [sleep, "3600"]}
`)
		failPodbox(t, e, 1, []string{tc.want}, "run", m)
		if rows := e.ps(t); len(rows) != 0 {
			t.Errorf("%s: ps after the refusal: %+v", tc.spec, rows)
		}
	}
}
