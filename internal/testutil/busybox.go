package testutil

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var (
	busyboxOnce sync.Once
	busyboxDir  string
	busyboxErr  error
)

// BusyboxRootfs returns a root filesystem directory holding Debian's static
// busybox with a link for every applet, made once per test process and
// removed when the process exits only by the OS (it lives in a temp dir that
// tests must treat as read-only: containers get an overlay on top).
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	dir, err := BusyboxRootfsDir()
	if err != nil {
		t.Fatalf("busybox root filesystem: %v", err)
	}
	return dir
}

// BusyboxRootfsDir is BusyboxRootfs for callers without a testing.TB.
func BusyboxRootfsDir() (string, error) {
	busyboxOnce.Do(func() {
		var dir string
		dir, busyboxErr = os.MkdirTemp("", "podbox-busybox-")
		if busyboxErr != nil {
			return
		}
		busyboxErr = MakeBusyboxRootfs(dir)
		busyboxDir = dir
	})
	return busyboxDir, busyboxErr
}

// MakeBusyboxRootfs lays out a minimal busybox root filesystem in dir from
// the host's /bin/busybox (Debian package busybox-static).
func MakeBusyboxRootfs(dir string) error {
	bb, err := exec.LookPath("busybox")
	if err != nil {
		return err
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "root", "var/log", "www"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	data, err := os.ReadFile(bb)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "busybox"), data, 0o755); err != nil {
		return err
	}
	out, err := exec.Command(bb, "--list").Output()
	if err != nil {
		return err
	}
	for _, applet := range strings.Fields(string(out)) {
		if applet == "busybox" {
			continue
		}
		if err := os.Symlink("busybox", filepath.Join(dir, "bin", applet)); err != nil && !os.IsExist(err) {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// RemoveBusyboxRootfs removes the directory BusyboxRootfs made, if any. Call
// it from TestMain after m.Run.
func RemoveBusyboxRootfs() {
	if busyboxDir != "" {
		os.RemoveAll(busyboxDir)
	}
}
