// Package cgroups owns the pod cgroup (cgroup v1, v2 and the hybrid layout),
// the pod memory quota (kubelet rules), node admission, OOM-kill counts and
// memory usage.
//
// Cgroups are created, set and removed through github.com/opencontainers/cgroups
// with its fs drivers (never systemd), always at an absolute cgroup path such
// as "/podbox/web": a relative path would be nested under the calling
// process's own cgroup. Nothing outside that path is ever removed or killed.
//
// Layout: the pod cgroup holds no process itself (cgroup v2's
// no-internal-process rule); the pause goes into a child (sandbox names it "_pause"), and each
// container into a child cgroup that libcontainer creates at path+"/"+name.
package cgroups

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"

	occg "github.com/opencontainers/cgroups"
)

// Pod is the cgroup of one pod at an absolute path such as "/podbox/web"
// (parent "/podbox"). On cgroup v1 it exists in every mounted hierarchy (and,
// in the hybrid layout, in the v2 hierarchy at /sys/fs/cgroup/unified too).
type Pod struct {
	path string
	be   backend // nil: chosen from the host on first use
}

// backend is one cgroup layout: v1 (with hybrid) or v2.
type backend interface {
	exists(path string) bool
	create(path string, memLimit int64, o podOptions) error
	join(path string, pid int) error
	destroy(path string) error
	memory(path string) (limit, usage int64, err error)
	oomKillCount(path string) (uint64, error)
	// containerResources adds the node-level container settings this
	// layout offers to r (see Pod.ContainerResources).
	containerResources(podPath string, r *occg.Resources, allowSwap bool)
	// events returns the memory events the layout counts for the cgroup.
	events(path string) (map[string]uint64, error)
	// pressure returns the cgroup's PSI files by resource, those the kernel has.
	pressure(path string) (map[string]*PSIStats, error)
}

// PSIStats is one resource's pressure stall information: the share of time
// some (or all) runnable tasks stalled on it over 10, 60 and 300 s, and the
// total stall time in microseconds.
type PSIStats = occg.PSIStats

// PodOption changes how CreatePod makes a pod cgroup.
type PodOption func(*podOptions)

type podOptions struct {
	allowSwap bool
	pidsLimit int64
	cpuQuota  int64
	cpuPeriod uint64
	cpuShares uint64
}

// AllowSwap says whether the pod's processes may use the node's swap. Without
// it (the kubelet's NoSwap, its default) a pod cgroup gets memory.swap.max 0
// on cgroup v2, where the kernel accounts swap. cgroup v1 pod cgroups are
// left as they are, as the kubelet leaves them.
func AllowSwap(allow bool) PodOption { return func(o *podOptions) { o.allowSwap = allow } }

// DefaultPidsLimit is the pids limit of a pod cgroup unless the caller says
// otherwise (podbox's --pod-pids-limit): enough for any ordinary pod, few
// enough that a fork bomb in one pod leaves the host's PID space alone. (The
// kubelet's podPidsLimit has no default; distributions set one of this order.)
const DefaultPidsLimit = 4096

// PidsLimit caps how many processes and threads the pod's cgroup may hold at
// once (v1 and v2 pids.max), the kubelet's podPidsLimit: a fork in the pod
// beyond it fails with EAGAIN. n <= 0 sets no limit.
func PidsLimit(n int64) PodOption { return func(o *podOptions) { o.pidsLimit = n } }

// CPU gives the pod cgroup a CFS quota of quota microseconds every period
// microseconds (0: no quota) and shares, cgroup v1's cpu.shares
// (libcontainer writes the matching cpu.weight on v2; 0: the default), as
// the kubelet sets a pod cgroup's cpu from pod-level resources.
// Equivalent to: echo "$quota $period" > cpu.max; echo $weight > cpu.weight.
func CPU(quota int64, period, shares uint64) PodOption {
	return func(o *podOptions) { o.cpuQuota, o.cpuPeriod, o.cpuShares = quota, period, shares }
}

