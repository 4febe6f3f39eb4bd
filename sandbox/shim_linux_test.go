package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
)

// newShimEnv is a test env whose detached monitors are podbox-shim, which
// starts this test binary as each pod's lifecycle.
func newShimEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnvWith(t, func(o *Options) { o.ShimBinary = testutil.Binary(t, "podbox-shim") })
	// What the shims and their lifecycles said, for a failure's story.
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		for _, name := range []string{monitorLog, stateFile} {
			files, _ := filepath.Glob(filepath.Join(e.opts.Root, "pods", "*", name))
			for _, f := range files {
				b, _ := os.ReadFile(f)
				t.Logf("%s:\n%s", f, b)
			}
		}
	})
	return e
}

// lifecyclesOf lists the processes of this test binary that are children of
// the shim: the pod's lifecycle while it runs.
func lifecyclesOf(t *testing.T, shim int) []int {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, pid := range testutil.Children(shim) {
		if exe, _ := os.Readlink("/proc/" + strconv.Itoa(pid) + "/exe"); exe == self {
			pids = append(pids, pid)
		}
	}
	return pids
}

// shimPod starts a pod whose container prints "start", exits 3 on
// SIGUSR1 and prints "poke" on SIGUSR2, under a shim, and waits until the
// lifecycle left it to the shim.
func (e *testEnv) shimPod(name string) *PodStatus {
	e.t.Helper()
	ctx := context.Background()
	// "start" once the traps are set: a signal before that is lost (the
	// shell is its PID namespace's init, which ignores it).
	script := `trap 'exit 3' USR1; trap 'echo poke' USR2; echo start; while :; do sleep 0.05; done`
	if _, err := e.m.Create(ctx, &PodConfig{Name: name, Containers: []ContainerConfig{e.container("app", "sh", "-c", script)}}); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.RunDetached(ctx, name, fastRestarts); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.WaitStarted(ctx, name, nil); err != nil {
		e.t.Fatal(err)
	}
	st, err := e.m.Status(ctx, name)
	if err != nil {
		e.t.Fatal(err)
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(st.MonitorPID) + "/exe"); err != nil || filepath.Base(exe) != "podbox-shim" {
		e.t.Fatalf("the pod's monitor (pid %d) runs %q (%v), want podbox-shim", st.MonitorPID, exe, err)
	}
	e.waitIdle(st.MonitorPID)
	waitStartLine(e.t, 10*time.Second, "the container's traps", st.Containers[0].LogPath)
	return st
}

// waitStartLine waits until the container log at path holds the line
// "start" that shimPod's container prints once its traps are set.
func waitStartLine(t *testing.T, d time.Duration, what, path string) {
	t.Helper()
	waitFor(t, d, what, func() bool {
		b, _ := os.ReadFile(path)
		return strings.Contains(string(b), " stdout F start\n")
	})
}

func (e *testEnv) waitIdle(shim int) {
	e.t.Helper()
	waitFor(e.t, 10*time.Second, "the lifecycle to leave the pod to its shim", func() bool { return len(lifecyclesOf(e.t, shim)) == 0 })
}

