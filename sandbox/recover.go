package sandbox

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
)

// Recover takes on the lifecycle of a pod whose lifecycle is gone: the
// process that ran it (an embedder's, with Run or Start; a detached
// monitor) died or was restarted, so Status shows the pod Unknown. Like
// Run, it runs in this process until the pod completes or ctx ends. The
// pod's containers that still run are adopted as they are (their exit
// codes, which only their parent could collect, are lost: an adopted
// container that ends is terminated with reason Unknown and exit code -1,
// then restarted by its policy); those that ended meanwhile are restarted
// by their policy; a pause that died is started again. A pod that had not
// started all its app containers yet (Pending) begins again: its
// containers are killed and its init containers run anew, as when the
// kubelet makes a pod's sandbox again. A pod whose lifecycle runs is
// ErrRunning; one that ended, errdefs.ErrFailedPrecondition.
//
// Embedders call it after a restart for each pod of List that is Unknown
// with a lifecycle recorded (PodStatus.MonitorPID), or use
// RecoverDetached. Pods run by detached monitors need nothing: their
// monitors outlived the embedder.
func (m *Manager) Recover(ctx context.Context, pod string, opts RunOptions) error {
	opts.recover = true
	return m.Run(ctx, pod, opts)
}

// RecoverDetached is Recover in a detached monitor (see RunDetached).
func (m *Manager) RecoverDetached(ctx context.Context, pod string, opts RunOptions) error {
	opts.recover = true
	return m.RunDetached(ctx, pod, opts)
}

// adopt takes the containers recorded running into the runner: those whose
// process still runs in their cgroup become instances it watches (through
// a pidfd, since it is not their parent); the others are terminated with
// reason Unknown. It returns whether the pod may go on where it was
// (Running), rather than begin again.
func (r *runner) adopt() bool {
	goOn := r.st.Phase == PhaseRunning
	for _, list := range r.st.lists() {
		for i := range list {
			cs := &list[i]
			if cs.Backoff > 0 {
				r.backoff[cs.Name] = cs.Backoff
			}
			if cs.State != StateRunning {
				if cs.State == StateWaiting && cs.Reason == ReasonCrashLoopBackOff && !cs.RestartAt.IsZero() && goOn {
					// In its backoff: restarted when that ends, as it would
					// have been.
					name := cs.Name
					r.timers[name] = time.AfterFunc(time.Until(cs.RestartAt), func() { r.restartDue <- name })
					continue
				}
				if cs.State == StateWaiting && cs.Reason == ReasonCrashLoopBackOff && cs.LastTermination != nil {
					// Its restart was due: back to how it ended.
					t := cs.LastTermination
					cs.State, cs.ExitCode, cs.Reason, cs.Message, cs.StartedAt, cs.FinishedAt = StateTerminated, t.ExitCode, t.Reason, t.Message, t.StartedAt, t.FinishedAt
					cs.LastTermination = nil
				}
				continue
			}
			fd, _ := pidfdIn(cs.PID, cs.CgroupPath)
			c, err := libcontainer.Load(runcRoot(r.dir), cs.Name)
			if fd < 0 && goOn && r.opts.shim != nil {
				// Ended while no lifecycle ran: the shim collected it.
				if term, ok := r.shimExit(cs.Name, cs.PID, cs.StartedAt, cs.CgroupPath, cs.OOMBase, c); ok {
					cs.State, cs.PID = StateTerminated, 0
					cs.ExitCode, cs.Reason, cs.Message, cs.FinishedAt = term.ExitCode, term.Reason, "", term.FinishedAt
					cs.StartupPending, cs.NotReady = false, false
					if cfg := r.st.containerConfig(cs.Name); cfg != nil {
						cs.Message = terminationMessage(r.dir, cfg, term.ExitCode, cs.LogPath, r.st.Config.terminationBudget())
					}
					continue
				}
			}
			if fd < 0 || err != nil || !goOn {
				if fd >= 0 {
					if c != nil {
						c.Signal(unix.SIGKILL)
					}
					unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
					waitPidfds(context.Background(), []int{fd}, time.Now().Add(10*time.Second))
					unix.Close(fd)
				}
				now := time.Now().UTC()
				cs.State, cs.Reason, cs.ExitCode, cs.FinishedAt, cs.PID = StateTerminated, ReasonUnknown, -1, now, 0
				cs.StartupPending, cs.NotReady = false, false
				continue
			}
			in := &instance{name: cs.Name, c: c, pid: cs.PID, started: cs.StartedAt, done: make(chan struct{}), oomBase: cs.OOMBase, shim: r.opts.shim}
			r.running[cs.Name] = in
			go r.watchAdopted(in, fd, cs.CgroupPath)
			if cfg := r.st.containerConfig(cs.Name); cfg != nil && cs.Kind != KindEphemeral {
				r.startProbes(in, cfg)
			}
		}
	}
	for _, c := range r.st.Config.InitContainers {
		if c.RestartPolicy == RestartAlways {
			r.sidecars = append(r.sidecars, c.Name)
		}
	}
	return goOn
}