// resources are the pod cgroup's settings: the memory quota, the pids
// limit and the cpu quota and shares.
func (o podOptions) resources(path string, memLimit int64) *occg.Cgroup {
	cg := podConfig(path, memLimit)
	if o.pidsLimit > 0 {
		n := o.pidsLimit
		cg.Resources.PidsLimit = &n
	}
	if o.cpuQuota > 0 {
		cg.Resources.CpuQuota, cg.Resources.CpuPeriod = o.cpuQuota, o.cpuPeriod
	}
	cg.Resources.CpuShares = o.cpuShares
	return cg
}

func hostBackend() backend {
	if IsV2() {
		return newUnified()
	}
	return legacy{}
}

// IsV2 reports whether the host runs the pure cgroup v2 (unified) layout. The
// hybrid layout (v1 controllers plus a v2 hierarchy at /sys/fs/cgroup/unified)
// counts as v1.
func IsV2() bool { return occg.IsCgroup2UnifiedMode() }

// CreatePod creates the pod cgroup at path (absolute), in every v1 hierarchy
// or in v2, with the pod's memory quota memLimit bytes (0: no quota). Creating
// one that exists is fine: it sets the limit again (0 lifts it). On v2 it also
// enables the memory, pids and cpu controllers (those available) in the pod
// cgroup's cgroup.subtree_control, so that container cgroups below it can have
// their own limits, and fences swap unless AllowSwap(true) is given. With
// PidsLimit it also caps the pod's processes (pids.max). A cgroup
// that this call created is removed again when it fails.
func CreatePod(path string, memLimit int64, opts ...PodOption) (*Pod, error) {
	return createPod(hostBackend(), path, memLimit, opts...)
}

func createPod(be backend, path string, memLimit int64, opts ...PodOption) (*Pod, error) {
	var o podOptions
	for _, opt := range opts {
		opt(&o)
	}
	if err := checkPath(path); err != nil {
		return nil, fmt.Errorf("create pod cgroup %q: %w", path, err)
	}
	if memLimit < 0 {
		return nil, fmt.Errorf("create pod cgroup %q: negative memory limit %d", path, memLimit)
	}
	existed := be.exists(path)
	if err := be.create(path, memLimit, o); err != nil {
		if !existed {
			_ = be.destroy(path)
		}
		return nil, fmt.Errorf("create pod cgroup %q: %w", path, err)
	}
	return &Pod{path: path, be: be}, nil
}

// LoadPod returns the pod cgroup at path without looking at it, to remove it
// after a crash. It does no I/O; a bad path shows up as an error of the
// methods.
func LoadPod(path string) *Pod { return &Pod{path: path} }

// Path returns the pod cgroup's absolute path, such as "/podbox/web".
func (p *Pod) Path() string { return p.path }

// Child returns the absolute path of the pod's child cgroup name, such as
// "/podbox/web/app": the cgroup path to give libcontainer for a container.
func (p *Pod) Child(name string) string { return p.path + "/" + name }

func (p *Pod) backend() backend {
	if p.be == nil {
		p.be = hostBackend()
	}
	return p.be
}

// Join creates the child cgroup p.Path()+"/"+name (such as "pause") with no
// limits of its own, and moves pid into it, in every v1 hierarchy or in v2.
func (p *Pod) Join(name string, pid int) error {
	child := p.Child(name)
	if err := checkPath(p.path); err != nil {
		return fmt.Errorf("join cgroup %q: %w", child, err)
	}
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return fmt.Errorf("join cgroup %q: %w: child name %q is not one path element", child, ErrInvalidPath, name)
	}
	if pid <= 0 {
		return fmt.Errorf("join cgroup %q: bad pid %d", child, pid)
	}
	if err := p.backend().join(child, pid); err != nil {
		return fmt.Errorf("join cgroup %q: pid %d: %w", child, pid, err)
	}
	return nil
}

