package cgroups

import (
	"fmt"
	"os"

	occg "github.com/opencontainers/cgroups"
	fs1 "github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fs2"

	"github.com/podbox/podbox/errdefs"
)

// Stats are one cgroup's usage counters, as the kubelet's summary API and
// the CRI's ContainerStats report them.
type Stats struct {
	// CPUNanos is the CPU time the cgroup's processes used, in total and
	// in user and kernel mode (v1 cpuacct.usage, cpuacct.stat; v2
	// cpu.stat usage_usec, user_usec, system_usec).
	CPUNanos, CPUUserNanos, CPUSystemNanos uint64
	// CPUThrottledPeriods and CPUThrottledNanos: how often and how long
	// the CFS quota held the cgroup back (cpu.stat).
	CPUThrottledPeriods, CPUThrottledNanos uint64
	// MemoryUsage is the memory charged to the cgroup, page cache included
	// (v1 memory.usage_in_bytes, v2 memory.current); MemoryWorkingSet is
	// usage less inactive file pages, what the kubelet evicts and OOM
	// scores on; MemoryRSS is anonymous memory (v1 total_rss, v2 anon).
	MemoryUsage, MemoryWorkingSet, MemoryRSS uint64
	// MemoryLimit is the limit in bytes, 0 when none.
	MemoryLimit uint64
	// PageFaults and MajorPageFaults, from memory.stat.
	PageFaults, MajorPageFaults uint64
	// Pids are the processes and threads in the cgroup, PidsLimit its
	// pids.max (0: none).
	Pids, PidsLimit uint64
}

// managerOf is the library's manager of the cgroup at path, for reading or
// changing its settings.
func managerOf(path string) (occg.Manager, error) {
	cg := &occg.Cgroup{Path: path, Resources: &occg.Resources{SkipDevices: true}}
	if IsV2() {
		return fs2.NewManager(cg, newUnified().dir(path))
	}
	return fs1.NewManager(cg, nil)
}

// ReadStats returns the usage of the cgroup at path (absolute: a pod's or
// one of its containers').
func ReadStats(path string) (*Stats, error) {
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("read stats of cgroup %q: %w", path, err)
	}
	m, err := managerOf(path)
	if err != nil {
		return nil, fmt.Errorf("read stats of cgroup %q: %w", path, err)
	}
	if !m.Exists() {
		return nil, fmt.Errorf("read stats of cgroup %q: %w", path, ErrNoCgroup)
	}
	s, err := m.GetStats()
	if err != nil {
		return nil, fmt.Errorf("read stats of cgroup %q: %w", path, err)
	}
	return statsOf(s, IsV2()), nil
}

// statsOf takes what podbox reports from the library's stats of a v1 or
// v2 cgroup.
func statsOf(s *occg.Stats, v2 bool) *Stats {
	mem := s.MemoryStats
	inactiveFile, rss := mem.Stats["total_inactive_file"], mem.Stats["total_rss"]
	faults, major := mem.Stats["total_pgfault"], mem.Stats["total_pgmajfault"]
	if v2 {
		inactiveFile, rss = mem.Stats["inactive_file"], mem.Stats["anon"]
		faults, major = mem.Stats["pgfault"], mem.Stats["pgmajfault"]
	}
	st := &Stats{
		CPUNanos:            s.CpuStats.CpuUsage.TotalUsage,
		CPUUserNanos:        s.CpuStats.CpuUsage.UsageInUsermode,
		CPUSystemNanos:      s.CpuStats.CpuUsage.UsageInKernelmode,
		CPUThrottledPeriods: s.CpuStats.ThrottlingData.ThrottledPeriods,
		CPUThrottledNanos:   s.CpuStats.ThrottlingData.ThrottledTime,
		MemoryUsage:         mem.Usage.Usage,
		MemoryRSS:           rss,
		MemoryLimit:         uint64(unlimited(mem.Usage.Limit)),
		PageFaults:          faults,
		MajorPageFaults:     major,
		Pids:                s.PidsStats.Current,
		PidsLimit:           s.PidsStats.Limit,
	}
	if st.MemoryUsage > inactiveFile {
		st.MemoryWorkingSet = st.MemoryUsage - inactiveFile
	}
	return st
}

