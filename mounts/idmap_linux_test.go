package mounts

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

// TestIDMappedOverlay: the image's root-owned files are seen as owned by
// the namespace's root, the image is never written, and RemoveOverlay of a
// container whose idmapped layer mounts a crash left behind unmounts them
// before it removes anything: the image survives.
func TestIDMappedOverlay(t *testing.T) {
	testutil.RequiresRoot(t)
	const host = 1 << 29
	u := testutil.UserNS(t, host)
	lower := filepath.Join(t.TempDir(), "img")
	os.MkdirAll(filepath.Join(lower, "etc"), 0o755)
	os.WriteFile(filepath.Join(lower, "etc", "f"), []byte("x"), 0o644)
	if err := CheckIDMap(lower, u); err != nil {
		if !errors.Is(err, ErrNoIDMap) {
			t.Fatal(err)
		}
		// This kernel can not: so says the overlay too, mounting nothing.
		dir := t.TempDir()
		if _, err := CreateOverlayIDMapped([]string{lower}, dir, "", u, host, host); !errors.Is(err, ErrNoIDMap) {
			t.Fatalf("overlay over a layer the kernel can not idmap: %v", err)
		}
		if mps, _ := MountsUnder(dir); len(mps) != 0 {
			t.Fatalf("left mounted: %v", mps)
		}
		return
	}
	dir := t.TempDir()
	root, err := CreateOverlayIDMapped([]string{lower}, dir, "", u, host, host)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"", "etc", "etc/f"} {
		fi, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if s := fi.Sys().(*syscall.Stat_t); s.Uid != host || s.Gid != host {
			t.Errorf("/%s seen owned by %d:%d, want %d (the namespace's root)", p, s.Uid, s.Gid, host)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "f"), []byte("y"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(lower, "etc", "f")); string(b) != "x" {
		t.Errorf("the image was written: %q", b)
	}
	if mps, _ := MountsUnder(filepath.Join(dir, "idmap")); len(mps) != 0 {
		t.Errorf("idmapped layers left mounted: %v", mps)
	}
	if err := RemoveOverlay(dir); err != nil {
		t.Fatal(err)
	}
	// A crash between the layer's mount and its removal.
	if err := IDMappedBind(lower, filepath.Join(dir, "idmap", "0"), u); err != nil {
		t.Fatal(err)
	}
	if err := RemoveOverlay(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(lower, "etc", "f")); err != nil {
		t.Fatalf("the image after removing a container: %v", err)
	}
}