// Destroy kills every process left anywhere in the pod's subtree with SIGKILL
// (v2: cgroup.kill where the kernel has it, 5.14+; otherwise, and on v1, the
// pids of every cgroup.procs, until none is left or a bounded wait ends), then
// removes the child cgroups and the pod cgroup, in every v1 hierarchy or in
// v2. A missing cgroup is not an error, so Destroy is idempotent. It never
// kills or removes anything outside the pod's path.
func (p *Pod) Destroy() error {
	if err := checkPath(p.path); err != nil {
		return fmt.Errorf("destroy pod cgroup %q: %w", p.path, err)
	}
	if err := p.backend().destroy(p.path); err != nil {
		return fmt.Errorf("destroy pod cgroup %q: %w", p.path, err)
	}
	return nil
}

// Memory returns the pod cgroup's memory limit in bytes (0: unlimited) and its
// current usage in bytes (v1 memory.limit_in_bytes and memory.usage_in_bytes,
// v2 memory.max and memory.current).
func (p *Pod) Memory() (limit, usage int64, err error) {
	if err := checkPath(p.path); err != nil {
		return 0, 0, fmt.Errorf("read memory of pod cgroup %q: %w", p.path, err)
	}
	limit, usage, err = p.backend().memory(p.path)
	if err != nil {
		return 0, 0, fmt.Errorf("read memory of pod cgroup %q: %w", p.path, err)
	}
	return limit, usage, nil
}

// ContainerResources adds to r, the resources of one of the pod's container
// cgroups as libcontainer takes them, what the kubelet sets on every container
// cgroup of a node, where the host's kernel offers it:
//   - cgroup v2: memory.oom.group 1, so that an OOM kill ends the whole
//     container rather than one of its processes (the kubelet's default on v2,
//     singleProcessOOMKill false); and unless allowSwap, memory.swap.max 0
//     (NoSwap).
//   - cgroup v1: unless allowSwap, a memory+swap limit equal to the memory
//     limit where the container has one and the kernel accounts swap
//     (memory.memsw.limit_in_bytes), which is how the kubelet fences swap on v1.
//
// It reads which interface files the pod cgroup has and writes nothing.
func (p *Pod) ContainerResources(r *occg.Resources, allowSwap bool) {
	if checkPath(p.path) != nil {
		return
	}
	p.backend().containerResources(p.path, r, allowSwap)
}

// MemoryEvents returns the memory events the kernel counted for the pod
// cgroup, by the kernel's own names: on cgroup v2 memory.events (low, high,
// max, oom, oom_kill, oom_group_kill; hierarchical), on v1 memory.oom_control
// (oom_kill, under_oom) and memory.failcnt as "failcnt" (how often usage hit
// the limit).
func (p *Pod) MemoryEvents() (map[string]uint64, error) {
	if err := checkPath(p.path); err != nil {
		return nil, fmt.Errorf("read memory events of pod cgroup %q: %w", p.path, err)
	}
	ev, err := p.backend().events(p.path)
	if err != nil {
		return nil, fmt.Errorf("read memory events of pod cgroup %q: %w", p.path, err)
	}
	return ev, nil
}

// Pressure returns the pod cgroup's pressure stall information (PSI) by
// resource ("cpu", "memory", "io"): on cgroup v2 its *.pressure files, in the
// hybrid layout those of its copy in the v2 hierarchy, which tracks the same
// processes. Resources the kernel does not report (no CONFIG_PSI, psi=0, pure
// v1) are absent; the map may be empty.
func (p *Pod) Pressure() (map[string]*PSIStats, error) {
	if err := checkPath(p.path); err != nil {
		return nil, fmt.Errorf("read pressure of pod cgroup %q: %w", p.path, err)
	}
	psi, err := p.backend().pressure(p.path)
	if err != nil {
		return nil, fmt.Errorf("read pressure of pod cgroup %q: %w", p.path, err)
	}
	return psi, nil
}

// OOMKillCount returns how many processes the kernel's OOM killer killed in the
// cgroup at path (absolute; a container's cgroup, or the pod's): v1
// memory.oom_control oom_kill, v2 memory.events oom_kill. The kernel counts a
// kill on the victim's memory cgroup whatever limit was hit, so a container
// killed because the POD's quota ran out shows up in the container's count.
// On v2 the count also includes kills in descendant cgroups (memory.events is
// hierarchical); on v1 it is that cgroup's own.
func OOMKillCount(path string) (uint64, error) {
	return oomKillCount(hostBackend(), path)
}

