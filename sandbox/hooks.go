package sandbox

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Lifecycle is Kubernetes' container lifecycle: hooks run after the start
// and before the stop, and the signal that asks it to stop.
type Lifecycle struct {
	// PostStart runs once the container's process has started. The
	// container counts as started (and its probes begin, and the next
	// container starts) only once it has returned; if it fails, the
	// container is killed and restarted per the restart policy.
	PostStart *LifecycleHandler `json:"postStart,omitempty"`
	// PreStop runs before the stop signal whenever the container is
	// stopped (pod stop, a failed liveness or startup probe), within the
	// grace period.
	PreStop *LifecycleHandler `json:"preStop,omitempty"`
	// StopSignal is sent instead of SIGTERM ("SIGUSR1", "SIGQUIT"...).
	StopSignal string `json:"stopSignal,omitempty"`
}

// LifecycleHandler is a hook's action: exactly one is set.
type LifecycleHandler struct {
	Exec    *ExecAction    `json:"exec,omitempty"`
	HTTPGet *HTTPGetAction `json:"httpGet,omitempty"`
	Sleep   *SleepAction   `json:"sleep,omitempty"`
}

// SleepAction waits Seconds (in podbox's monitor, not in the container).
type SleepAction struct {
	Seconds int64 `json:"seconds"`
}

func (h *LifecycleHandler) action() action {
	return action{exec: h.Exec, httpGet: h.HTTPGet, sleep: h.Sleep}
}

// stopSignal is the signal that asks the container to stop: its
// lifecycle's StopSignal, else SIGTERM.
func (c *ContainerConfig) stopSignal() unix.Signal {
	if c.Lifecycle != nil && c.Lifecycle.StopSignal != "" {
		if s := unix.SignalNum(c.Lifecycle.StopSignal); s != 0 {
			return s
		}
	}
	return unix.SIGTERM
}

// ValidSignal reports whether name is a signal podbox can send ("SIGUSR1").
func ValidSignal(name string) bool { return unix.SignalNum(name) != 0 }

// hookResult says how a container instance's postStart hook ended.
type hookResult struct {
	name string
	pid  int
	err  error
}

// postStart runs the instance's postStart hook and reports its end; the
// hook is cut short if the container exits meanwhile.
func (r *runner) postStart(in *instance, t *target, h *LifecycleHandler) {
	ctx, cancel := in.cut(context.WithCancel(context.Background()))
	defer cancel()
	err := t.run(ctx, h.action())
	select {
	case r.hooks <- hookResult{name: in.name, pid: in.pid, err: err}:
	case <-r.quit:
	}
}

// minPreStopGrace is what the container still gets after a preStop hook
// that used up the grace period, as the kubelet's 2 s.
const minPreStopGrace = 2 * time.Second

// stopInstance ends a container instance as the kubelet kills one: the
// preStop hook (within grace), then the stop signal, then SIGKILL when
// the grace period is over. It returns at once; the instance's exit comes
// on r.exits. An instance already being stopped is left to that stop.
func (r *runner) stopInstance(in *instance, cfg *ContainerConfig, grace time.Duration) {
	if in.stopping {
		return
	}
	in.stopping = true
	if in.cancelProbes != nil {
		in.cancelProbes()
	}
	var preStop *LifecycleHandler
	if cfg.Lifecycle != nil {
		preStop = cfg.Lifecycle.PreStop
	}
	t := newTarget(r.m, r.st, cfg)
	sig := cfg.stopSignal()
	go func() {
		deadline := time.Now().Add(grace)
		if preStop != nil && grace > 0 {
			ctx, cancel := in.cut(context.WithDeadline(context.Background(), deadline))
			err := t.run(ctx, preStop.action())
			cancel()
			if err != nil {
				r.logf("preStop hook of container %q: %v", in.name, err)
			}
			deadline = later(deadline, time.Now().Add(minPreStopGrace))
		}
		in.waitExec(deadline)
		in.c.Signal(sig)
		timer := time.NewTimer(time.Until(deadline))
		defer timer.Stop()
		select {
		case <-in.done:
		case <-timer.C:
			in.killed.Store(true)
			in.c.Signal(unix.SIGKILL)
		}
	}()
}

