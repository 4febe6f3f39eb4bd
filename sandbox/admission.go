package sandbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
)

// quota is the pod's memory quota by the kubelet's rules: the pod's own
// limit when given; else, when every container (init, sidecar, app) has a
// memory limit, max(sum of app and sidecar limits, the largest init
// container's limit plus the sidecars started before it); else none (0).
func (c *PodConfig) quota() int64 {
	if c.MemoryLimit > 0 {
		return c.MemoryLimit
	}
	var ctrs []cgroups.Container
	for _, ic := range c.InitContainers {
		kind := cgroups.Init
		if ic.RestartPolicy == RestartAlways {
			kind = cgroups.Sidecar
		}
		ctrs = append(ctrs, cgroups.Container{Name: ic.Name, Kind: kind, MemLimit: ic.MemoryLimit})
	}
	for _, ac := range c.Containers {
		ctrs = append(ctrs, cgroups.Container{Name: ac.Name, Kind: cgroups.App, MemLimit: ac.MemoryLimit})
	}
	q, ok := cgroups.PodQuota(ctrs, 0)
	if !ok {
		return 0
	}
	return q
}

// admit is node admission, the reason the pod is the unit of scheduling:
// the allocatable memory minus the quotas of the pods already admitted (and
// not finished) must cover the new pod's quota, or it is refused whole
// before anything is made. mk makes the pod's directory and writes its
// first state, with its quota, while the admission lock is held, so that
// pods created at once are counted one after the other.
func (m *Manager) admit(ctx context.Context, cfg *PodConfig, quota int64, mk func() error) error {
	if err := os.MkdirAll(m.opts.Root, 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(m.opts.Root, "admission.lock"), os.O_CREATE|os.O_RDONLY, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		return err
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	if quota > 0 {
		allocatable := m.opts.AllocatableMemory
		if allocatable == 0 {
			if allocatable, err = cgroups.DefaultAllocatable(); err != nil {
				return err
			}
		}
		inUse, err := m.memoryInUse(ctx)
		if err != nil {
			return err
		}
		n := len(cfg.InitContainers) + len(cfg.Containers)
		if err := (cgroups.Node{Allocatable: allocatable, InUse: inUse}).Admit(quota, n); err != nil {
			return fmt.Errorf("refused: %w", err)
		}
	}
	return mk()
}

// memoryInUse sums the quotas of the pods that hold memory: all but those
// that have finished or were stopped.
func (m *Manager) memoryInUse(ctx context.Context) (int64, error) {
	pods, err := m.List(ctx)
	if err != nil {
		return 0, err
	}
	var sum int64
	for _, p := range pods {
		switch p.Phase {
		case PhaseSucceeded, PhaseFailed, PhaseStopped:
		default:
			sum += p.MemoryQuota
		}
	}
	return sum, nil
}