func oomKillCount(be backend, path string) (uint64, error) {
	if err := checkPath(path); err != nil {
		return 0, fmt.Errorf("read oom kills of cgroup %q: %w", path, err)
	}
	n, err := be.oomKillCount(path)
	if err != nil {
		return 0, fmt.Errorf("read oom kills of cgroup %q: %w", path, err)
	}
	return n, nil
}

// checkPath accepts an absolute, clean cgroup path below the root.
func checkPath(p string) error {
	if !strings.HasPrefix(p, "/") || p == "/" || path.Clean(p) != p {
		return fmt.Errorf("%w: %q is not an absolute, clean path below the root", ErrInvalidPath, p)
	}
	return nil
}

// unlimited maps the kernel's "no limit" (v2 "max", v1 a page-rounded
// 2^63-1) to 0.
func unlimited(v uint64) int64 {
	if v >= 1<<62 {
		return 0
	}
	return int64(v)
}

// libcontainerLimit is the Resources.Memory value for a quota: the library
// skips 0 (it would leave an old limit in place), and -1 means no limit.
func libcontainerLimit(memLimit int64) int64 {
	if memLimit == 0 {
		return -1
	}
	return memLimit
}

// podConfig is the library's view of a pod (or child) cgroup. SkipDevices:
// the pod cgroup sets no device rules (libcontainer does, per container); on
// v2 an empty rule list would otherwise install an eBPF program that denies
// every device to the whole pod.
func podConfig(path string, memLimit int64) *occg.Cgroup {
	return &occg.Cgroup{
		Path: path,
		Resources: &occg.Resources{
			Memory:      libcontainerLimit(memLimit),
			SkipDevices: true,
		},
	}
}

// PidsStats are a pod cgroup's pids counts.
type PidsStats struct {
	// Limit is pids.max (0: none); Current, pids.current: the processes
	// and threads the pod holds.
	Limit, Current int64
	// Denied is how many forks failed because of the limit (pids.events
	// max).
	Denied uint64
}

// Pids returns the pod cgroup's pids limit, count and refused forks (v1
// and v2 pids.max, pids.current and pids.events).
func (p *Pod) Pids() (PidsStats, error) {
	var st PidsStats
	if err := checkPath(p.path); err != nil {
		return st, fmt.Errorf("read pids of pod cgroup %q: %w", p.path, err)
	}
	var dir string
	switch be := p.backend().(type) {
	case *unified:
		dir = be.dir(p.path)
	case legacy:
		m, err := be.manager(podConfig(p.path, 0))
		if err != nil {
			return st, fmt.Errorf("read pids of pod cgroup %q: %w", p.path, err)
		}
		dir = m.Path("pids")
	}
	if dir == "" {
		return st, fmt.Errorf("read pids of pod cgroup %q: no pids controller mounted", p.path)
	}
	var err error
	st.Limit, st.Current, err = readLimit(dir, "pids.max", "pids.current")
	if err != nil {
		return st, fmt.Errorf("read pids of pod cgroup %q: %w", p.path, err)
	}
	// Where a refused fork is counted depends on the kernel: v1, and v2
	// before Linux 6.13 or so, count it in pids.events of the cgroup that
	// forked (a container's, below the pod); later v2 kernels in that of
	// the cgroup whose limit refused it and its ancestors. The larger of
	// the pod's own count and its children's sum is right on both.
	own, err := readKeyValues(dir, "pids.events")
	if err != nil {
		return st, fmt.Errorf("read pids of pod cgroup %q: %w", p.path, err)
	}
	var children uint64
	events, _ := filepath.Glob(filepath.Join(dir, "*", "pids.events"))
	for _, e := range events {
		if ev, err := readKeyValues(filepath.Dir(e), "pids.events"); err == nil {
			children += ev["max"]
		}
	}
	st.Denied = max(own["max"], children)
	return st, nil
}
