package sandbox

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
)

// PodStats are a pod's usage counters, read from its cgroups.
type PodStats struct {
	// Pod is the pod's reference, UID its metadata.uid.
	Pod, UID string
	// Time is when the counters were read.
	Time time.Time
	// Stats are the pod cgroup's: every container and the pause together.
	cgroups.Stats
	// Containers are the running containers' own, in the pod's order
	// (init, app, ephemeral).
	Containers []ContainerStats
}

// ContainerStats are one running container's usage counters.
type ContainerStats struct {
	Name string
	cgroups.Stats
}

// Stats returns the pod's usage (CPU time, memory, processes) and each
// running container's, from their cgroups, as the kubelet's summary API
// and the CRI's PodSandboxStats and ContainerStats report them. A pod that
// does not run has no cgroup to read: ErrNotRunning.
//
// Equivalent to: runc events --stats CTR (for each container)
func (m *Manager) Stats(ctx context.Context, pod string) (*PodStats, error) {
	st, err := m.Status(ctx, pod)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	path, err := m.podCgroup(st)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	ps := &PodStats{Pod: st.Ref(), UID: st.UID, Time: time.Now().UTC()}
	s, err := cgroups.ReadStats(path)
	if errors.Is(err, cgroups.ErrNoCgroup) {
		return nil, fmt.Errorf("stats of pod %q: %w", pod, ErrNotRunning)
	}
	if err != nil {
		return nil, fmt.Errorf("stats of pod %q: %w", pod, err)
	}
	ps.Stats = *s
	for _, list := range st.lists() {
		for _, cs := range list {
			if cs.State != StateRunning {
				continue
			}
			s, err := cgroups.ReadStats(path + "/" + cs.Name)
			if err != nil {
				continue // it ended meanwhile
			}
			ps.Containers = append(ps.Containers, ContainerStats{Name: cs.Name, Stats: *s})
		}
	}
	return ps, nil
}

// Signal sends sig to the main process of container ctr of pod (its PID 1
// in its PID namespace, or the pod's when shared: then the process the
// container started). The process is reached through a pidfd taken while
// it is a process of the container's cgroup, so a recycled PID is never
// signalled. A container that does not run is ErrNotRunning. Stop, not
// Signal, is how a pod is ended: a container ended by a signal is
// restarted by its restart policy.
//
// Equivalent to: runc kill CTR SIG
func (m *Manager) Signal(ctx context.Context, pod, ctr string, sig syscall.Signal) error {
	st, err := m.Status(ctx, pod)
	if err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	cs := st.container(ctr)
	if cs == nil {
		return fmt.Errorf("signal pod %q: container %q %w", pod, ctr, ErrNotExist)
	}
	if cs.State != StateRunning || cs.PID <= 0 {
		return fmt.Errorf("signal container %q of pod %q: %w", ctr, pod, ErrNotRunning)
	}
	fd, err := pidfdIn(cs.PID, cs.CgroupPath)
	if err != nil {
		return fmt.Errorf("signal container %q of pod %q: %w", ctr, pod, err)
	}
	if fd < 0 {
		return fmt.Errorf("signal container %q of pod %q: %w", ctr, pod, ErrNotRunning)
	}
	defer unix.Close(fd)
	if err := unix.PidfdSendSignal(fd, sig, nil, 0); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("signal container %q of pod %q: %w", ctr, pod, ErrNotRunning)
		}
		if errors.Is(err, unix.EINVAL) {
			err = errdefs.With(errdefs.ErrInvalidArgument, err)
		}
		return fmt.Errorf("signal container %q of pod %q with %v: %w", ctr, pod, sig, err)
	}
	return nil
}