// Under a shim the lifecycle leaves a running pod; the shim collects the
// container's end and starts a lifecycle, which restarts it with its real
// exit status and goes on with its backoff; the output of every instance
// reaches its log; ReopenLog and Stop work while no lifecycle runs.
func TestShimIdleLifecycle(t *testing.T) {
	e := newShimEnv(t)
	ctx := context.Background()
	st := e.shimPod("idle")
	shim := st.MonitorPID
	first := st.Containers[0]

	// An end that no lifecycle saw: the shim tells the next one its status.
	if err := e.m.Signal(ctx, "idle", "app", syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var cs ContainerStatus
	waitFor(t, 10*time.Second, "the container restarted", func() bool {
		st, err := e.m.Status(ctx, "idle")
		if err != nil {
			return false
		}
		cs = st.Containers[0]
		return cs.RestartCount == 1 && cs.State == StateRunning
	})
	if lt := cs.LastTermination; lt == nil || lt.ExitCode != 3 || lt.Reason != ReasonError {
		t.Errorf("last termination %+v, want exit code 3, reason %s (the status the shim collected)", lt, ReasonError)
	}
	if cs.Backoff != fastRestarts.BackoffBase {
		t.Errorf("backoff after the first restart: %s, want %s", cs.Backoff, fastRestarts.BackoffBase)
	}
	b, err := os.ReadFile(first.LogPath)
	if err != nil || !strings.Contains(string(b), " stdout F start\n") {
		t.Errorf("first instance's log %s: %q, %v", first.LogPath, b, err)
	}
	e.waitIdle(shim)
	waitStartLine(t, 10*time.Second, "the second instance's traps", cs.LogPath)

	// Again: a new lifecycle goes on with the backoff the last one left.
	if err := e.m.Signal(ctx, "idle", "app", syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the second restart", func() bool {
		st, err := e.m.Status(ctx, "idle")
		if err != nil {
			return false
		}
		cs = st.Containers[0]
		return cs.RestartCount == 2 && cs.State == StateRunning
	})
	if want := 2 * fastRestarts.BackoffBase; cs.Backoff != want {
		t.Errorf("backoff after the second restart: %s, want %s (doubled from the one the previous lifecycle kept)", cs.Backoff, want)
	}
	e.waitIdle(shim)
	waitStartLine(t, 5*time.Second, "the third instance's output", cs.LogPath)

	// ReopenLog, answered by the shim, which writes the log.
	aside := cs.LogPath + ".aside"
	if err := os.Rename(cs.LogPath, aside); err != nil {
		t.Fatal(err)
	}
	if err := e.m.ReopenLog(ctx, "idle", "app"); err != nil {
		t.Fatalf("ReopenLog with no lifecycle running: %v", err)
	}
	if err := e.m.Signal(ctx, "idle", "app", syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "poke in the reopened log", func() bool {
		b, _ := os.ReadFile(cs.LogPath)
		return strings.Contains(string(b), " stdout F poke\n")
	})
	if b, _ := os.ReadFile(aside); strings.Contains(string(b), "poke") {
		t.Errorf("the log renamed aside got output after ReopenLog: %q", b)
	}
	e.waitIdle(shim)

	// Stop: the shim starts a lifecycle, which stops the pod and ends; so
	// does the shim.
	if err := e.m.Stop(ctx, "idle", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = e.m.Status(ctx, "idle")
	if err != nil || st.Phase != PhaseStopped || st.Containers[0].State != StateTerminated {
		t.Fatalf("after Stop: %+v, %v", st, err)
	}
	waitFor(t, 10*time.Second, "the shim to exit", func() bool { return !alive(shim, 0) })
}

// The pause dies while no lifecycle runs: the shim starts one, which
// starts the pause again. That pause dying at once too fails the pod
// rather than being started again and again.
func TestShimPauseDies(t *testing.T) {
	e := newShimEnv(t)
	ctx := context.Background()
	st := e.shimPod("pausedies")
	if err := syscall.Kill(st.PausePID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var now *PodStatus
	waitFor(t, 10*time.Second, "a new pause", func() bool {
		var err error
		now, err = e.m.Status(ctx, "pausedies")
		return err == nil && now.PausePID != st.PausePID && alive(now.PausePID, now.PauseStart) && now.Phase == PhaseRunning
	})
	e.waitIdle(st.MonitorPID)
	if now.PauseRestarts != 1 {
		t.Errorf("pauseRestarts %d, want 1", now.PauseRestarts)
	}
	if err := syscall.Kill(now.PausePID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the pod to fail", func() bool {
		now, _ = e.m.Status(ctx, "pausedies")
		return now != nil && now.Phase == PhaseFailed
	})
	if !strings.HasPrefix(now.Message, "the pod's pause died again ") {
		t.Errorf("after the restarted pause died: message %q, want the pause's death", now.Message)
	}
}

// A killed shim takes its lifecycle with it (never one running unseen):
// the pod is Unknown, as with a killed monitor, and RecoverDetached
// adopts its running container.
func TestShimKilled(t *testing.T) {
	e := newShimEnv(t)
	ctx := context.Background()
	st := e.shimPod("shimkilled")
	// A lifecycle running at the time goes too.
	if err := e.m.Signal(ctx, "shimkilled", "app", syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a lifecycle", func() bool { return len(lifecyclesOf(t, st.MonitorPID)) > 0 })
	lc := lifecyclesOf(t, st.MonitorPID)
	if err := syscall.Kill(st.MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the lifecycle to die with its shim", func() bool {
		for _, pid := range lc {
			if alive(pid, 0) {
				return false
			}
		}
		return true
	})
	waitFor(t, 10*time.Second, "the pod to be Unknown", func() bool {
		now, err := e.m.Status(ctx, "shimkilled")
		return err == nil && now.Phase == PhaseUnknown
	})
	if err := e.m.RecoverDetached(ctx, "shimkilled", fastRestarts); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the pod Running under a new shim", func() bool {
		now, err := e.m.Status(ctx, "shimkilled")
		return err == nil && now.Phase == PhaseRunning && now.MonitorPID != st.MonitorPID && now.Containers[0].State == StateRunning
	})
}

