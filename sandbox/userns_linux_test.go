package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/mounts"
)

// usernsPod is a pod with a user namespace, a hostPath (dir) and an
// emptyDir mounted in one container that sleeps.
func (e *testEnv) usernsPod(name, hostDir string) *PodConfig {
	c := e.container("c", "sleep", "3600")
	c.VolumeMounts = []VolumeMount{{Name: "host", Target: "/host"}, {Name: "scratch", Target: "/scratch"}, {Name: "img", Target: "/img"}}
	// An image volume of two layers (a read-only overlay of them), on the
	// image's filesystem.
	layers := []string{filepath.Join(e.opts.Root, "test-layers", "top"), filepath.Join(e.opts.Root, "test-layers", "bottom")}
	for i, l := range layers {
		if err := os.MkdirAll(l, 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(l, strconv.Itoa(i)), []byte("layer"+strconv.Itoa(i)), 0o600); err != nil {
			e.t.Fatal(err)
		}
	}
	return &PodConfig{Name: name, UserNamespace: true, Containers: []ContainerConfig{c},
		// Set by podbox, as the host's root, in namespaces the pod's
		// user namespace owns.
		Sysctls: []Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "4242"}, {Name: "kernel.shmmni", Value: "1234"}, {Name: "fs.mqueue.msg_max", Value: "17"}},
		Volumes: []Volume{
			{Name: "host", HostPath: &HostPathVolume{Path: hostDir}},
			{Name: "scratch", EmptyDir: &EmptyDirVolume{}},
			{Name: "img", Image: &ImageVolume{Reference: "local/layers", Layers: layers}},
		}}
}

// usernsEnv is a test env whose image and state root a hostUsers: false
// pod can use. Where this kernel can not idmap the defaults' filesystem
// (tmpfs before Linux 6.3: /tmp in the cgroup v2 VM), it asserts that such
// a pod is refused there, naming it, and gives an env on an ext4 made for
// the test (image layers on ext4 are idmapped from Linux 5.12, overlay
// takes them from 5.19).
func usernsEnv(t *testing.T) *testEnv {
	e := newTestEnv(t)
	refused := testutil.IDMapRefused(t, mounts.CheckIDMap, mounts.ErrNoIDMap, e.rootfs, filepath.Dir(e.opts.Root))
	if refused == nil {
		return e
	}
	_, err := e.m.Create(context.Background(), e.usernsPod("refused", t.TempDir()))
	if !errors.Is(err, mounts.ErrNoIDMap) || !strings.Contains(err.Error(), "hostUsers: false") || !strings.Contains(err.Error(), "can not idmap") {
		t.Fatalf("create where the kernel can not idmap (%v): %v, want a refusal naming the reason", refused, err)
	}
	if _, err := e.m.Status(context.Background(), "refused"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("the refused pod was kept: %v", err)
	}
	t.Logf("refused as it should be: %v; the rest on an ext4", err)
	dir := testExt4(t)
	e = newTestEnvWith(t, func(o *Options) { o.Root = filepath.Join(dir, "root") })
	e.rootfs = filepath.Join(dir, "busybox")
	if out, err := exec.Command("cp", "-a", testutil.BusyboxRootfs(t), e.rootfs).CombinedOutput(); err != nil {
		t.Fatalf("cp busybox to the ext4: %v: %s", err, out)
	}
	return e
}

