package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/testutil"
)

func TestNamedVolumes(t *testing.T) {
	root := filepath.Join(t.TempDir(), "volumes")
	nv, err := OpenNamedVolumes(root)
	if err != nil {
		t.Fatal(err)
	}
	podA, podB := t.TempDir(), t.TempDir()
	// Pods that start at once make the volume once and both hold it.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dir := podA
			if i%2 == 1 {
				dir = podB
			}
			_, errs[i] = nv.Acquire("data", fmt.Sprintf("key%d", i%2), "pod"+string(rune('a'+i%2)), dir)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	vol, err := nv.Get("data")
	if err != nil {
		t.Fatal(err)
	}
	if vol.Mountpoint != filepath.Join(root, "data", "_data") || !reflect.DeepEqual(vol.Pods, []string{"poda", "podb"}) {
		t.Errorf("volume: %+v", vol)
	}
	if st, err := os.Stat(vol.Mountpoint); err != nil || st.Mode().Perm() != 0o777 {
		t.Errorf("_data: %v %v", st.Mode(), err)
	}
	os.WriteFile(filepath.Join(vol.Mountpoint, "f"), []byte("x"), 0o644)
	err = nv.Remove("data")
	if !errors.Is(err, ErrVolumeInUse) || !errors.Is(err, errdefs.ErrFailedPrecondition) || !strings.Contains(err.Error(), "by pod poda, podb") {
		t.Errorf("remove in use: %v", err)
	}
	// A released lease and one whose pod directory is gone (a reboot
	// emptied the state root) no longer hold it.
	if err := nv.Release("data", "key0"); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(podB)
	if _, err := nv.Create("data"); !errors.Is(err, ErrVolumeExists) {
		t.Errorf("create of an existing volume: %v", err)
	}
	if vols, err := nv.List(); err != nil || len(vols) != 1 || len(vols[0].Pods) != 0 {
		t.Errorf("list: %+v %v", vols, err)
	}
	if err := nv.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := nv.Get("data"); !errors.Is(err, ErrVolumeNotFound) {
		t.Errorf("get after remove: %v", err)
	}
	// A symlink planted as a volume is not followed.
	outside := t.TempDir()
	os.Symlink(outside, filepath.Join(root, "planted"))
	if _, err := nv.Get("planted"); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Errorf("a symlinked volume: %v", err)
	}
	if _, err := nv.Acquire("planted", "k", "p", podA); err == nil {
		t.Error("acquired a symlinked volume")
	}
	if _, err := nv.Create("planted"); err == nil {
		t.Error("created a volume over a symlink")
	}
	if left, _ := os.ReadDir(outside); len(left) != 0 {
		t.Errorf("written through the symlink: %v", left)
	}
	for _, bad := range []string{"", "..", ".", "../x", "a/b", "A", strings.Repeat("a", 254), "-a"} {
		if _, err := nv.Create(bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Create(%q): %v", bad, err)
		}
		if _, err := nv.Acquire(bad, "k", "p", podA); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Acquire(%q): %v", bad, err)
		}
	}
	if _, err := nv.Acquire("ok", "../k", "p", podA); err == nil {
		t.Error("a lease key with a path was accepted")
	}
}

func TestMountImageVolume(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := testDir(t)
	var layers []string
	for _, f := range []string{"top", "bottom"} {
		l := filepath.Join(dir, "layer"+f)
		os.MkdirAll(filepath.Join(l, "d"), 0o755)
		os.WriteFile(filepath.Join(l, "d", f), []byte(f), 0o644)
		os.WriteFile(filepath.Join(l, "both"), []byte(f), 0o644)
		layers = append(layers, l)
	}
	for name, ls := range map[string][]string{"one": layers[1:], "two": layers} {
		target := ImageVolumePath(filepath.Join(dir, "pod"), name)
		if err := MountImageVolume(ls, target); err != nil {
			t.Fatal(err)
		}
		want := "bottom"
		if len(ls) == 2 {
			want = "top" // the topmost layer wins
			if _, err := os.Stat(filepath.Join(target, "d", "top")); err != nil {
				t.Errorf("%s: the upper layer's file: %v", name, err)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(target, "both")); string(b) != want {
			t.Errorf("%s: both = %q, want %q", name, b, want)
		}
		if err := os.WriteFile(filepath.Join(target, "new"), nil, 0o644); !errors.Is(err, unix.EROFS) {
			t.Errorf("%s: a write: %v, want EROFS", name, err)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(target, &st); err != nil || st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
			t.Errorf("%s: flags %#x %v, want nosuid,nodev", name, st.Flags, err)
		}
		if err := Unmount(target); err != nil {
			t.Fatal(err)
		}
	}
	if err := MountImageVolume([]string{"/a:b"}, filepath.Join(dir, "bad")); err == nil {
		t.Error("a layer with ':' was accepted")
	}
}
