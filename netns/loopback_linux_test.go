package netns

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

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
