package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RunDetached runs the lifecycle in a monitor process of its own (this
// test binary, through the Init hook), which Stop and Remove reach.
func TestRunDetached(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.m.Create(ctx, &PodConfig{Name: "detached", Containers: []ContainerConfig{e.container("app", "sleep", "3600")}}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RunDetached(ctx, "detached", fastRestarts); err != nil {
		t.Fatal(err)
	}
	if err := e.m.WaitStarted(ctx, "detached", nil); err != nil {
		t.Fatal(err)
	}
	st, err := e.m.Status(ctx, "detached")
	if err != nil {
		t.Fatal(err)
	}
	if !st.MonitorDetached || st.MonitorPID == os.Getpid() || !alive(st.MonitorPID, st.MonitorStart) || st.Phase != PhaseRunning {
		t.Fatalf("after RunDetached: monitor %d (detached %v), phase %s", st.MonitorPID, st.MonitorDetached, st.Phase)
	}
	// A second lifecycle is refused.
	if err := e.m.RunDetached(ctx, "detached", fastRestarts); !errors.Is(err, ErrRunning) {
		t.Errorf("a second RunDetached of a running pod: %v", err)
	}
	if err := e.m.Stop(ctx, "detached", 0); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the monitor to exit", func() bool { return !alive(st.MonitorPID, st.MonitorStart) })
	if st, _ := e.m.Status(ctx, "detached"); st.Phase != PhaseStopped {
		t.Errorf("after Stop: %s", st.Phase)
	}
}

// A pod whose embedder died (SIGKILL) while running it in-process is
// Unknown; Recover takes it on again: its running container is adopted,
// not restarted, and one that ends afterwards is restarted by its policy.
func TestRecoverAfterEmbedderDied(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	cmd, _ := e.startEmbedder("1")
	if err := e.m.WaitStarted(ctx, "other", nil); err != nil {
		t.Fatal(err)
	}
	before, _ := e.m.Status(ctx, "other")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	waitFor(t, 10*time.Second, "the pod to be Unknown", func() bool {
		st, err := e.m.Status(ctx, "other")
		return err == nil && st.Phase == PhaseUnknown
	})
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.m.Recover(rctx, "other", fastRestarts) }()
	waitFor(t, 10*time.Second, "the pod to be Running again", func() bool {
		st, err := e.m.Status(ctx, "other")
		return err == nil && st.Phase == PhaseRunning && st.MonitorPID == os.Getpid()
	})
	st, _ := e.m.Status(ctx, "other")
	if c := st.Containers[0]; c.PID != before.Containers[0].PID || c.RestartCount != 0 || c.State != StateRunning {
		t.Errorf("recovered container: pid %d (was %d), restarts %d, %s; want it adopted", c.PID, before.Containers[0].PID, c.RestartCount, c.State)
	}
	if err := e.m.Recover(ctx, "other", fastRestarts); err == nil {
		t.Error("a second Recover was accepted")
	}
	// The adopted container ends: restarted by the policy (Always).
	if err := e.m.Signal(ctx, "other", "app", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the adopted container's restart", func() bool {
		st, err := e.m.Status(ctx, "other")
		return err == nil && st.Containers[0].RestartCount == 1 && st.Containers[0].State == StateRunning
	})
	st, _ = e.m.Status(ctx, "other")
	if lt := st.Containers[0].LastTermination; lt == nil || lt.Reason != ReasonUnknown {
		t.Errorf("the adopted container's end: %+v; want reason Unknown", lt)
	}
	if err := e.m.Stop(ctx, "other", 0); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Recover: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Recover did not return after Stop")
	}
}

// A Pending pod (an init container still running) whose lifecycle died
// begins again under Recover: its init container is started anew.
func TestRecoverPendingPod(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	cmd, _ := e.startEmbedder("init")
	waitFor(t, 20*time.Second, "the init container to run", func() bool {
		st, err := e.m.Status(ctx, "other")
		return err == nil && len(st.InitContainers) == 1 && st.InitContainers[0].State == StateRunning
	})
	before, _ := e.m.Status(ctx, "other")
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.m.Recover(rctx, "other", fastRestarts) }()
	waitFor(t, 20*time.Second, "the init container to run again", func() bool {
		st, err := e.m.Status(ctx, "other")
		return err == nil && st.MonitorPID == os.Getpid() && st.InitContainers[0].State == StateRunning && st.InitContainers[0].RestartCount == 1
	})
	st, _ := e.m.Status(ctx, "other")
	if st.Phase != PhasePending || st.InitContainers[0].PID == before.InitContainers[0].PID || alive(before.InitContainers[0].PID, 0) {
		t.Errorf("recovered Pending pod: %s, init pid %d (was %d, alive %v)", st.Phase, st.InitContainers[0].PID, before.InitContainers[0].PID, alive(before.InitContainers[0].PID, 0))
	}
	if err := e.m.Stop(ctx, "other", 0); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Errorf("Recover: %v", err)
	}
}

// A pod that completes between Status's read of its state and its look at
// its processes is Succeeded, not Unknown for a monitor that died: the
// lifecycle records the pod's end before its monitor goes. (A pod of one
// quick container was reported Unknown by podbox run under load.)
func TestStatusPodEndsMeanwhile(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if _, err := e.m.Create(ctx, &PodConfig{Name: "ends", Containers: []ContainerConfig{e.container("c", "true")}}); err != nil {
		t.Fatal(err)
	}
	// A stand-in for the pod's monitor, recorded as running the pod.
	mon := exec.Command("sleep", "60")
	if err := mon.Start(); err != nil {
		t.Fatal(err)
	}
	ended := false
	t.Cleanup(func() {
		if !ended {
			mon.Process.Kill()
			mon.Wait()
		}
	})
	start, err := processStart(mon.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	dir := e.m.podDir("ends")
	st, err := readState(dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Phase, st.MonitorPID, st.MonitorStart = PhaseRunning, mon.Process.Pid, start
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { testHookStatus = nil })
	testHookStatus = func(pod string) {
		if pod != "ends" || ended {
			return
		}
		// What the lifecycle does as the pod completes: it records the
		// end, then it and its monitor exit.
		ended = true
		st.Phase, st.MonitorPID, st.MonitorStart = PhaseSucceeded, 0, 0
		if err := writeState(dir, st); err != nil {
			t.Error(err)
		}
		mon.Process.Kill()
		mon.Wait()
	}
	if got, err := e.m.Status(ctx, "ends"); err != nil || got.Phase != PhaseSucceeded {
		t.Errorf("Status of a pod that completed meanwhile: %v, %s; want Succeeded", err, phaseOf(got))
	}
	// A monitor that really died is still seen: the pod is Unknown.
	st.Phase, st.MonitorPID, st.MonitorStart = PhaseRunning, mon.Process.Pid, start
	if err := writeState(dir, st); err != nil {
		t.Fatal(err)
	}
	if got, err := e.m.Status(ctx, "ends"); err != nil || got.Phase != PhaseUnknown || !strings.Contains(got.Message, "monitor") {
		t.Errorf("Status of a pod whose monitor died: %v, %s; want Unknown", err, phaseOf(got))
	}
}

// phaseOf is a pod's phase and message, for a test's error.
func phaseOf(st *PodStatus) string {
	if st == nil {
		return "no status"
	}
	return fmt.Sprintf("%s (%q)", st.Phase, st.Message)
}