// initComm is the name libcontainer's nsenter gives a container's process
// until it executes the container's program.
const initComm = "runc:[2:INIT]"

// waitExec waits, until deadline, for the instance's process to have
// executed the container's program. libcontainer's Run returns once the
// process is released to do so, but it is still libcontainer's init for a
// moment: a Go program that, as the PID 1 of its PID namespace, turns a
// SIGTERM into exit code 2 instead of letting the program handle (or
// ignore) it, so a stop right after a start must wait for the exec.
func (in *instance) waitExec(deadline time.Time) {
	comm := fmt.Sprintf("/proc/%d/comm", in.pid)
	for {
		b, err := os.ReadFile(comm)
		if err != nil || strings.TrimSpace(string(b)) != initComm || !time.Now().Before(deadline) {
			return
		}
		select {
		case <-in.done:
			return
		case <-time.After(time.Millisecond):
		}
	}
}

// cut makes ctx end when the instance's process does too.
func (in *instance) cut(ctx context.Context, cancel context.CancelFunc) (context.Context, context.CancelFunc) {
	go func() {
		select {
		case <-in.done:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// probeGrace is the grace period of a kill that a failed liveness or
// startup probe causes: the probe's own, else the pod's.
func (r *runner) probeGrace(p *Probe) time.Duration {
	if p != nil && p.TerminationGracePeriodSeconds != nil {
		return CapSeconds(*p.TerminationGracePeriodSeconds, MaxGracePeriod)
	}
	return r.st.Config.gracePeriod()
}

// startProbes starts the instance's probe workers: the startup probe
// first, liveness and readiness once it has passed.
func (r *runner) startProbes(in *instance, cfg *ContainerConfig) {
	ctx, cancel := context.WithCancel(context.Background())
	in.cancelProbes = cancel
	t := newTarget(r.m, r.st, cfg)
	in.gate = make(chan struct{})
	if cfg.StartupProbe == nil {
		close(in.gate)
	} else {
		open := make(chan struct{})
		close(open)
		go probeWorker(ctx, t, in, probeStartup, cfg.StartupProbe, open, r.probes, r.quit)
	}
	if cfg.LivenessProbe != nil {
		go probeWorker(ctx, t, in, probeLiveness, cfg.LivenessProbe, in.gate, r.probes, r.quit)
	}
	if cfg.ReadinessProbe != nil {
		go probeWorker(ctx, t, in, probeReadiness, cfg.ReadinessProbe, in.gate, r.probes, r.quit)
	}
}

// onHook handles the end of a postStart hook.
func (r *runner) onHook(res hookResult) {
	in, ok := r.running[res.name]
	if !ok || in.pid != res.pid || in.stopping {
		return
	}
	in.hookPending = false
	cfg := r.st.containerConfig(res.name)
	cs := r.st.container(res.name)
	if res.err != nil {
		in.killMsg = fmt.Sprintf("PostStart hook failed: %v", res.err)
		r.logf("container %q: %s", res.name, in.killMsg)
		r.stopInstance(in, cfg, r.st.Config.gracePeriod())
		return
	}
	if cfg.StartupProbe == nil {
		cs.StartupPending = false
	}
	r.startProbes(in, cfg)
	r.save()
}

// onProbe handles a probe's result.
func (r *runner) onProbe(res probeResult) {
	in, ok := r.running[res.name]
	if !ok || in.pid != res.pid || in.stopping {
		return
	}
	cfg := r.st.containerConfig(res.name)
	cs := r.st.container(res.name)
	switch {
	case res.kind == probeReadiness:
		cs.NotReady = !res.ok
	case res.kind == probeStartup && res.ok:
		cs.StartupPending = false
		close(in.gate)
	default:
		p := cfg.LivenessProbe
		if res.kind == probeStartup {
			p = cfg.StartupProbe
		}
		in.killMsg = fmt.Sprintf("%s probe failed: %s", res.kind, res.msg)
		r.logf("container %q: %s", res.name, in.killMsg)
		r.stopInstance(in, cfg, r.probeGrace(p))
	}
	r.save()
}
