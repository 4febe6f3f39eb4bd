package sandbox

import (
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// lifecycles are the pod lifecycles this process runs (Run, Start), by
// pod directory: process-wide, so that every Manager of the process finds
// them, whichever one started them, and none signals its own process.
var lifecycles = struct {
	sync.Mutex
	m map[string]*runHandle
}{m: map[string]*runHandle{}}

// runHandle is a lifecycle run in this process.
type runHandle struct {
	cancel func()
	done   chan struct{}
}

// register records h as the lifecycle of the pod at dir; false when one
// runs it already.
func register(dir string, h *runHandle) bool {
	lifecycles.Lock()
	defer lifecycles.Unlock()
	if lifecycles.m[dir] != nil {
		return false
	}
	lifecycles.m[dir] = h
	return true
}

func unregister(dir string, h *runHandle) {
	lifecycles.Lock()
	defer lifecycles.Unlock()
	if lifecycles.m[dir] == h {
		delete(lifecycles.m, dir)
	}
}

func registered(dir string) *runHandle {
	lifecycles.Lock()
	defer lifecycles.Unlock()
	return lifecycles.m[dir]
}

// stopRequested reports whether a stop was asked for the runner's pod
// (requestStop wrote its request).
func (r *runner) stopRequested() bool {
	_, err := os.Stat(r.dir + "/" + stopRequestFile)
	return err == nil
}

// stopElsewhere stops the pod's lifecycle run by another process, whose
// stop request is written: it wakes the lifecycle, which reads the
// request and stops the pod, and waits up to wait for it to be done (the
// state no longer names it, or it is gone). A lifecycle that does not
// listen is a monitor of an older podbox: it is sent SIGTERM, as those
// stopped on it; this process is never signalled. False when none runs
// or it did not stop in time.
func (m *Manager) stopElsewhere(name string, st *PodStatus, wait time.Duration) bool {
	pid, start := st.MonitorPID, st.MonitorStart
	if pid == 0 || pid == os.Getpid() || !alive(pid, start) {
		return false
	}
	dir := m.podDir(name)
	if err := wake(dir); err != nil {
		if !st.MonitorDetached {
			return false // an embedder's process that does not listen: not ours to signal
		}
		unix.Kill(pid, unix.SIGTERM)
	}
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		now, err := readState(dir)
		if err != nil || now.MonitorPID != pid || now.MonitorStart != start || !alive(pid, start) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}