// Limits are the settings Update changes on a cgroup; a nil field is left
// as it is.
type Limits struct {
	// Memory is the memory limit in bytes; 0 lifts it.
	Memory *int64
	// CPUShares weighs the cgroup's CPU time against its siblings' (v1
	// cpu.shares; on v2 converted to cpu.weight as runc converts it).
	CPUShares *uint64
	// CPUQuota is the CPU time in microseconds the cgroup may use each
	// CPUPeriod (cpu.cfs_quota_us and cpu.cfs_period_us, v2 cpu.max); a
	// quota of 0 lifts it.
	CPUQuota  *int64
	CPUPeriod *uint64
}

// Resources applies l to r, the resources of a cgroup as the library takes
// them (a pod's, or a container's from its libcontainer configuration).
func (l Limits) Resources(r *occg.Resources) {
	if l.Memory != nil {
		r.Memory = libcontainerLimit(*l.Memory)
		if r.MemorySwap != 0 {
			// A swap fence (memsw = memory, v1) follows the limit.
			r.MemorySwap = r.Memory
		}
	}
	if l.CPUShares != nil {
		r.CpuShares = *l.CPUShares
		if IsV2() && r.CpuShares != 0 {
			r.CpuWeight = occg.ConvertCPUSharesToCgroupV2Value(r.CpuShares)
		}
	}
	if l.CPUQuota != nil {
		r.CpuQuota = *l.CPUQuota
		if r.CpuQuota == 0 {
			r.CpuQuota = -1 // the library skips 0; -1 is no limit
		}
	}
	if l.CPUPeriod != nil {
		r.CpuPeriod = *l.CPUPeriod
	}
}

// Update changes the limits of the pod cgroup (v1: in every hierarchy). A
// memory limit below what the pod uses makes the kernel reclaim, then
// refuse it (EBUSY on v1) or OOM-kill in the pod (v2), as `runc update`.
//
// Equivalent to: echo $limit > memory.max (v2) or memory.limit_in_bytes (v1).
func (p *Pod) Update(l Limits) error {
	if err := checkPath(p.path); err != nil {
		return fmt.Errorf("update pod cgroup %q: %w", p.path, err)
	}
	m, err := managerOf(p.path)
	if err != nil {
		return fmt.Errorf("update pod cgroup %q: %w", p.path, err)
	}
	if !m.Exists() {
		return fmt.Errorf("update pod cgroup %q: %w", p.path, ErrNoCgroup)
	}
	r := &occg.Resources{SkipDevices: true}
	l.Resources(r)
	if err := m.Set(r); err != nil {
		return fmt.Errorf("update pod cgroup %q: %w", p.path, err)
	}
	return nil
}

// RemoveParent removes the cgroup at path (a cgroup parent such as
// "/podbox") in every v1 hierarchy or in v2, only when it holds no cgroup
// and no process: a parent that another podbox (another state root) still
// uses is left as it is, with an error that says so. Removing one that is
// not there is not an error.
//
// Equivalent to: rmdir /sys/fs/cgroup/*/podbox
func RemoveParent(path string) error {
	if err := checkPath(path); err != nil {
		return fmt.Errorf("remove cgroup parent %q: %w", path, err)
	}
	m, err := managerOf(path)
	if err != nil {
		return fmt.Errorf("remove cgroup parent %q: %w", path, err)
	}
	paths := m.GetPaths()
	for _, dir := range paths {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue // not in this hierarchy
		}
		for _, e := range ents {
			if e.IsDir() {
				return fmt.Errorf("remove cgroup parent %q: it holds cgroup %q: %w", path, e.Name(), errdefs.ErrFailedPrecondition)
			}
		}
	}
	for _, dir := range paths {
		if err := os.Remove(dir); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("remove cgroup parent %q: %w", path, err)
		}
	}
	return nil
}
