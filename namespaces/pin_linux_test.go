package namespaces

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

// TestEnter: a function run in another UTS and network namespace sets the
// hostname there, starts a process born there, and leaves the caller's
// thread and the rest of the process where they were.
func TestEnter(t *testing.T) {
	testutil.RequiresRoot(t)
	cmd := exec.Command("sleep", "60")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS | syscall.CLONE_NEWNET}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	proc := "/proc/" + strconv.Itoa(cmd.Process.Pid) + "/ns/"
	host, _ := os.Hostname()
	var child *exec.Cmd
	err := Enter(map[string]string{"uts": proc + "uts", "net": proc + "net"}, func() error {
		if err := syscall.Sethostname([]byte("entered")); err != nil {
			return err
		}
		child = exec.Command("sleep", "60")
		return child.Start()
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	out, err := exec.Command("nsenter", "--uts="+proc+"uts", "hostname").Output()
	if err != nil || strings.TrimSpace(string(out)) != "entered" {
		t.Errorf("hostname in the namespace: %q, %v", out, err)
	}
	if now, _ := os.Hostname(); now != host {
		t.Errorf("the host's hostname changed to %q", now)
	}
	for _, kind := range []string{"uts", "net"} {
		want, _ := Inode(proc + kind)
		got, _ := Inode("/proc/" + strconv.Itoa(child.Process.Pid) + "/ns/" + kind)
		if got != want {
			t.Errorf("a process started in Enter is not in the %s namespace entered", kind)
		}
	}
	if err := Enter(map[string]string{"mnt": proc + "mnt"}, func() error { return nil }); err == nil {
		t.Error("Enter joined a mount namespace, which setns on a Go thread can not do safely")
	}
}
