package image

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A lease keeps an image's layers through Remove, Untag and re-imports of
// its tag, and they go once it is released.
func TestLeaseKeepsContentInUse(t *testing.T) {
	s := newStore(t)
	v1 := writeFile(t, filepath.Join(t.TempDir(), "v1.tar"), tarBytes(t, file("version", "1")))
	v2 := writeFile(t, filepath.Join(t.TempDir(), "v2.tar"), tarBytes(t, file("version", "2")))
	img, err := s.Import(ctx, "app", v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddLease("pod-a", "team/web", img); err != nil {
		t.Fatal(err)
	}
	err = s.Remove("app")
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "team/web") {
		t.Errorf("Remove of an image in use: %v, want ErrInUse naming team/web", err)
	}
	// Re-importing the tag moves it; the content the pod uses stays.
	if _, err := s.Import(ctx, "app", v2); err != nil {
		t.Fatal(err)
	}
	assertFile(t, img.Rootfs, "version", "1", 0)
	if err := s.Remove("app"); err != nil {
		t.Errorf("Remove of the re-imported tag, which no pod uses: %v", err)
	}
	// Untag of an image in use: the name goes, the content stays.
	again, err := s.Import(ctx, "again", v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddLease("pod-b", "b", again); err != nil {
		t.Fatal(err)
	}
	if err := s.Untag("again"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("again"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Untag: %v", err)
	}
	assertFile(t, img.Rootfs, "version", "1", 0)
	if err := s.Release("pod-a"); err != nil {
		t.Fatal(err)
	}
	assertFile(t, img.Rootfs, "version", "1", 0) // pod-b still holds it
	if err := s.Release("pod-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(img.Rootfs); !os.IsNotExist(err) {
		t.Errorf("layer of no image and no pod still there: %v", err)
	}
	assertClean(t, s, 0)
	if err := s.Release("pod-b"); err != nil {
		t.Errorf("second Release: %v", err)
	}
	if err := s.AddLease("../x", "x", again); err == nil {
		t.Error("a lease key with a slash was accepted")
	}
	if err := s.AddLease("pod-c", "c", again); !errors.Is(err, ErrNotFound) {
		t.Errorf("lease of an image whose layers are gone: %v, want ErrNotFound", err)
	}
}

// A store of the older layout (names/ symlinks into content/) is
// converted when opened: the images are kept, as one layer each.
func TestOpenConvertsOldStore(t *testing.T) {
	root := filepath.Join(t.TempDir(), "images")
	for _, d := range []string{"names", "content/abc/rootfs/etc", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(root, "content/abc/rootfs/etc/hostname"), []byte("old\n"))
	writeFile(t, filepath.Join(root, "content/abc/image.json"), []byte(`{"name":"busybox:latest","id":"sha256:`+strings.Repeat("1", 64)+`","created":"2026-01-02T03:04:05Z","size":4096,"config":{"cmd":["sh"]}}`))
	if err := os.Symlink("../content/abc", filepath.Join(root, "names", "busybox:latest")); err != nil {
		t.Fatal(err)
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Get("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != "sha256:"+strings.Repeat("1", 64) || len(img.Layers) != 1 || img.Config.Cmd[0] != "sh" || img.Created.Year() != 2026 {
		t.Errorf("converted image %+v", img)
	}
	assertFile(t, img.Rootfs, "etc/hostname", "old\n", 0)
	for _, d := range []string{"names", "content"} {
		if _, err := os.Stat(filepath.Join(root, d)); !os.IsNotExist(err) {
			t.Errorf("%s/ still there after the conversion: %v", d, err)
		}
	}
}