// watchAdopted waits for an adopted container's process to end and tells
// the runner, with what can be known of its end.
func (r *runner) watchAdopted(in *instance, fd int, cgroupPath string) {
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		if _, err := unix.Poll(fds, -1); err != unix.EINTR {
			break
		}
	}
	term := Termination{
		ExitCode: -1, Reason: ReasonUnknown, Message: "adopted by a new lifecycle: its exit status went with its parent",
		StartedAt: in.started, FinishedAt: time.Now().UTC(),
	}
	known := false
	if in.shim != nil {
		var t Termination
		if t, known = r.shimExit(in.name, in.pid, in.started, cgroupPath, in.oomBase, in.c); known {
			term = t
		}
	}
	if !known {
		// Whatever the container left behind in a shared PID namespace goes too.
		in.c.Signal(unix.SIGKILL)
	}
	close(in.done)
	select {
	case r.exits <- exitEvent{name: in.name, pid: in.pid, term: term}:
	case <-r.quit:
	}
}

// shimExit asks the shim how a container that a previous lifecycle
// started ended (the shim, its subreaper, collected it), ends what it
// left in a shared PID namespace, and waits until its output is copied;
// false when the shim does not know.
func (r *runner) shimExit(name string, pid int, started time.Time, cgroupPath string, oomBase uint64, c *libcontainer.Container) (Termination, bool) {
	ws, known, err := r.opts.shim.Exit(pid, time.Minute)
	if err != nil || !known {
		if err != nil {
			r.logf("pod %q: exit status of container %q (pid %d): %v", r.name, name, pid, err)
		}
		return Termination{}, false
	}
	code, reason := waitStatusCode(ws)
	if n, err := cgroups.OOMKillCount(cgroupPath); err == nil && n > oomBase && code == 128+int(unix.SIGKILL) {
		reason = ReasonOOMKilled
	}
	if c != nil {
		c.Signal(unix.SIGKILL)
	}
	if err := r.opts.shim.Drain(pid, 10*time.Second); err != nil {
		r.logf("pod %q: log of container %q: %v", r.name, name, err)
	}
	return Termination{ExitCode: code, Reason: reason, StartedAt: started, FinishedAt: time.Now().UTC()}, true
}

// resume goes on with a Running pod whose containers were adopted: the
// ones that ended meanwhile restart by their policy, those that never
// started start.
func (r *runner) resume() {
	for _, list := range [][]ContainerStatus{r.st.InitContainers, r.st.Containers} {
		for i := range list {
			cs := &list[i]
			if _, running := r.running[cs.Name]; running || cs.Kind == KindInit {
				continue
			}
			if _, due := r.timers[cs.Name]; due {
				continue // in its backoff (adopt)
			}
			if cs.State == StateWaiting {
				if !r.start(r.st.containerConfig(cs.Name), cs) {
					r.afterExit(cs)
				}
				continue
			}
			r.afterExit(cs)
		}
	}
	r.save()
}

// recoverCheck is Run's check of a pod to recover: its lifecycle must be
// gone and the pod not ended.
func recoverCheck(s *PodStatus) error {
	switch {
	case s.MonitorPID != 0 && alive(s.MonitorPID, s.MonitorStart):
		return fmt.Errorf("its lifecycle runs (pid %d): %w", s.MonitorPID, ErrRunning)
	case s.Phase != PhaseRunning && s.Phase != PhasePending:
		return fmt.Errorf("pod is %s: nothing to recover: %w", s.Phase, errdefs.ErrFailedPrecondition)
	}
	return nil
}
