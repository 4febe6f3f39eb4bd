package mounts

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

func TestOverlayAsData(t *testing.T) {
	m := Overlay("/img", "/run/podbox/c1")
	want := Mount{Type: "overlay", Source: "overlay", Target: "/run/podbox/c1/rootfs",
		Options: []string{"lowerdir=/img", "upperdir=/run/podbox/c1/upper", "workdir=/run/podbox/c1/work"}}
	if !reflect.DeepEqual(m, want) {
		t.Fatalf("Overlay = %+v, want %+v", m, want)
	}
	flags, data := Mount{Options: []string{"ro", "bind", "size=1m", "nosuid"}}.flags()
	if flags != flagOptions["ro"]|flagOptions["bind"]|flagOptions["nosuid"] || data != "size=1m" {
		t.Fatalf("flags = %#x, data = %q", flags, data)
	}
}

func TestMountErrorNamesTheMount(t *testing.T) {
	testutil.RequiresRoot(t)
	err := Mount{Type: "nosuchfs", Source: "x", Target: filepath.Join(t.TempDir(), "t"), Options: []string{"ro"}}.Mount()
	if err == nil {
		t.Fatal("mount of an unknown filesystem type succeeded")
	}
	for _, want := range []string{"mount nosuchfs", `"x"`, `(options "ro")`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestOverlayKeepsImageReadOnly(t *testing.T) {
	testutil.RequiresRoot(t)
	base := filepath.Join(os.TempDir(), testutil.Prefix(t))
	t.Cleanup(func() { os.RemoveAll(base) })
	lower := filepath.Join(base, "image")
	if err := os.MkdirAll(lower, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lower, "f"), []byte("image"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(base, "ctr")
	root, err := CreateOverlay(lower, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveOverlay(dir) })
	if err := os.WriteFile(filepath.Join(root, "f"), []byte("container"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(lower, "f")); string(b) != "image" {
		t.Fatalf("image layer changed to %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "f")); string(b) != "container" {
		t.Fatalf("container sees %q", b)
	}
	if err := RemoveOverlay(dir); err != nil {
		t.Fatal(err)
	}
	if err := RemoveOverlay(dir); err != nil {
		t.Fatalf("second RemoveOverlay: %v", err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("%s still exists", dir)
	}
	mounts, _ := os.ReadFile("/proc/self/mounts")
	if strings.Contains(string(mounts), dir) {
		t.Fatalf("overlay still mounted at %s", dir)
	}
	if _, err := CreateOverlay(filepath.Join(base, "missing"), dir); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing image: err = %v", err)
	}
}

func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/x\134y`: `/x\y`, `/end\`: `/end\`} {
		if got := unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestUnmountUnder(t *testing.T) {
	testutil.RequiresRoot(t)
	base := filepath.Join(os.TempDir(), testutil.Prefix(t))
	t.Cleanup(func() { UnmountUnder(base); os.RemoveAll(base) })
	for _, d := range []string{"a", "a/b"} {
		if err := (Mount{Type: "tmpfs", Source: "tmpfs", Target: filepath.Join(base, d), Options: []string{"size=1m"}}).Mount(); err != nil {
			t.Fatal(err)
		}
	}
	mps, err := MountsUnder(base)
	if err != nil || len(mps) != 2 || mps[0] != filepath.Join(base, "a/b") {
		t.Fatalf("MountsUnder = %v, %v", mps, err)
	}
	if err := UnmountUnder(base); err != nil {
		t.Fatal(err)
	}
	if mps, _ := MountsUnder(base); len(mps) != 0 {
		t.Fatalf("still mounted: %v", mps)
	}
}
