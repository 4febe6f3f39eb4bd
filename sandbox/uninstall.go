package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
)

// Uninstall removes what this Manager made on the host, for a runtime that
// is being uninstalled: the pod network (bridge, nftables table, leases;
// kept while a pod of another state root is on it), the cgroup parent
// (kept while it holds another's cgroups), and the state and log roots.
// Every pod must have been removed first (errdefs.ErrFailedPrecondition
// names those left). The image store and named volumes are the caller's,
// and net.ipv4.ip_forward is never set back (see the README).
//
// Equivalent to: podbox network rm; rmdir the cgroup parent; rm -rf the
// state and log roots.
func (m *Manager) Uninstall(ctx context.Context) error {
	pods, err := m.List(ctx)
	if err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	if len(pods) > 0 {
		var names []string
		for _, p := range pods {
			names = append(names, p.Ref())
		}
		return fmt.Errorf("uninstall: pods are left, remove them first: %s: %w", strings.Join(names, ", "), errdefs.ErrFailedPrecondition)
	}
	var errs []error
	owners, err := m.NetworkLeases()
	switch {
	case err != nil:
		errs = append(errs, err)
	case len(owners) > 0:
		errs = append(errs, fmt.Errorf("the pod network is kept: %d pods of other state roots are on it: %w", len(owners), errdefs.ErrFailedPrecondition))
	default:
		if err := m.RemoveNetwork(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := cgroups.RemoveParent(m.opts.CgroupParent); err != nil {
		errs = append(errs, err)
	}
	// The log root, once empty of pods (each pod's directory went with it).
	if err := os.Remove(m.opts.LogRoot); err != nil && !os.IsNotExist(err) {
		errs = append(errs, fmt.Errorf("log root: %w", err))
	}
	if err := os.RemoveAll(m.opts.Root); err != nil {
		errs = append(errs, fmt.Errorf("state root: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("uninstall: %w", err)
	}
	return nil
}

// Reap collects the orphans this process inherited as a child subreaper
// that nobody waits for, until ctx ends, looking every interval (default
// one second).
//
// A process that starts containers becomes a child subreaper
// (PR_SET_CHILD_SUBREAPER, as `runc run` and containerd's shims do), since
// the containers' processes are its grandchildren. That is process-wide:
// every orphaned descendant of the process now comes to it rather than to
// init, among them those of an embedder's own children that daemonize
// (fork twice), which then stay <defunct> unless the embedder waits for
// them. Reap waits for those: a child that has been a zombie for a whole
// interval, which no waiter of its own (os/exec's Wait, podbox's) has
// collected. Run it in a goroutine when the program starts processes that
// leave orphans behind; podbox's own processes never need it.
func Reap(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	seen := map[int]bool{}
	for {
		now := map[int]bool{}
		for _, pid := range zombieChildren() {
			if seen[pid] {
				var ws unix.WaitStatus
				unix.Wait4(pid, &ws, unix.WNOHANG, nil)
				continue
			}
			now[pid] = true
		}
		seen = now
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// zombieChildren are this process's children that are zombies.
func zombieChildren() []int {
	var pids []int
	tasks, _ := filepath.Glob("/proc/self/task/*/children")
	done := map[int]bool{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, s := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(s)
			if err != nil || done[pid] {
				continue
			}
			done[pid] = true
			if isZombie(pid) {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	return err == nil && zombieStat(b)
}
