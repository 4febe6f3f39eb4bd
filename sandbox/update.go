package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/opencontainers/runc/libcontainer"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
)

// Resources are what Update changes; a nil field is left as it is, and 0
// lifts the limit (or the request).
type Resources struct {
	// MemoryLimit in bytes: the container's limit, or the pod's quota.
	MemoryLimit *int64
	// CPULimitMillis caps the CPU time (1000 = one CPU) by a CFS quota over
	// 100 ms; CPURequestMillis weighs it against the other containers
	// (cpu.shares, cpu.weight on v2). A pod has a limit only.
	CPULimitMillis, CPURequestMillis *int64
}

// Update changes the resources of container ctr of pod, or, with ctr "",
// of the pod's cgroup, in place (the kubelet's in-place pod resize,
// the CRI's UpdateContainerResources): a running container's cgroup is
// changed at once (on cgroup v1 and v2, through libcontainer as `runc
// update` does), and the configuration is saved, so that the container's
// next instances have them too. The pod's memory quota follows its
// containers' limits by the kubelet's rules; a quota that grows is
// admitted against the node's allocatable memory first (refused:
// errdefs.ErrResourceExhausted), and the pod cgroup grows before the
// container's, or shrinks after it. A limit below what the container
// uses fails as the kernel refuses it (v1) or reclaims and OOM-kills (v2).
//
// Equivalent to: runc update --memory N --cpu-quota Q --cpu-shares S CTR
func (m *Manager) Update(ctx context.Context, pod, ctr string, r Resources) error {
	what := fmt.Sprintf("pod %q", pod)
	if ctr != "" {
		what = fmt.Sprintf("container %q of pod %q", ctr, pod)
	}
	for name, v := range map[string]*int64{"memoryLimit": r.MemoryLimit, "cpuLimitMillis": r.CPULimitMillis, "cpuRequestMillis": r.CPURequestMillis} {
		if v != nil && *v < 0 {
			return fmt.Errorf("update %s: %s %d is negative: %w", what, name, *v, errdefs.ErrInvalidArgument)
		}
	}
	if ctr == "" && r.CPURequestMillis != nil {
		return fmt.Errorf("update %s: a pod has no CPU request of its own, its containers have: %w", what, errdefs.ErrInvalidArgument)
	}
	if _, _, err := ParseRef(pod); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	dir := m.podDir(pod)
	err := m.withLock(pod, func() error {
		st, err := readState(dir)
		if errors.Is(err, os.ErrNotExist) {
			return ErrNotExist
		}
		if err != nil {
			return err
		}
		next := st.Config
		next.InitContainers = append([]ContainerConfig(nil), st.Config.InitContainers...)
		next.Containers = append([]ContainerConfig(nil), st.Config.Containers...)
		var c *ContainerConfig
		if ctr != "" {
			for _, l := range [][]ContainerConfig{next.InitContainers, next.Containers} {
				for i := range l {
					if l[i].Name == ctr {
						c = &l[i]
					}
				}
			}
			if c == nil {
				if st.containerConfig(ctr) != nil {
					return fmt.Errorf("an ephemeral container has no resources: %w", errdefs.ErrInvalidArgument)
				}
				return fmt.Errorf("container %q %w", ctr, ErrNotExist)
			}
			set(&c.MemoryLimit, r.MemoryLimit)
			set(&c.CPULimitMillis, r.CPULimitMillis)
			set(&c.CPURequestMillis, r.CPURequestMillis)
		} else {
			set(&next.MemoryLimit, r.MemoryLimit)
		}
		quota := next.quota()
		live := !ended(st)
		// A quota that grows (or appears) is admitted; one that goes
		// (0: none) counts nothing, as at Create.
		grow := quota == 0 || (st.MemoryQuota != 0 && quota > st.MemoryQuota)
		if live && quota > 0 && quota != st.MemoryQuota && (grow || st.MemoryQuota == 0) {
			if err := m.admitResize(ctx, st, quota); err != nil {
				return err
			}
		}
		pc := cgroups.LoadPod(st.CgroupPath)
		podLimits := cgroups.Limits{Memory: &quota}
		if ctr == "" && r.CPULimitMillis != nil {
			q, p := cfsQuota(*r.CPULimitMillis)
			podLimits.CPUQuota, podLimits.CPUPeriod = &q, &p
		}
		if live && grow {
			if err := pc.Update(podLimits); err != nil {
				return err
			}
		}
		if live && c != nil {
			if err := updateContainer(dir, c, r); err != nil {
				return err
			}
		}
		if live && !grow {
			if err := pc.Update(podLimits); err != nil {
				return err
			}
		}
		st.Config, st.MemoryQuota = next, quota
		if ctr == "" && r.CPULimitMillis != nil {
			st.CPULimitMillis = *r.CPULimitMillis
		}
		if err := writeState(dir, st); err != nil {
			return err
		}
		// Tell the pod's lifecycle, which keeps its own copy of the
		// configuration for the containers it restarts.
		wake(dir) // none listens: no lifecycle runs, nothing to tell
		return nil
	})
	if err != nil {
		return fmt.Errorf("update %s: %w", what, err)
	}
	return nil
}

