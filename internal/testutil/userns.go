package testutil

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
)

// UserNS is a throwaway user namespace mapping IDs 0-65535 to hostID and
// up, held by a process that ends with the test.
func UserNS(t testing.TB, hostID int) *os.File {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	m := []syscall.SysProcIDMap{{ContainerID: 0, HostID: hostID, Size: 65536}}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER, UidMappings: m, GidMappings: m}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	f, err := os.Open(fmt.Sprintf("/proc/%d/ns/user", cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// IDMapRefused says whether the running kernel refuses to idmap one of
// paths' filesystems (tmpfs before Linux 6.3, virtiofs, overlay...), as
// check (mounts.CheckIDMap) finds it, through a throwaway user namespace:
// the error, wrapping refused, saying which; nil when it can idmap them
// all. hostUsers: false pods need it; a test asserts their refusal where
// it is refused.
func IDMapRefused(t testing.TB, check func(string, *os.File) error, refused error, paths ...string) error {
	t.Helper()
	u := UserNS(t, 1<<30)
	for _, p := range paths {
		if err := check(p, u); err != nil {
			if !errors.Is(err, refused) {
				t.Fatal(err)
			}
			return err
		}
	}
	return nil
}
