package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	occg "github.com/opencontainers/cgroups"
	"golang.org/x/sys/unix"
)

// killTimeout bounds how long Destroy waits for the processes of a pod to be
// gone. SIGKILL cannot be caught, but a process in uninterruptible sleep (D
// state, e.g. stuck on NFS) dies only when it leaves it.
var killTimeout = 10 * time.Second

// killAll sends SIGKILL to every process in the cgroups at dirs and below,
// again and again (a process may fork between a read of cgroup.procs and the
// signal), until none is left or killTimeout passes. after, if not nil, runs
// after the first round of signals (v1: thaw the freezer).
func killAll(dirs []string, kill func(dir string, pids []int) error, after func()) error {
	deadline := time.Now().Add(killTimeout)
	delay := time.Millisecond
	for round := 0; ; round++ {
		procs, err := procsBelow(dirs)
		if err != nil {
			return fmt.Errorf("list processes: %w", err)
		}
		if len(procs) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			var left []int
			for _, pids := range procs {
				left = append(left, pids...)
			}
			slices.Sort(left)
			return fmt.Errorf("processes %v still there %s after SIGKILL", slices.Compact(left), killTimeout)
		}
		for dir, pids := range procs {
			if err := kill(dir, pids); err != nil {
				return fmt.Errorf("kill processes in %s: %w", dir, err)
			}
		}
		if round == 0 && after != nil {
			after()
		}
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
}

// procsBelow returns the pids of cgroup.procs of every cgroup at or below
// dirs, by cgroup directory. A cgroup that vanishes meanwhile is skipped.
func procsBelow(dirs []string) (map[string][]int, error) {
	procs := map[string][]int{}
	for _, top := range dirs {
		err := filepath.WalkDir(top, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if gone(err) {
					return nil
				}
				return err
			}
			if !d.IsDir() {
				return nil
			}
			pids, err := occg.GetPids(p)
			if err != nil {
				if gone(err) {
					return nil
				}
				return err
			}
			if len(pids) > 0 {
				procs[p] = pids
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return procs, nil
}

func gone(err error) bool { return errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ENODEV) }

// killInCgroup sends SIGKILL to pids, which were read from the cgroup.procs of
// dir, but only to those still in dir: a pid read from cgroup.procs may have
// exited and been reused by a process outside the pod. Each process is held by
// a pidfd first, then dir's cgroup.procs is read again, and only a process
// still listed there is signalled through its pidfd, which cannot reach a
// different process.
func killInCgroup(dir string, pids []int) error {
	fds := make(map[int]int, len(pids))
	defer func() {
		for _, fd := range fds {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}()
	for _, pid := range pids {
		fd, err := unix.PidfdOpen(pid, 0)
		switch {
		case err == nil:
			fds[pid] = fd
		case errors.Is(err, unix.ESRCH), errors.Is(err, unix.EINVAL):
			// Gone already, or going: EINVAL for a thread-group leader
			// that exited while its other threads still end (a Go
			// program killed a moment ago); the next round sees it.
		case errors.Is(err, unix.ENOSYS):
			fds[pid] = -1 // no pidfd (Linux < 5.3): plain kill, after the check
		default:
			return fmt.Errorf("pidfd_open %d: %w", pid, err)
		}
	}
	still, err := occg.GetPids(dir)
	if err != nil {
		if gone(err) {
			return nil
		}
		return err
	}
	for pid, fd := range fds {
		if !slices.Contains(still, pid) {
			continue
		}
		if fd >= 0 {
			err = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
		} else {
			err = unix.Kill(pid, unix.SIGKILL)
		}
		if err != nil && !errors.Is(err, unix.ESRCH) {
			return fmt.Errorf("kill %d: %w", pid, err)
		}
	}
	return nil
}
