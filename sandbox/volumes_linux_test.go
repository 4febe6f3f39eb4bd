package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/mounts"
)

func TestVolumes(t *testing.T) {
	e := newTestEnv(t)
	host := filepath.Join(e.opts.Root, "hostdir")
	os.MkdirAll(host, 0o755)
	os.WriteFile(filepath.Join(host, "from-host"), []byte("hello\n"), 0o644)
	// A symlink that tries to lead a subPath out of the volume.
	os.Symlink("/", filepath.Join(host, "escape"))

	writer := e.container("writer", "sleep", "3600")
	writer.VolumeMounts = []VolumeMount{{Name: "scratch", Target: "/scratch"}, {Name: "mem", Target: "/mem"}, {Name: "host", Target: "/host"}}
	reader := e.container("reader", "sleep", "3600")
	reader.VolumeMounts = []VolumeMount{
		{Name: "scratch", Target: "/scratch", ReadOnly: true},
		{Name: "host", Target: "/sub", SubPath: "escape"},
	}
	e.run(&PodConfig{Name: "vols", Containers: []ContainerConfig{writer, reader}, Volumes: []Volume{
		{Name: "scratch", EmptyDir: &EmptyDirVolume{}},
		{Name: "mem", EmptyDir: &EmptyDirVolume{Medium: "Memory", SizeLimit: 8 << 20}},
		{Name: "host", HostPath: &HostPathVolume{Path: host, Type: "Directory"}},
	}})
	if _, code := e.exec("vols", "writer", "sh", "-c", "echo shared > /scratch/f"); code != 0 {
		t.Fatal("write to the emptyDir failed")
	}
	if out, _ := e.exec("vols", "reader", "cat", "/scratch/f"); out != "shared\n" {
		t.Errorf("reader sees %q in the emptyDir", out)
	}
	if _, code := e.exec("vols", "reader", "sh", "-c", "echo x > /scratch/g"); code == 0 {
		t.Errorf("a readOnly volume mount is writable")
	}
	if out, _ := e.exec("vols", "writer", "cat", "/host/from-host"); out != "hello\n" {
		t.Errorf("hostPath: %q", out)
	}
	if out, _ := e.exec("vols", "writer", "df", "-k", "/mem"); !strings.Contains(out, "tmpfs") || !strings.Contains(out, "8192") {
		t.Errorf("emptyDir medium Memory is not an 8 MiB tmpfs:\n%s", out)
	}
	// The subPath symlink to / resolves inside the volume: the reader sees
	// the volume's own files, not the host's root.
	out, _ := e.exec("vols", "reader", "ls", "/sub")
	if !strings.Contains(out, "from-host") || strings.Contains(out, "proc") {
		t.Errorf("subPath through a symlink to / escaped the volume: ls /sub = %q", out)
	}
	if err := e.m.Remove(context.Background(), "vols", true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(host, "from-host")); err != nil {
		t.Errorf("removing the pod touched its hostPath: %v", err)
	}
}

func TestVolumeRefusals(t *testing.T) {
	e := newTestEnv(t)
	c := e.container("c", "sleep", "3600")
	c.VolumeMounts = []VolumeMount{{Name: "data", Target: "/data"}}
	_, err := e.m.Create(context.Background(), &PodConfig{Name: "missing", Containers: []ContainerConfig{c}, Volumes: []Volume{
		{Name: "data", HostPath: &HostPathVolume{Path: "/nonexistent/podbox-data", Type: "Directory"}},
	}})
	if err == nil || !strings.Contains(err.Error(), `volume "data"`) || !strings.Contains(err.Error(), "/nonexistent/podbox-data") {
		t.Fatalf("a missing hostPath Directory: %v", err)
	}
	if _, err := os.Stat(e.m.podDir("missing")); !os.IsNotExist(err) {
		t.Errorf("the refused pod left its directory")
	}
}

// TestSubPathAcrossRestarts: a container with a subPath mount that exits
// is restarted with its subPath bound again, every time.
func TestSubPathAcrossRestarts(t *testing.T) {
	e := newTestEnv(t)
	host := filepath.Join(e.opts.Root, "hostdir")
	if err := os.MkdirAll(filepath.Join(host, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(host, "sub", "f"), []byte("in the subPath\n"), 0o644)
	c := e.container("app", "sh", "-c", "cat /data/f && exit 3")
	c.VolumeMounts = []VolumeMount{{Name: "host", Target: "/data", SubPath: "sub"}}
	e.run(&PodConfig{Name: "sub", Containers: []ContainerConfig{c}, Volumes: []Volume{
		{Name: "host", HostPath: &HostPathVolume{Path: host, Type: "Directory"}},
	}})
	var cs ContainerStatus
	waitFor(t, 20*time.Second, "two restarts", func() bool {
		st, err := e.m.Status(context.Background(), "sub")
		if err != nil {
			t.Fatal(err)
		}
		cs = st.Containers[0]
		return cs.RestartCount >= 2 && cs.LastTermination != nil
	})
	if lt := cs.LastTermination; lt.Reason == ReasonStartError || lt.ExitCode != 3 {
		t.Errorf("a restart of a container with a subPath ended %+v; want exit 3 from the container itself", lt)
	}
	if err := e.m.Remove(context.Background(), "sub", true); err != nil {
		t.Fatal(err)
	}
}

// TestPropagationFromPrivateMountRefused: HostToContainer from a hostPath on
// a private mount would propagate nothing: refused before anything runs,
// naming the mount; once the mount is a slave (or shared), accepted.
func TestPropagationFromPrivateMountRefused(t *testing.T) {
	e := newTestEnv(t)
	mnt := filepath.Join(e.opts.Root, "private")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("podbox-test", mnt, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Unmount(mnt, unix.MNT_DETACH) })
	if err := unix.Mount("", mnt, "", unix.MS_PRIVATE, ""); err != nil {
		t.Fatal(err)
	}
	c := e.container("c", "sleep", "3600")
	c.VolumeMounts = []VolumeMount{{Name: "host", Target: "/host", Propagation: "HostToContainer"}}
	cfg := &PodConfig{Name: "prop", Containers: []ContainerConfig{c}, Volumes: []Volume{
		{Name: "host", HostPath: &HostPathVolume{Path: mnt, Type: "Directory"}},
	}}
	_, err := e.m.Create(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "mountPropagation HostToContainer") || !strings.Contains(err.Error(), "which is private") {
		t.Fatalf("HostToContainer from a private mount: %v", err)
	}
	if _, err := os.Stat(e.m.podDir("prop")); !os.IsNotExist(err) {
		t.Errorf("the refused pod left its directory")
	}
	if err := unix.Mount("", mnt, "", unix.MS_SHARED, ""); err != nil {
		t.Fatal(err)
	}
	e.run(cfg)
}

