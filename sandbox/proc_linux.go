package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/namespaces"
)

// processStart returns the start time of pid in clock ticks since boot
// (field 22 of /proc/PID/stat), which tells a live process from a later one
// that reused its PID.
func processStart(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: split
	// after its closing parenthesis.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	if len(fields) < 20 {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return strconv.ParseUint(fields[19], 10, 64)
}

// zombieStat reports whether b, a /proc/PID/stat, is a zombie's.
func zombieStat(b []byte) bool {
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && len(b) > i+2 && b[i+2] == 'Z'
}

// processAge is how long ago a process started at start ticks (field 22 of
// /proc/PID/stat, in USER_HZ since boot); false when the clock can not be
// read.
func processAge(start uint64) (time.Duration, bool) {
	var ts unix.Timespec
	if start == 0 || unix.ClockGettime(unix.CLOCK_BOOTTIME, &ts) != nil {
		return 0, false
	}
	const userHZ = 100 // fixed for /proc's clock ticks on Linux
	started := time.Duration(start) * (time.Second / userHZ)
	return time.Duration(ts.Nano()) - started, true
}

// alive reports whether pid is still the process that started at start
// ticks, and not a zombie.
func alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	if zombieStat(b) {
		return false
	}
	got, err := processStart(pid)
	return err == nil && (start == 0 || got == start)
}

// findByArgv0 returns the PIDs of processes whose argv[0] is exactly argv0.
// The pause of a pod is started with an argv[0] naming the pod's directory,
// so it can be found even when creation was interrupted before its PID was
// written down.
func findByArgv0(argv0 string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	want := append([]byte(argv0), 0)
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && bytes.HasPrefix(b, want) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// setHostname sets the hostname inside the UTS namespace pinned at nsPath.
//
// Equivalent to: nsenter --uts=NSPATH hostname NAME
func setHostname(nsPath, name string) error {
	err := namespaces.Enter(map[string]string{"uts": nsPath}, func() error {
		return unix.Sethostname([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("set hostname %q: %w", name, err)
	}
	return nil
}

// pidfdIn returns a pidfd for pid when pid is a process of the cgroup at
// cgroupPath (absolute, such as "/podbox/web/app") or of one below it, and
// -1 when it is not: gone, or its PID reused by a process elsewhere. The
// check is made while the pidfd is held, so the process it names cannot
// change under it; signal it with unix.PidfdSendSignal.
func pidfdIn(pid int, cgroupPath string) (int, error) {
	if pid <= 0 {
		return -1, nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		unix.Close(fd)
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, unix.ESRCH) {
			return -1, nil
		}
		return -1, err
	}
	// "0::/podbox/web/app" on v2; "7:memory:/podbox/web/app" and the
	// like on v1.
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) == 3 && (parts[2] == cgroupPath || strings.HasPrefix(parts[2], cgroupPath+"/")) {
			return fd, nil
		}
	}
	unix.Close(fd)
	return -1, nil
}

// waitPidfds waits until every process the pidfds name has exited, until
// the deadline, or until ctx ends. A pidfd polls readable once its process
// has exited.
func waitPidfds(ctx context.Context, fds []int, deadline time.Time) {
	for len(fds) > 0 && ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		pfds := make([]unix.PollFd, len(fds))
		for i, fd := range fds {
			pfds[i] = unix.PollFd{Fd: int32(fd), Events: unix.POLLIN}
		}
		// Short slices, to notice ctx.
		if _, err := unix.Poll(pfds, int(min(left, 100*time.Millisecond).Milliseconds())+1); err != nil && !errors.Is(err, unix.EINTR) {
			return
		}
		var still []int
		for i, p := range pfds {
			if p.Revents == 0 {
				still = append(still, fds[i])
			}
		}
		fds = still
	}
}