// testExt4 mounts a small ext4 (a loop device over a file) for the test.
func testExt4(t *testing.T) string {
	t.Helper()
	img := filepath.Join(t.TempDir(), "ext4.img")
	dir := t.TempDir()
	exec.Command("modprobe", "loop").Run() // where loop is a module
	for _, args := range [][]string{{"truncate", "-s", "128M", img}, {"mkfs.ext4", "-q", img}, {"mount", "-o", "loop", img, dir}} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", "-d", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// holdsRange says whether the host's range record at hostID names the pod
// of UID uid (another test may take a released range at once).
func holdsRange(e *testEnv, hostID uint32, uid string) bool {
	b, err := os.ReadFile(filepath.Join(e.m.opts.IDRangeDir, "ranges", strconv.FormatUint(uint64(hostID), 10)))
	if errors.Is(err, os.ErrNotExist) {
		return false
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return strings.Contains(string(b), `"uid":"`+uid+`"`)
}

// TestUserNamespace: a hostUsers: false pod maps its root to a non-zero,
// unprivileged host ID of a range no other pod holds; what it writes in a
// hostPath is owned by that ID on the host; its image and emptyDir look
// root-owned inside (idmapped mounts); its range is recorded until it is
// removed.
func TestUserNamespace(t *testing.T) {
	e := usernsEnv(t)
	// Root of the host's, so writable by the pod's root only when open to
	// all, as any unprivileged host user's would be.
	hostDir := t.TempDir()
	if err := os.Chmod(hostDir, 0o777); err != nil {
		t.Fatal(err)
	}
	st := e.run(e.usernsPod("uns", hostDir))
	u := st.UserNamespace
	if u == nil || u.HostID == 0 || u.Size != UserNSSize {
		t.Fatalf("pod's user namespace: %+v, want a range of %d above 0", u, UserNSSize)
	}
	out, code := e.exec("uns", "c", "cat", "/proc/self/uid_map", "/proc/self/gid_map")
	f := strings.Fields(out)
	want := []string{"0", strconv.FormatUint(uint64(u.HostID), 10), "65536"}
	if code != 0 || len(f) != 6 || strings.Join(f[:3], " ") != strings.Join(want, " ") || strings.Join(f[3:], " ") != strings.Join(want, " ") {
		t.Fatalf("uid_map and gid_map inside: exit %d, %q; want %v twice", code, out, want)
	}
	if out, _ := e.exec("uns", "c", "cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/shmmni", "/proc/sys/fs/mqueue/msg_max"); strings.Join(strings.Fields(out), " ") != "4242 1234 17" {
		t.Errorf("the pod's sysctls inside: %q, want 4242, 1234 and 17", out)
	}
	// The pause and the container run as the range's first ID on the host.
	if got := procStatus(t, st.Containers[0].PID, "Uid:"); !strings.HasPrefix(got, want[1]) {
		t.Errorf("container's host uid: %q, want %s", got, want[1])
	}
	if got := procStatus(t, st.PausePID, "Uid:"); !strings.HasPrefix(got, want[1]) {
		t.Errorf("pause's host uid: %q, want %s", got, want[1])
	}
	// Written in a hostPath: the host sees the mapped IDs.
	if out, code := e.exec("uns", "c", "sh", "-c", "touch /host/f && chown 7:8 /host/f && mkdir /host/d"); code != 0 {
		t.Fatalf("write in the hostPath: exit %d, %q", code, out)
	}
	for name, id := range map[string]uint32{"f": u.HostID + 7, "d": u.HostID} {
		fi, err := os.Stat(filepath.Join(hostDir, name))
		if err != nil {
			t.Fatal(err)
		}
		s := fi.Sys().(*syscall.Stat_t)
		wantGID := id
		if name == "f" {
			wantGID = u.HostID + 8
		}
		if s.Uid != id || s.Gid != wantGID {
			t.Errorf("hostPath %s owned by %d:%d on the host, want %d:%d", name, s.Uid, s.Gid, id, wantGID)
		}
	}
	// The image and the emptyDir look root's inside, and root can write
	// them; a new file in the emptyDir is root's on disk (idmapped).
	out, code = e.exec("uns", "c", "sh", "-c", "stat -c %u:%g / /bin/sh /etc /scratch && touch /etc/new /scratch/new && echo x >> /etc/passwd")
	if code != 0 || strings.Fields(out)[0] != "0:0" || strings.Count(out, "0:0") != 4 {
		t.Errorf("owners of /, /bin/sh, /etc and the emptyDir inside: exit %d, %q; want 0:0 each and writable", code, out)
	}
	// The image volume's layers are idmapped too: their 0600 files are
	// root's inside, and readable.
	if out, code := e.exec("uns", "c", "sh", "-c", "stat -c %u:%g /img/0 /img/1 && cat /img/0 /img/1"); code != 0 || out != "0:0\n0:0\nlayer0layer1" {
		t.Errorf("the image volume inside: exit %d, %q; want its files root's and readable", code, out)
	}
	fi, err := os.Stat(filepath.Join(st.VolumePaths["scratch"], "new"))
	if err != nil {
		t.Fatal(err)
	}
	if s := fi.Sys().(*syscall.Stat_t); s.Uid != 0 {
		t.Errorf("a file root made in the idmapped emptyDir is owned by %d on disk, want 0", s.Uid)
	}
	// Recorded host-wide, until the pod is removed.
	if !holdsRange(e, u.HostID, st.UID) {
		t.Fatalf("no range record names the pod")
	}
	// A second pod, here or under another state root, gets another range.
	e2 := usernsEnv(t)
	st2 := e2.run(e2.usernsPod("uns2", t.TempDir()))
	u2 := st2.UserNamespace
	if u2 == nil || (u.HostID < u2.HostID+u2.Size && u2.HostID < u.HostID+u.Size) {
		t.Fatalf("two pods' ranges overlap: %+v and %+v", u, u2)
	}
	// An ephemeral container joins the pod's user namespace too.
	dbg := e.container("dbg", "sleep", "3603")
	if err := e.m.AddEphemeralContainer(context.Background(), "uns", dbg); err != nil {
		t.Fatal(err)
	}
	cs := e.ephemeralStatus("uns", "dbg", "running", running)
	if got := procStatus(t, cs.PID, "Uid:"); !strings.HasPrefix(got, want[1]) {
		t.Errorf("ephemeral container's host uid: %q, want %s", got, want[1])
	}
	if got, pod := nsInode(t, cs.PID, "user"), nsInode(t, st.PausePID, "user"); got != pod {
		t.Errorf("ephemeral container's user namespace %d, the pod's is %d", got, pod)
	}
	// A killed pause is restarted as the pod's root's host IDs too.
	if err := syscall.Kill(st.PausePID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var pause int
	waitFor(t, 10*time.Second, "a new pause", func() bool {
		now, err := e.m.Status(context.Background(), "uns")
		pause = now.PausePID
		return err == nil && pause != st.PausePID && pause != 0
	})
	if got := procStatus(t, pause, "Uid:"); !strings.HasPrefix(got, want[1]) {
		t.Errorf("restarted pause's host uid: %q, want %s", got, want[1])
	}
	if err := e.m.Remove(context.Background(), "uns", true); err != nil {
		t.Fatal(err)
	}
	if holdsRange(e, u.HostID, st.UID) {
		t.Errorf("range record after remove: still the pod's")
	}
	if !holdsRange(e2, u2.HostID, st2.UID) {
		t.Errorf("the other pod's range record is gone")
	}
}

// TestUserNamespaceRefused: a pod whose image is on a filesystem the kernel
// can not idmap (ramfs, on any kernel) is refused before anything starts,
// the error naming the filesystem, and nothing is left: no pod, no range.
func TestUserNamespaceRefused(t *testing.T) {
	e := newTestEnv(t)
	img := t.TempDir()
	if err := syscall.Mount("ramfs", img, "ramfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(img, syscall.MNT_DETACH) })
	c := e.container("c", "sleep", "3600")
	c.Rootfs = img
	_, err := e.m.Create(context.Background(), &PodConfig{Name: "refused", UserNamespace: true, Containers: []ContainerConfig{c}})
	if !errors.Is(err, mounts.ErrNoIDMap) || !strings.Contains(err.Error(), `container "c": image layer: "`+img+`" is on ramfs`) {
		t.Fatalf("create with an image on ramfs: %v, want a refusal naming it", err)
	}
	if _, err := e.m.Status(context.Background(), "refused"); !errors.Is(err, ErrNotExist) {
		t.Errorf("the refused pod was kept: %v", err)
	}
	a := &idAllocator{dir: e.m.opts.IDRangeDir}
	a.locked(func() error {
		recs, err := a.records()
		if err != nil {
			t.Fatal(err)
		}
		for id, r := range recs {
			if r != nil && r.Root == e.m.opts.Root {
				t.Errorf("range %d still recorded for the refused pod: %+v", id, r)
			}
		}
		return nil
	})
	// Refused by validation, with the field: hostNetwork.
	_, err = e.m.Create(context.Background(), &PodConfig{Name: "hostnet", UserNamespace: true, HostNetwork: true, Containers: []ContainerConfig{e.container("c", "true")}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "hostUsers: false can not go with hostNetwork: true") {
		t.Errorf("hostNetwork with a user namespace: %v", err)
	}
}

// TestUserNamespaceFilesVolume: a configMap or secret volume (a tmpfs) of
// a hostUsers: false pod is idmapped where the kernel can (Linux 6.3): a
// 0400 file of root's is root's inside, and readable; where it can not,
// the pod is refused, naming the volume and tmpfs.
func TestUserNamespaceFilesVolume(t *testing.T) {
	e := usernsEnv(t)
	probe := t.TempDir()
	if err := syscall.Mount("tmpfs", probe, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	refused := testutil.IDMapRefused(t, mounts.CheckIDMap, mounts.ErrNoIDMap, probe)
	syscall.Unmount(probe, syscall.MNT_DETACH)
	c := e.container("c", "sleep", "3600")
	c.VolumeMounts = []VolumeMount{{Name: "conf", Target: "/etc/conf"}}
	cfg := &PodConfig{Name: "files", UserNamespace: true, Containers: []ContainerConfig{c},
		Volumes: []Volume{{Name: "conf", Files: &FilesVolume{Files: []VolumeFile{{Path: "secret", Data: []byte("hunter2"), Mode: 0o400}}}}}}
	if refused != nil {
		_, err := e.m.Create(context.Background(), cfg)
		if !errors.Is(err, mounts.ErrNoIDMap) || !strings.Contains(err.Error(), `volume "conf"`) || !strings.Contains(err.Error(), "is on tmpfs") {
			t.Fatalf("create with a files volume where tmpfs can not be idmapped: %v, want a refusal naming it", err)
		}
		if _, err := e.m.Status(context.Background(), "files"); !errors.Is(err, ErrNotExist) {
			t.Errorf("the refused pod was kept: %v", err)
		}
		return
	}
	e.run(cfg)
	if out, code := e.exec("files", "c", "sh", "-c", "stat -c %u:%g:%a /etc/conf/secret && cat /etc/conf/secret"); code != 0 || out != "0:0:400\nhunter2" {
		t.Errorf("the secret inside: exit %d, %q; want 0:0:400 and its content", code, out)
	}
}

// TestUserNamespaceMonitorRestart: a hostUsers: false pod's range outlives
// its monitor (killed) and is the pod's under the monitor that recovers
// it: a container restarted by the new monitor maps the same range; Remove
// then releases it.
func TestUserNamespaceMonitorRestart(t *testing.T) {
	e := usernsEnv(t)
	ctx := context.Background()
	cfg := &PodConfig{Name: "mon", UserNamespace: true, Containers: []ContainerConfig{e.container("c", "sleep", "3600")}}
	if _, err := e.m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RunDetached(ctx, "mon", fastRestarts); err != nil {
		t.Fatal(err)
	}
	if err := e.m.WaitStarted(ctx, "mon", nil); err != nil {
		t.Fatal(err)
	}
	st, err := e.m.Status(ctx, "mon")
	if err != nil {
		t.Fatal(err)
	}
	u := st.UserNamespace
	if err := syscall.Kill(st.MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the monitor to be gone", func() bool { return !alive(st.MonitorPID, st.MonitorStart) })
	if !holdsRange(e, u.HostID, st.UID) {
		t.Fatalf("the range after the monitor died: no longer the pod's")
	}
	if err := e.m.RecoverDetached(ctx, "mon", fastRestarts); err != nil {
		t.Fatal(err)
	}
	// The adopted container ends; the new monitor starts it again, in
	// the pod's user namespace, on a root it mounts again.
	if err := syscall.Kill(st.Containers[0].PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the container's restart by the new monitor", func() bool {
		now, err := e.m.Status(ctx, "mon")
		return err == nil && now.Containers[0].RestartCount == 1 && now.Containers[0].State == StateRunning
	})
	want := "0 " + strconv.FormatUint(uint64(u.HostID), 10) + " 65536"
	if out, code := e.exec("mon", "c", "cat", "/proc/self/uid_map"); code != 0 || strings.Join(strings.Fields(out), " ") != want {
		t.Errorf("uid_map after the monitor's restart: exit %d, %q; want %q", code, out, want)
	}
	if out, _ := e.exec("mon", "c", "stat", "-c", "%u", "/bin"); strings.TrimSpace(out) != "0" {
		t.Errorf("/bin after the restart is owned by %q inside, want 0", out)
	}
	if !holdsRange(e, u.HostID, st.UID) {
		t.Fatalf("the range under the new monitor: no longer the pod's")
	}
	if err := e.m.Remove(ctx, "mon", true); err != nil {
		t.Fatal(err)
	}
	if holdsRange(e, u.HostID, st.UID) {
		t.Errorf("the range after Remove: still the pod's")
	}
}
