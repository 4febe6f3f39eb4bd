package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	occg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
	"github.com/opencontainers/cgroups/fscommon"
	"golang.org/x/sys/unix"
)

// childControllers are the controllers a pod enables for its children, where
// the pod has them, so that each container cgroup can have its own limits.
var childControllers = []string{"cpu", "memory", "pids"}

// unified is the pure cgroup v2 layout. Its kernel operations are fields so
// that its decisions (which files, which values) can be checked against a fake
// cgroup tree in a temporary directory.
type unified struct {
	// root is where the v2 hierarchy is mounted: /sys/fs/cgroup.
	root string
	// mkdir creates the cgroup directory dir and its missing parents, enabling
	// the controllers in the parents: fs2.CreateCgroupPath.
	mkdir func(dir string, cg *occg.Cgroup) error
	// rmdir removes the cgroup dir and its child cgroups (they must hold no
	// process): occg.RemovePath.
	rmdir func(dir string) error
	// kill sends SIGKILL to pids, read from dir's cgroup.procs.
	kill func(dir string, pids []int) error
}

func newUnified() *unified {
	return &unified{root: fs2.UnifiedMountpoint, mkdir: fs2.CreateCgroupPath, rmdir: occg.RemovePath, kill: killInCgroup}
}

func (u *unified) dir(path string) string { return filepath.Join(u.root, path) }

func (u *unified) exists(path string) bool { return occg.PathExists(u.dir(path)) }

func (u *unified) create(path string, memLimit int64, o podOptions) error {
	dir := u.dir(path)
	cg := o.resources(path, memLimit)
	// The library's v2 manager writes cpu.weight, not cpu.shares.
	if r := cg.Resources; r.CpuShares != 0 {
		r.CpuWeight = occg.ConvertCPUSharesToCgroupV2Value(r.CpuShares)
	}
	if err := u.mkdir(dir, cg); err != nil {
		return err
	}
	if !o.allowSwap && occg.PathExists(filepath.Join(dir, "memory.swap.max")) {
		cg.Resources.Unified = map[string]string{"memory.swap.max": "0"}
	}
	m, err := fs2.NewManager(cg, dir)
	if err != nil {
		return err
	}
	if err := m.Set(cg.Resources); err != nil {
		return err
	}
	return enableControllers(dir)
}

// enableControllers writes the childControllers that dir has to its
// cgroup.subtree_control. Equivalent to: echo "+cpu +memory +pids" >
// cgroup.subtree_control.
func enableControllers(dir string) error {
	have, err := occg.ReadFile(dir, "cgroup.controllers")
	if err != nil {
		return err
	}
	var want []string
	for _, c := range childControllers {
		if slices.Contains(strings.Fields(have), c) {
			want = append(want, "+"+c)
		}
	}
	if len(want) == 0 {
		return nil
	}
	err = occg.WriteFile(dir, "cgroup.subtree_control", strings.Join(want, " "))
	if err == nil {
		return nil
	}
	// One controller can refuse (cpu, while a realtime thread runs in some
	// cgroup): take the others one by one, but the pod needs memory.
	for _, c := range want {
		if err := occg.WriteFile(dir, "cgroup.subtree_control", c); err != nil && c == "+memory" {
			return fmt.Errorf("enable the memory controller for child cgroups: %w", err)
		}
	}
	return nil
}

func (u *unified) join(path string, pid int) error {
	dir := u.dir(path)
	if err := u.mkdir(dir, &occg.Cgroup{Path: path, Resources: &occg.Resources{SkipDevices: true}}); err != nil {
		return err
	}
	return occg.WriteCgroupProc(dir, pid)
}

