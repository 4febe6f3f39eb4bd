package sandbox

import (
	"context"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
)

// nextEvent waits for the first event of pod that match wants.
func nextEvent(t *testing.T, evs <-chan Event, match func(Event) bool) Event {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-evs:
			if !ok {
				t.Fatal("events channel closed")
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatal("timed out waiting for an event")
		}
	}
}

// Events, Signal, Wait and Logs as an embedder uses them: a container's
// start and exit (with its code and reason) and the pod's phases come as
// events; a signal ends a container; Logs gives the tail, the times and
// follows to the end.
func TestEventsSignalWaitLogs(t *testing.T) {
	e := newTestEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evs, err := e.m.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	talker := e.container("talker", "sh", "-c", "trap 'echo bye; exit 3' TERM; for i in 1 2 3 4 5; do echo line$i; done; while true; do sleep 0.1; done")
	pod := &PodConfig{Name: "api", RestartPolicy: RestartNever, Containers: []ContainerConfig{talker}}
	e.run(pod)
	nextEvent(t, evs, func(ev Event) bool { return ev.Type == EventPodCreated && ev.Pod == "api" })
	started := nextEvent(t, evs, func(ev Event) bool { return ev.Type == EventContainerStarted && ev.Container == "talker" })
	if started.PID <= 0 {
		t.Errorf("started event without a pid: %+v", started)
	}
	nextEvent(t, evs, func(ev Event) bool { return ev.Type == EventPodPhase && ev.Phase == PhaseRunning })

	// Logs: all, the tail with times, since a time to come (nothing).
	waitFor(t, 10*time.Second, "five lines logged", func() bool {
		return strings.Count(readLogs(t, e.m, "api", "talker", LogOptions{}), "\n") >= 5
	})
	if got := readLogs(t, e.m, "api", "talker", LogOptions{}); got != "line1\nline2\nline3\nline4\nline5\n" {
		t.Errorf("Logs: %q", got)
	}
	tail := readLogs(t, e.m, "api", "talker", LogOptions{Tail: 2, Timestamps: true})
	lines := strings.Split(strings.TrimSpace(tail), "\n")
	if len(lines) != 2 || !strings.HasSuffix(lines[0], " line4") || !strings.HasSuffix(lines[1], " line5") {
		t.Fatalf("Logs tail 2 with timestamps: %q", tail)
	}
	ts, _, _ := strings.Cut(lines[0], " ")
	if _, err := time.Parse(time.RFC3339Nano, ts); err != nil {
		t.Errorf("timestamp %q: %v", ts, err)
	}
	if got := readLogs(t, e.m, "api", "talker", LogOptions{Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("Logs since an hour from now: %q", got)
	}
	if _, err := e.m.Logs(ctx, "api", "talker", LogOptions{Previous: true}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Logs of a previous instance that is not: %v", err)
	}

	// Follow until the container ends, which a signal makes it do; Wait
	// sees the pod end.
	r, err := e.m.Logs(ctx, "api", "talker", LogOptions{Follow: true, Tail: 1})
	if err != nil {
		t.Fatal(err)
	}
	followed := make(chan string, 1)
	go func() { b, _ := io.ReadAll(r); followed <- string(b) }()
	if err := e.m.Signal(ctx, "api", "talker", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	exited := nextEvent(t, evs, func(ev Event) bool { return ev.Type == EventContainerExited && ev.Container == "talker" })
	if exited.ExitCode != 3 || exited.Reason != ReasonError {
		t.Errorf("exit event: %+v; want exit code 3, reason Error", exited)
	}
	select {
	case got := <-followed:
		if got != "line5\nbye\n" {
			t.Errorf("followed log: %q, want the last line, then bye", got)
		}
	case <-time.After(20 * time.Second):
		t.Error("following the log did not end with the container")
	}
	wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
	defer wcancel()
	st, err := e.m.Wait(wctx, "api")
	if err != nil || st.Phase != PhaseFailed {
		t.Errorf("Wait: %v, %v; want the pod Failed", st, err)
	}
	if err := e.m.Signal(ctx, "api", "talker", syscall.SIGTERM); !errors.Is(err, ErrNotRunning) {
		t.Errorf("Signal of an ended container: %v", err)
	}
	if err := e.m.Remove(ctx, "api", false); err != nil {
		t.Fatal(err)
	}
	nextEvent(t, evs, func(ev Event) bool { return ev.Type == EventPodRemoved && ev.Pod == "api" })
}

func readLogs(t *testing.T, m *Manager, pod, ctr string, opts LogOptions) string {
	t.Helper()
	r, err := m.Logs(context.Background(), pod, ctr, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Stats read the pod's and its containers' cgroups; Update changes a
// running container's memory and CPU limits in place, the pod's quota
// with them, and keeps them for its next instance.
func TestStatsAndUpdate(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	c := e.container("app", "sh", "-c", "while true; do sleep 1; done")
	c.MemoryLimit = 64 << 20
	e.run(&PodConfig{Name: "res", Containers: []ContainerConfig{c}})

	ps, err := e.m.Stats(ctx, "res")
	if err != nil {
		t.Fatal(err)
	}
	if ps.MemoryUsage == 0 || ps.Pids < 2 || ps.CPUNanos == 0 || len(ps.Containers) != 1 || ps.Containers[0].Name != "app" {
		t.Errorf("pod stats: %+v", ps)
	}
	if cs := ps.Containers[0]; cs.MemoryLimit != 64<<20 || cs.Pids < 1 || cs.MemoryWorkingSet == 0 {
		t.Errorf("container stats: %+v", cs)
	}

	mem, cpu := int64(96<<20), int64(500)
	if err := e.m.Update(ctx, "res", "app", Resources{MemoryLimit: &mem, CPULimitMillis: &cpu}); err != nil {
		t.Fatal(err)
	}
	limitFile, cpuFile := "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"
	if cgroups.IsV2() {
		limitFile, cpuFile = "/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/cpu.max"
	}
	if out, _ := e.exec("res", "app", "cat", limitFile); strings.TrimSpace(out) != strconv.Itoa(96<<20) {
		t.Errorf("the container's %s after Update: %q", limitFile, out)
	}
	if out, _ := e.exec("res", "app", "cat", cpuFile); !strings.HasPrefix(strings.TrimSpace(out), "50000") {
		t.Errorf("the container's %s after Update: %q, want a 50000 quota", cpuFile, out)
	}
	st, err := e.m.Status(ctx, "res")
	if err != nil {
		t.Fatal(err)
	}
	if st.Config.Containers[0].MemoryLimit != mem || st.Config.Containers[0].CPULimitMillis != cpu || st.MemoryQuota != mem {
		t.Errorf("Update not kept: memory %d, cpu %d, quota %d", st.Config.Containers[0].MemoryLimit, st.Config.Containers[0].CPULimitMillis, st.MemoryQuota)
	}
	if limit, _, err := cgroups.LoadPod(st.CgroupPath).Memory(); err != nil || limit != mem {
		t.Errorf("pod cgroup limit after Update: %d, %v; want %d", limit, err, mem)
	}
	// The lifecycle keeps it: its next instance starts with it.
	if err := e.m.Signal(ctx, "res", "app", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the container's restart", func() bool {
		st, err := e.m.Status(ctx, "res")
		return err == nil && st.Containers[0].RestartCount == 1 && st.Containers[0].State == StateRunning
	})
	if out, _ := e.exec("res", "app", "cat", limitFile); strings.TrimSpace(out) != strconv.Itoa(96<<20) {
		t.Errorf("the restarted container's %s: %q", limitFile, out)
	}
	if st, _ := e.m.Status(ctx, "res"); st.Config.Containers[0].MemoryLimit != mem {
		t.Errorf("the lifecycle wrote the old limit back: %d", st.Config.Containers[0].MemoryLimit)
	}

	// The pod's own CPU limit, on its cgroup; a pod has no CPU request.
	podCPU := int64(1500)
	if err := e.m.Update(ctx, "res", "", Resources{CPULimitMillis: &podCPU}); err != nil {
		t.Fatal(err)
	}
	quotaFile := "/sys/fs/cgroup/cpu" + st.CgroupPath + "/cpu.cfs_quota_us"
	if cgroups.IsV2() {
		quotaFile = "/sys/fs/cgroup" + st.CgroupPath + "/cpu.max"
	}
	if b, err := os.ReadFile(quotaFile); err != nil || !strings.HasPrefix(string(b), "150000") {
		t.Errorf("the pod cgroup's %s after Update: %q, %v; want a 150000 quota", quotaFile, b, err)
	}
	if st, _ := e.m.Status(ctx, "res"); st.CPULimitMillis != podCPU {
		t.Errorf("the pod's CPU limit is not kept: %d", st.CPULimitMillis)
	}
	if err := e.m.Update(ctx, "res", "", Resources{CPURequestMillis: &podCPU}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Update of a pod's CPU request: %v", err)
	}

	// A quota the node can not hold is refused, and nothing changes.
	huge := int64(1 << 50)
	if err := e.m.Update(ctx, "res", "app", Resources{MemoryLimit: &huge}); !errors.Is(err, errdefs.ErrResourceExhausted) {
		t.Errorf("Update past the node's memory: %v", err)
	}
	neg := int64(-1)
	if err := e.m.Update(ctx, "res", "app", Resources{MemoryLimit: &neg}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Update with a negative limit: %v", err)
	}
	if err := e.m.Update(ctx, "res", "nosuch", Resources{MemoryLimit: &mem}); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Update of a missing container: %v", err)
	}
	if st, _ := e.m.Status(ctx, "res"); st.Config.Containers[0].MemoryLimit != mem {
		t.Errorf("a refused Update changed the limit: %d", st.Config.Containers[0].MemoryLimit)
	}
}

// ReopenLog, after the log file was renamed aside (as the kubelet rotates
// CRI logs), makes the lifecycle write to a new file at the log's path.
func TestReopenLog(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	st := e.run(&PodConfig{Name: "reopen", Containers: []ContainerConfig{
		e.container("app", "sh", "-c", "while true; do echo tick; sleep 0.1; done")}})
	path := st.Containers[0].LogPath
	waitFor(t, 10*time.Second, "a first line", func() bool { fi, err := os.Stat(path); return err == nil && fi.Size() > 0 })
	if err := os.Rename(path, path+".aside"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.ReopenLog(ctx, "reopen", "app"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "lines in the new file", func() bool { fi, err := os.Stat(path); return err == nil && fi.Size() > 0 })
	aside, _ := os.ReadFile(path + ".aside")
	time.Sleep(300 * time.Millisecond)
	if again, _ := os.ReadFile(path + ".aside"); len(again) != len(aside) {
		t.Errorf("the file renamed aside still grows: %d, then %d bytes", len(aside), len(again))
	}
	if err := e.m.ReopenLog(ctx, "reopen", "nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("ReopenLog of a missing container: %v", err)
	}
}
