package image

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

// TestBusyboxImage checks that hack/busybox-image.sh is reproducible and
// gives an image podbox can run: the same busybox, the same image ID.
func TestBusyboxImage(t *testing.T) {
	if _, err := exec.LookPath("busybox"); err != nil {
		t.Skip("busybox not installed (apt-get install busybox-static)")
	}
	script := filepath.Join(testutil.ModuleRoot(t), "hack", "busybox-image.sh")
	dir := t.TempDir()
	var tars [2][]byte
	for i := range tars {
		out := filepath.Join(dir, "busybox"+string(rune('0'+i))+".tar")
		cmd := exec.Command(script, out)
		cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", script, out, err, b)
		}
		tars[i], _ = os.ReadFile(out)
	}
	if !bytes.Equal(tars[0], tars[1]) {
		t.Fatal("two runs of busybox-image.sh gave different tarballs")
	}
	s := newStore(t)
	img, err := s.Import(ctx, "busybox", filepath.Join(dir, "busybox0.tar"))
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != "sha256:"+sha256Hex(tars[0]) {
		t.Errorf("ID %s, want the tarball's digest", img.ID)
	}
	r := img.Rootfs
	assertLink(t, r, "bin/sh", "busybox")
	assertLink(t, r, "bin/httpd", "busybox")
	assertFile(t, r, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n", 0o644)
	for rel, mode := range map[string]os.FileMode{
		"tmp": os.ModeDir | os.ModeSticky | 0o777, "root": os.ModeDir | 0o700, "proc": os.ModeDir | 0o755,
		"sys": os.ModeDir | 0o755, "dev": os.ModeDir | 0o755, "var/log": os.ModeDir | 0o755, "www": os.ModeDir | 0o755,
		"bin/busybox": 0o755,
	} {
		if fi, err := os.Lstat(filepath.Join(r, rel)); err != nil || fi.Mode() != mode {
			t.Errorf("%s: %v %v, want %v", rel, fi.Mode(), err, mode)
		}
	}
	out, err := exec.Command(filepath.Join(r, "bin/busybox"), "echo", "hello").Output()
	if err != nil || string(out) != "hello\n" {
		t.Errorf("bin/busybox echo hello: %q %v", out, err)
	}
}