func (u *unified) destroy(path string) error {
	dir := u.dir(path)
	if !occg.PathExists(dir) {
		return nil
	}
	// A CPU-throttled process takes its time to die: lift the quotas first.
	writeBelow(dir, "cpu.max", "max")
	// cgroup.kill (Linux 5.14) kills the whole subtree at once, racing no
	// fork. Without it, signal what cgroup.procs lists until nothing is left.
	if occg.PathExists(filepath.Join(dir, "cgroup.kill")) {
		if err := occg.WriteFile(dir, "cgroup.kill", "1"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kill processes: %w", err)
		}
	}
	if err := killAll([]string{dir}, u.kill, nil); err != nil {
		return err
	}
	return u.rmdir(dir)
}

func (u *unified) memory(path string) (limit, usage int64, err error) {
	return readLimit(u.dir(path), "memory.max", "memory.current")
}

func (u *unified) oomKillCount(path string) (uint64, error) {
	return fs2.OOMKillCount(u.dir(path))
}

func (u *unified) containerResources(podPath string, r *occg.Resources, allowSwap bool) {
	dir := u.dir(podPath)
	set := func(file, value string) {
		// The pod enables memory for its children: a file the pod cgroup
		// has, its container cgroups have too.
		if !occg.PathExists(filepath.Join(dir, file)) {
			return
		}
		if r.Unified == nil {
			r.Unified = map[string]string{}
		}
		r.Unified[file] = value
	}
	set("memory.oom.group", "1")
	// The library's v2 manager reads cpu.weight, not cpu.shares: convert
	// as runc's spec conversion does.
	if r.CpuShares != 0 && r.CpuWeight == 0 {
		r.CpuWeight = occg.ConvertCPUSharesToCgroupV2Value(r.CpuShares)
	}
	if !allowSwap {
		set("memory.swap.max", "0")
	}
}

func (u *unified) events(path string) (map[string]uint64, error) {
	return readKeyValues(u.dir(path), "memory.events")
}

func (u *unified) pressure(path string) (map[string]*occg.PSIStats, error) {
	return readPressure(u.dir(path))
}

// readKeyValues reads a flat keyed file of the cgroup dir ("oom_kill 3").
func readKeyValues(dir, file string) (map[string]uint64, error) {
	s, err := occg.ReadFile(dir, file)
	if err != nil {
		return nil, err
	}
	kv := map[string]uint64{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" {
			continue
		}
		k, v, err := fscommon.ParseKeyValue(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		kv[k] = v
	}
	return kv, nil
}

// readPressure reads the cpu, memory and io pressure files of the v2 cgroup
// dir, those that exist: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0".
func readPressure(dir string) (map[string]*occg.PSIStats, error) {
	psi := map[string]*occg.PSIStats{}
	for _, res := range []string{"cpu", "memory", "io"} {
		s, err := occg.ReadFile(dir, res+".pressure")
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EOPNOTSUPP) {
			continue // no CONFIG_PSI, psi=0, or PSI off for this cgroup
		}
		if err != nil {
			return nil, err
		}
		st := &occg.PSIStats{}
		for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
			fields := strings.Fields(line)
			if len(fields) == 0 {
				continue
			}
			var d *occg.PSIData
			switch fields[0] {
			case "some":
				d = &st.Some
			case "full":
				d = &st.Full
			default:
				continue
			}
			for _, f := range fields[1:] {
				k, v, ok := strings.Cut(f, "=")
				if !ok {
					return nil, fmt.Errorf("%s.pressure: bad field %q", res, f)
				}
				var err error
				switch k {
				case "avg10":
					d.Avg10, err = strconv.ParseFloat(v, 64)
				case "avg60":
					d.Avg60, err = strconv.ParseFloat(v, 64)
				case "avg300":
					d.Avg300, err = strconv.ParseFloat(v, 64)
				case "total":
					d.Total, err = strconv.ParseUint(v, 10, 64)
				}
				if err != nil {
					return nil, fmt.Errorf("%s.pressure: %q: %w", res, f, err)
				}
			}
		}
		psi[res] = st
	}
	return psi, nil
}
