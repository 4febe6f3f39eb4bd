package netns

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

func TestPinOutlivesProcess(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := filepath.Join(os.TempDir(), testutil.Prefix(t))
	t.Cleanup(func() { os.RemoveAll(dir) })

	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/"

	for _, kind := range []string{"net", "uts"} {
		path := filepath.Join(dir, kind)
		if err := Pin(cmd.Process.Pid, kind, path); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { Unpin(path) })
		want, err := Inode(proc + kind)
		if err != nil {
			t.Fatal(err)
		}
		host, _ := Inode("/proc/self/ns/" + kind)
		if want == host {
			t.Fatalf("%s: the child shares the host namespace; test setup is wrong", kind)
		}
		got, err := Inode(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("%s: pinned inode %d, process namespace inode %d", kind, got, want)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()

	// The namespace outlives its last process: the pin is still nsfs and can
	// be joined by path.
	path := filepath.Join(dir, "net")
	if !IsPinned(path) {
		t.Fatal("net pin is gone after the process exited")
	}
	out, err := exec.Command("nsenter", "--net="+path, "cat", "/proc/net/dev").CombinedOutput()
	if err != nil {
		t.Fatalf("join pinned namespace: %v: %s", err, out)
	}
	if err := Unpin(path); err != nil {
		t.Fatal(err)
	}
	if err := Unpin(path); err != nil {
		t.Fatalf("second Unpin: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("pin file still there: %v", err)
	}
}

func TestPinMissingProcess(t *testing.T) {
	testutil.RequiresRoot(t)
	path := filepath.Join(t.TempDir(), "net")
	err := Pin(1<<22+7, "net", path)
	if err == nil {
		t.Fatal("pinning the namespace of a missing process succeeded")
	}
	if _, serr := os.Stat(path); !os.IsNotExist(serr) {
		t.Fatalf("failed Pin left %s behind", path)
	}
}

func TestLoopbackUp(t *testing.T) {
	testutil.RequiresRoot(t)
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	ns := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/net"
	if err := LoopbackUp(ns); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("nsenter", "--net="+ns, "ip", "-o", "link", "show", "lo").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "UP") {
		t.Fatalf("lo after LoopbackUp: %v %s", err, out)
	}
}