// TestClaimAndImageVolumes: a claim's data outlives the pod and its lease
// goes with it; an image volume given as layers (no image store) is
// mounted read-only; a claim refused late leaves no lease behind.
func TestClaimAndImageVolumes(t *testing.T) {
	e := newTestEnv(t)
	layer := filepath.Join(e.opts.Root, "layer")
	os.MkdirAll(layer, 0o755)
	os.WriteFile(filepath.Join(layer, "content"), []byte("from the image\n"), 0o644)
	c := e.container("c", "sleep", "3600")
	c.VolumeMounts = []VolumeMount{{Name: "data", Target: "/data"}, {Name: "img", Target: "/img"}}
	g := int64(1234)
	e.run(&PodConfig{Name: "claims", FSGroup: &g, Containers: []ContainerConfig{c}, Volumes: []Volume{
		{Name: "data", PersistentVolumeClaim: &ClaimVolume{ClaimName: "kept"}},
		{Name: "img", Image: &ImageVolume{Reference: "content:v1", Layers: []string{layer}}},
	}})
	if _, code := e.exec("claims", "c", "sh", "-c", "echo persisted > /data/f"); code != 0 {
		t.Fatal("write to the claim failed")
	}
	if out, _ := e.exec("claims", "c", "stat", "-c", "%g", "/data"); out != "1234\n" {
		t.Errorf("the claim's group with fsGroup 1234: %q", out)
	}
	if out, _ := e.exec("claims", "c", "cat", "/img/content"); out != "from the image\n" {
		t.Errorf("image volume: %q", out)
	}
	if out, code := e.exec("claims", "c", "touch", "/img/x"); code == 0 || !strings.Contains(out, "Read-only") {
		t.Errorf("a write into the image volume: exit %d %q", code, out)
	}
	nv, err := mountsNamed(e)
	if err != nil {
		t.Fatal(err)
	}
	if vol, err := nv.Get("kept"); err != nil || len(vol.Pods) != 1 || vol.Pods[0] != "claims" {
		t.Errorf("the claim while the pod exists: %+v %v", vol, err)
	}
	if err := e.m.Remove(context.Background(), "claims", true); err != nil {
		t.Fatal(err)
	}
	vol, err := nv.Get("kept")
	if err != nil || len(vol.Pods) != 0 {
		t.Fatalf("the claim after the pod: %+v %v", vol, err)
	}
	if b, _ := os.ReadFile(filepath.Join(vol.Mountpoint, "f")); string(b) != "persisted\n" {
		t.Errorf("the claim's data after the pod: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(layer, "content")); string(b) != "from the image\n" {
		t.Errorf("the image layer after the pod: %q", b)
	}
	// A pod refused after it took its claim (a missing hostPath) gives it
	// back.
	c.VolumeMounts = []VolumeMount{{Name: "data", Target: "/data"}, {Name: "h", Target: "/h"}}
	_, err = e.m.Create(context.Background(), &PodConfig{Name: "refused", Containers: []ContainerConfig{c}, Volumes: []Volume{
		{Name: "data", PersistentVolumeClaim: &ClaimVolume{ClaimName: "kept"}},
		{Name: "h", HostPath: &HostPathVolume{Path: "/nonexistent/podbox-claims", Type: "Directory"}},
	}})
	if err == nil {
		t.Fatal("a pod with a missing hostPath was created")
	}
	if vol, err := nv.Get("kept"); err != nil || len(vol.Pods) != 0 {
		t.Errorf("the claim after a refused pod: %+v %v", vol, err)
	}
	// Without layers or an image store an image volume is refused.
	_, err = e.m.Create(context.Background(), &PodConfig{Name: "nolayers", Containers: []ContainerConfig{e.container("c", "true")}, Volumes: []Volume{
		{Name: "img", Image: &ImageVolume{Reference: "content:v1"}},
	}})
	if err == nil || !strings.Contains(err.Error(), "volumes[0].image.layers: the image's layers are required") {
		t.Errorf("an image volume without layers: %v", err)
	}
}

func mountsNamed(e *testEnv) (*mounts.NamedVolumes, error) {
	return mounts.OpenNamedVolumes(e.opts.VolumeRoot)
}