// A pod with a probe keeps its lifecycle (it runs the probe), which joins
// its shim's cgroup once the pod started, outside the caller's.
func TestShimLifecycleStays(t *testing.T) {
	e := newShimEnv(t)
	ctx := context.Background()
	app := e.container("app", "sleep", "3600")
	app.ReadinessProbe = &Probe{Exec: &ExecAction{Command: []string{"true"}}, PeriodSeconds: 1}
	if _, err := e.m.Create(ctx, &PodConfig{Name: "stays", Containers: []ContainerConfig{app}}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RunDetached(ctx, "stays", fastRestarts); err != nil {
		t.Fatal(err)
	}
	if err := e.m.WaitStarted(ctx, "stays", nil); err != nil {
		t.Fatal(err)
	}
	st, err := e.m.Status(ctx, "stays")
	if err != nil {
		t.Fatal(err)
	}
	cgroupOf := func(pid int) string {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		return string(b)
	}
	shimCgroup := cgroupOf(st.MonitorPID)
	if !strings.Contains(shimCgroup, ".monitor") {
		t.Fatalf("the shim's cgroups:\n%s\nwant the pod's monitor cgroup", shimCgroup)
	}
	waitFor(t, 10*time.Second, "the lifecycle in its shim's cgroup", func() bool {
		lc := lifecyclesOf(t, st.MonitorPID)
		return len(lc) == 1 && cgroupOf(lc[0]) == shimCgroup
	})
	waitFor(t, 10*time.Second, "the app ready", func() bool {
		st, err := e.m.Status(ctx, "stays")
		return err == nil && !st.Containers[0].NotReady
	})
	// It stays: the probe is its to run.
	time.Sleep(500 * time.Millisecond)
	if lc := lifecyclesOf(t, st.MonitorPID); len(lc) != 1 {
		t.Errorf("lifecycles of a pod with a readiness probe: %v, want one", lc)
	}
}

// A container in its restart backoff is the shim's to wait for: the
// lifecycle leaves, the shim starts one again when the backoff ends, and
// that one restarts the container then (not at once, not after another
// backoff).
func TestShimCrashLoopIdle(t *testing.T) {
	e := newShimEnv(t)
	ctx := context.Background()
	if _, err := e.m.Create(ctx, &PodConfig{Name: "crashloop", Containers: []ContainerConfig{e.container("app", "sh", "-c", "exit 1")}}); err != nil {
		t.Fatal(err)
	}
	slow := RunOptions{BackoffBase: 3 * time.Second, BackoffMax: 6 * time.Second}
	if err := e.m.RunDetached(ctx, "crashloop", slow); err != nil {
		t.Fatal(err)
	}
	var cs ContainerStatus
	var shim int
	// The first restart is at once; the second waits 3 s.
	waitFor(t, 20*time.Second, "the first backoff", func() bool {
		st, err := e.m.Status(ctx, "crashloop")
		if err != nil {
			return false
		}
		cs, shim = st.Containers[0], st.MonitorPID
		return cs.RestartCount == 1 && cs.State == StateWaiting && cs.Reason == ReasonCrashLoopBackOff
	})
	restartAt := cs.RestartAt
	if restartAt.IsZero() || cs.Backoff != 2*slow.BackoffBase {
		t.Errorf("in its backoff: restartAt %v, backoff %s; want a time, and %s next", restartAt, cs.Backoff, 2*slow.BackoffBase)
	}
	e.waitIdle(shim)
	if time.Now().After(restartAt) {
		t.Logf("the lifecycle left after the backoff's end (%v): slow machine", restartAt)
	}
	waitFor(t, 20*time.Second, "the second restart", func() bool {
		st, err := e.m.Status(ctx, "crashloop")
		if err != nil {
			return false
		}
		cs = st.Containers[0]
		return cs.RestartCount == 2
	})
	started := cs.StartedAt
	if cs.State == StateWaiting && cs.LastTermination != nil {
		started = cs.LastTermination.StartedAt
	}
	if started.Before(restartAt.Add(-50 * time.Millisecond)) {
		t.Errorf("restarted at %v, before its backoff ended at %v", started, restartAt)
	}
	// Not after another backoff (6 s), as a lifecycle that took the
	// waiting container for one that just ended would.
	if late := restartAt.Add(testutil.Wait(2 * time.Second)); started.After(late) {
		t.Errorf("restarted at %v, long after its backoff ended at %v", started, restartAt)
	}
}
