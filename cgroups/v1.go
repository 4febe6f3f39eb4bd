package cgroups

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	occg "github.com/opencontainers/cgroups"
	fs1 "github.com/opencontainers/cgroups/fs"
	"github.com/opencontainers/cgroups/fscommon"
)

// legacy is the cgroup v1 layout: one hierarchy per controller (or group of
// controllers), each with its own copy of the pod path. In the hybrid layout
// the library's v1 manager also creates and joins the path in the v2
// hierarchy at /sys/fs/cgroup/unified (its "" subsystem), which has no
// controllers that podbox sets.
type legacy struct{}

func (legacy) manager(cg *occg.Cgroup) (*fs1.Manager, error) {
	return fs1.NewManager(cg, nil)
}

func (l legacy) exists(path string) bool {
	m, err := l.manager(podConfig(path, 0))
	if err != nil {
		return false
	}
	return occg.PathExists(m.Path("memory"))
}

func (l legacy) create(path string, memLimit int64, o podOptions) error {
	cg := o.resources(path, memLimit)
	m, err := l.manager(cg)
	if err != nil {
		return err
	}
	if m.Path("memory") == "" {
		return fmt.Errorf("no memory controller mounted")
	}
	// Apply with pid -1 creates the path in every hierarchy and moves no
	// process (cpuset gets its cpus and mems from the parent).
	if err := m.Apply(-1); err != nil {
		return err
	}
	return m.Set(cg.Resources)
}

func (l legacy) join(path string, pid int) error {
	m, err := l.manager(&occg.Cgroup{Path: path, Resources: &occg.Resources{SkipDevices: true}})
	if err != nil {
		return err
	}
	return m.Apply(pid)
}

func (l legacy) destroy(path string) error {
	m, err := l.manager(podConfig(path, 0))
	if err != nil {
		return err
	}
	paths := m.GetPaths()
	var dirs []string
	for _, d := range paths {
		if occg.PathExists(d) {
			dirs = append(dirs, d)
		}
	}
	if len(dirs) == 0 {
		return nil
	}
	// In the hybrid layout the v2 copy of the path has cgroup.kill; it holds
	// the processes that joined it, which is a start.
	if u := paths[""]; u != "" && occg.PathExists(filepath.Join(u, "cgroup.kill")) {
		_ = occg.WriteFile(u, "cgroup.kill", "1")
	}
	// A CPU-throttled process takes its time to die: lift the quotas first.
	writeBelow(paths["cpu"], "cpu.cfs_quota_us", "-1")
	thaw := func() { thawAll(paths["freezer"]) }
	if err := killAll(dirs, killInCgroup, thaw); err != nil {
		return err
	}
	return occg.RemovePaths(paths)
}

// writeBelow writes value to file in the cgroup dir and in every cgroup
// below it that has the file, parents before children (a v1 child's CPU
// quota may not exceed its parent's). Best effort: for taking a pod apart.
func writeBelow(dir, file, value string) {
	if dir == "" {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if occg.PathExists(filepath.Join(p, file)) {
			_ = occg.WriteFile(p, file, value)
		}
		return nil
	})
}

// thawAll thaws every frozen cgroup of the v1 freezer subtree at dir (the pod
// first, then its children): a frozen process does not die of SIGKILL until it
// is thawed. It reads and writes freezer.state itself because the library's
// FreezerGroup.GetState waits, unbounded, while a cgroup is FREEZING.
func thawAll(dir string) {
	if dir == "" {
		return
	}
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if st, err := occg.ReadFile(p, "freezer.state"); err == nil && strings.TrimSpace(st) != string(occg.Thawed) {
			_ = occg.WriteFile(p, "freezer.state", string(occg.Thawed))
		}
		return nil
	})
}

func (l legacy) memory(path string) (limit, usage int64, err error) {
	dir, err := l.memoryDir(path)
	if err != nil {
		return 0, 0, err
	}
	return readLimit(dir, "memory.limit_in_bytes", "memory.usage_in_bytes")
}

func (l legacy) oomKillCount(path string) (uint64, error) {
	dir, err := l.memoryDir(path)
	if err != nil {
		return 0, err
	}
	return fs1.OOMKillCount(dir)
}

// readLimit reads a limit file and a usage file of the cgroup dir ("max"
// and the kernel's other "no limit" values read 0).
func readLimit(dir, limitFile, usageFile string) (limit, usage int64, err error) {
	l, err := fscommon.GetCgroupParamUint(dir, limitFile)
	if err != nil {
		return 0, 0, err
	}
	u, err := fscommon.GetCgroupParamUint(dir, usageFile)
	if err != nil {
		return 0, 0, err
	}
	return unlimited(l), unlimited(u), nil
}

func (l legacy) memoryDir(path string) (string, error) {
	m, err := l.manager(podConfig(path, 0))
	if err != nil {
		return "", err
	}
	dir := m.Path("memory")
	if dir == "" {
		return "", fmt.Errorf("no memory controller mounted")
	}
	return dir, nil
}

func (l legacy) containerResources(podPath string, r *occg.Resources, allowSwap bool) {
	if allowSwap || r.Memory <= 0 {
		return
	}
	// memory.memsw.* exist only where the kernel accounts swap.
	if dir, err := l.memoryDir(podPath); err == nil && occg.PathExists(filepath.Join(dir, "memory.memsw.limit_in_bytes")) {
		r.MemorySwap = r.Memory
	}
}

func (l legacy) events(path string) (map[string]uint64, error) {
	dir, err := l.memoryDir(path)
	if err != nil {
		return nil, err
	}
	ev, err := readKeyValues(dir, "memory.oom_control")
	if err != nil {
		return nil, err
	}
	failcnt, err := fscommon.GetCgroupParamUint(dir, "memory.failcnt")
	if err != nil {
		return nil, err
	}
	ev["failcnt"] = failcnt
	return ev, nil
}

// pressure reads PSI from the pod's copy in the hybrid layout's v2 hierarchy
// (/sys/fs/cgroup/unified), where the kernel tracks the same processes; pure
// v1 has none.
func (l legacy) pressure(path string) (map[string]*occg.PSIStats, error) {
	m, err := l.manager(podConfig(path, 0))
	if err != nil {
		return nil, err
	}
	dir := m.Path("")
	if dir == "" || !occg.PathExists(dir) {
		return map[string]*occg.PSIStats{}, nil
	}
	return readPressure(dir)
}
