package cgroups

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	occg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/fs2"
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

func (u *unified) create(path string, memLimit int64) error {
	dir := u.dir(path)
	cg := podConfig(path, memLimit)
	if err := u.mkdir(dir, cg); err != nil {
		return err
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
	return readMemory(u.dir(path), "memory.max", "memory.current")
}

func (u *unified) oomKillCount(path string) (uint64, error) {
	return fs2.OOMKillCount(u.dir(path))
}
