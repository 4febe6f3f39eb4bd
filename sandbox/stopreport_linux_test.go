package sandbox

import (
	"context"
	"strings"
	"testing"
	"time"
)

// A stop that was asked for is reported as one: reason Stopped, the
// container's own exit code, and whether the grace period ran out.
func TestStopReportsStopped(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	e.run(&PodConfig{Name: "stopped", Containers: []ContainerConfig{
		e.container("polite", "sh", "-c", "trap 'exit 3' TERM; touch /trapped; while :; do sleep 0.1; done"),
		e.container("deaf", "sleep", "3600"), // PID 1 without a handler: SIGTERM is ignored
	}})
	// Until its trap is set, the shell is a PID 1 without a handler too.
	waitFor(t, 10*time.Second, "polite's trap", func() bool {
		_, code := e.exec("stopped", "polite", "test", "-e", "/trapped")
		return code == 0
	})
	if err := e.m.Stop(ctx, "stopped", time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := e.m.Status(ctx, "stopped")
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseStopped || st.Message != "stopped on request" {
		t.Errorf("phase %s, message %q; want Stopped, stopped on request", st.Phase, st.Message)
	}
	want := map[string]ContainerStatus{
		"polite": {ExitCode: 3, Message: "stopped on request: exited after SIGTERM"},
		"deaf":   {ExitCode: 137, Message: "stopped on request: killed after the 1s grace period"},
	}
	for _, cs := range st.Containers {
		w := want[cs.Name]
		if cs.State != StateTerminated || cs.Reason != ReasonStopped || cs.ExitCode != w.ExitCode || cs.Message != w.Message {
			t.Errorf("%s: %s %s exit %d %q; want terminated, Stopped, %d, %q", cs.Name, cs.State, cs.Reason, cs.ExitCode, cs.Message, w.ExitCode, w.Message)
		}
	}
}

// A stop right after the start finds containers that libcontainer has
// released but that have not executed their program yet: each still gets
// its program's answer to SIGTERM (here: none, so killed after the grace
// period), never the exit code 2 of libcontainer's init dying of it.
func TestStopRightAfterStart(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	var ctrs []ContainerConfig
	for _, n := range []string{"a", "b", "c", "d"} {
		ctrs = append(ctrs, e.container(n, "sleep", "3600"))
	}
	e.run(&PodConfig{Name: "brief", Containers: ctrs})
	if err := e.m.Stop(ctx, "brief", time.Second); err != nil {
		t.Fatal(err)
	}
	st, err := e.m.Status(ctx, "brief")
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range st.Containers {
		if cs.ExitCode != 137 || cs.Message != "stopped on request: killed after the 1s grace period" {
			t.Errorf("%s: exit %d %q; want 137, killed after the grace period", cs.Name, cs.ExitCode, cs.Message)
		}
	}
}

// Start (and WaitStarted) give up on a pod whose init container is in
// CrashLoopBackOff, with its last log lines, instead of waiting through
// ever longer backoffs.
func TestStartGivesUpOnCrashLoop(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	ctx := context.Background()
	cfg := &PodConfig{Name: "looping",
		InitContainers: []ContainerConfig{e.container("setup", "sh", "-c", "echo no database; exit 1")},
		Containers:     []ContainerConfig{e.container("app", "sleep", "3600")},
	}
	if _, err := e.m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	err := e.m.Start(ctx, "looping", fastRestarts)
	if err == nil || !strings.Contains(err.Error(), `init container "setup" is in CrashLoopBackOff (exit code 1, Error; restart count 1)`) ||
		!strings.Contains(err.Error(), "\n  no database") {
		t.Fatalf("Start of a pod whose init container keeps failing: %v", err)
	}
}