// adoptResources takes the resources Update saved into the runner's copy
// of the pod's state, so that the instances it starts from now on have
// them and its next save keeps them.
func (r *runner) adoptResources(disk *PodStatus) {
	r.st.Config.MemoryLimit, r.st.MemoryQuota, r.st.CPULimitMillis = disk.Config.MemoryLimit, disk.MemoryQuota, disk.CPULimitMillis
	for _, l := range [][]ContainerConfig{disk.Config.InitContainers, disk.Config.Containers} {
		for _, d := range l {
			if c := r.st.containerConfig(d.Name); c != nil {
				c.MemoryLimit, c.CPULimitMillis, c.CPURequestMillis = d.MemoryLimit, d.CPULimitMillis, d.CPURequestMillis
			}
		}
	}
}

func set(dst *int64, v *int64) {
	if v != nil {
		*dst = *v
	}
}

// ended reports whether the pod's processes are gone for good: it ended,
// was stopped, or is being taken apart.
func ended(st *PodStatus) bool {
	switch st.Phase {
	case PhaseSucceeded, PhaseFailed, PhaseStopped:
		return true
	}
	return false
}

// cfsQuota is the CFS quota and period of a CPU limit, as the kubelet's
// MilliCPUToQuota: at least 1 ms a period; 0 for no limit.
func cfsQuota(millis int64) (quota int64, period uint64) {
	if millis <= 0 {
		return 0, cpuPeriod
	}
	return max(millis*cpuPeriod/1000, 1000), cpuPeriod
}

// updateContainer changes the running instance's cgroup through
// libcontainer, which keeps its own record of the container's
// configuration; a container that does not run is left to its next start.
func updateContainer(dir string, c *ContainerConfig, r Resources) error {
	lc, err := libcontainer.Load(runcRoot(dir), c.Name)
	if err != nil {
		return nil // not created: its next instance starts with the new config
	}
	if s, err := lc.Status(); err != nil || s == libcontainer.Stopped {
		return nil
	}
	cfg := lc.Config()
	var l cgroups.Limits
	if r.MemoryLimit != nil {
		l.Memory = r.MemoryLimit
	}
	if r.CPULimitMillis != nil {
		q, p := cfsQuota(*r.CPULimitMillis)
		l.CPUQuota, l.CPUPeriod = &q, &p
	}
	if r.CPURequestMillis != nil {
		shares := cpuShares(*r.CPURequestMillis)
		if shares == 0 {
			shares = 1024 // the kernel's default, what no request started with
		}
		l.CPUShares = &shares
	}
	l.Resources(cfg.Cgroups.Resources)
	if err := lc.Set(cfg); err != nil {
		if errors.Is(err, unix.EBUSY) {
			err = errdefs.With(errdefs.ErrFailedPrecondition, fmt.Errorf("%w (the container uses more than the new limit)", err))
		}
		return fmt.Errorf("container %q: %w", c.Name, err)
	}
	return nil
}

// admitResize admits the pod's grown quota against the node's allocatable
// memory, less what the other pods hold.
func (m *Manager) admitResize(ctx context.Context, st *PodStatus, quota int64) error {
	allocatable := m.opts.AllocatableMemory
	if allocatable == 0 {
		var err error
		if allocatable, err = cgroups.DefaultAllocatable(); err != nil {
			return err
		}
	}
	inUse, err := m.memoryInUse(ctx)
	if err != nil {
		return err
	}
	if !ended(st) {
		inUse -= st.MemoryQuota // counted anew
	}
	if err := cgroups.Admit(allocatable, inUse, quota); err != nil {
		return fmt.Errorf("resize refused: %w", err)
	}
	return nil
}
