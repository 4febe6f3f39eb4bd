package cgroups

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	occg "github.com/opencontainers/cgroups"
	"github.com/opencontainers/cgroups/manager"

	"github.com/podbox/podbox/internal/testutil"
)

// rootParent makes a parent "/podbox-tXXXXXX" for this test alone and removes it,
// with whatever is below it, in t.Cleanup.
func rootParent(t *testing.T) (parent, prefix string) {
	t.Helper()
	testutil.RequiresRoot(t)
	prefix = testutil.Prefix(t)
	parent = "/" + prefix
	t.Cleanup(func() {
		if err := LoadPod(parent).Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if left := cgroupsNamed(t, prefix); len(left) > 0 {
			t.Errorf("cgroups left after cleanup: %v", left)
		}
	})
	return parent, prefix
}

// cgroupsNamed lists the directories under /sys/fs/cgroup (every v1
// hierarchy, and v2, hybrid or not) whose path contains s.
func cgroupsNamed(t *testing.T, s string) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir("/sys/fs/cgroup", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() && strings.Contains(p, s) {
			found = append(found, p)
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// startInPod starts cmd stopped at a `read`, moves it into child cgroup name
// of p, then lets it exec argv: it allocates nothing outside the pod.
func startInPod(t *testing.T, p *Pod, name string, argv ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sh", append([]string{"-c", `read go && exec "$@"`, "sh"}, argv...)...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := p.Join(name, cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(stdin, "go\n"); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// inCgroup reports whether pid is in cgroup path: in the memory, pids, cpu and
// freezer hierarchies on v1 (and the v2 one in the hybrid layout), in v2.
func inCgroup(t *testing.T, pid int, path string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cgroup"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{":" + path}
	if !IsV2() {
		want = []string{"memory:" + path, "pids:" + path, "cpu:" + path, "freezer:" + path}
		if occg.IsCgroup2HybridMode() {
			want = append(want, ":"+path)
		}
	}
	for _, w := range want {
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if _, rest, ok := strings.Cut(line, ":"); ok && rest == w {
				found = true
			}
		}
		if !found {
			t.Errorf("pid %d: no %q in /proc/%d/cgroup:\n%s", pid, w, pid, b)
		}
	}
}

func killedBy(err error) syscall.Signal {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return ws.Signal()
		}
	}
	return 0
}

func TestRootPodLifecycle(t *testing.T) {
	parent, prefix := rootParent(t)
	path := parent + "/web"
	t.Logf("cgroup v2: %v, hybrid: %v, pod %s", IsV2(), occg.IsCgroup2HybridMode(), path)

	p, err := CreatePod(path, 64*Mi)
	if err != nil {
		t.Fatal(err)
	}
	if limit, usage, err := p.Memory(); err != nil || limit != 64*Mi || usage < 0 {
		t.Fatalf("Memory() = %d, %d, %v; want limit 64Mi", limit, usage, err)
	}
	// Again: it updates the limit; 0 lifts it.
	if _, err := CreatePod(path, 128*Mi); err != nil {
		t.Fatal(err)
	}
	if limit, _, err := p.Memory(); err != nil || limit != 128*Mi {
		t.Fatalf("Memory() limit = %d, %v after update; want 128Mi", limit, err)
	}
	if _, err := CreatePod(path, 0); err != nil {
		t.Fatal(err)
	}
	if limit, _, err := p.Memory(); err != nil || limit != 0 {
		t.Fatalf("Memory() limit = %d, %v with no quota; want 0", limit, err)
	}
	if _, err := CreatePod(path, 64*Mi); err != nil {
		t.Fatal(err)
	}

	pause := startInPod(t, p, "pause", "sleep", "60")
	app := startInPod(t, p, "app", "sleep", "60")
	inCgroup(t, pause.Process.Pid, path+"/pause")
	inCgroup(t, app.Process.Pid, path+"/app")

	// A frozen container must not keep Destroy from killing it.
	frozen, err := manager.New(&occg.Cgroup{Path: path + "/app", Resources: &occg.Resources{SkipDevices: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := frozen.Freeze(occg.Frozen); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = frozen.Freeze(occg.Thawed) }) // should Destroy fail, let the kills of the cleanups land

	if err := LoadPod(path).Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*exec.Cmd{pause, app} {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if sig := killedBy(err); sig != syscall.SIGKILL {
				t.Errorf("%v: ended with %v, want SIGKILL", cmd.Args, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%v still running after Destroy", cmd.Args)
		}
	}
	if left := cgroupsNamed(t, path); len(left) > 0 {
		t.Errorf("left after Destroy: %v", left)
	}
	if len(cgroupsNamed(t, prefix)) == 0 {
		t.Error("Destroy of the pod removed its parent too")
	}
	if err := p.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := LoadPod(parent + "/never").Destroy(); err != nil {
		t.Errorf("Destroy of a pod never made: %v", err)
	}
}

func TestRootOOMKillByPodLimit(t *testing.T) {
	parent, _ := rootParent(t)
	path := parent + "/web"
	p, err := CreatePod(path, 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	// The container cgroup has no limit of its own: only the pod's 32Mi
	// stops `tail /dev/zero`, which buffers an endless line.
	start := time.Now()
	cmd := startInPod(t, p, "app", "tail", "/dev/zero")
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if sig := killedBy(err); sig != syscall.SIGKILL {
			t.Fatalf("tail ended with %v, want SIGKILL", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tail /dev/zero still running after 30s under a 32Mi pod limit")
	}
	t.Logf("killed after %v", time.Since(start).Round(time.Millisecond))

	n, err := OOMKillCount(path + "/app")
	if err != nil {
		t.Fatal(err)
	}
	if n < 1 {
		t.Errorf("OOMKillCount(app) = %d, want >= 1: the kill is counted on the victim's cgroup", n)
	}
	podKills, err := OOMKillCount(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("oom_kill: app %d, pod %d", n, podKills)
	// What inspect shows: v2 counts the kill on the pod (memory.events is
	// hierarchical), v1 counts on the pod how often its limit was hit.
	ev, err := p.MemoryEvents()
	if err != nil {
		t.Fatal(err)
	}
	if IsV2() && ev["oom_kill"] < 1 {
		t.Errorf("pod memory.events oom_kill = %d, want >= 1: %v", ev["oom_kill"], ev)
	}
	if !IsV2() && ev["failcnt"] < 1 {
		t.Errorf("pod memory.failcnt = %d, want >= 1: %v", ev["failcnt"], ev)
	}
	psi, err := p.Pressure()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat("/proc/pressure/memory"); err == nil && psi["memory"] == nil {
		t.Errorf("the kernel has PSI, but the pod's memory pressure is missing: %v", psi)
	}
	t.Logf("memory events %v, memory pressure %+v", ev, psi["memory"])
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
}

// TestRootKillBySignals drives the fallback that v1 relies on (and v2 before
// Linux 5.14): SIGKILL through a pidfd to each pid of cgroup.procs, on a real
// v1 memory cgroup (or v2 cgroup) that only this test's processes are in.
func TestRootKillBySignals(t *testing.T) {
	parent, _ := rootParent(t)
	p, err := CreatePod(parent+"/web", 0)
	if err != nil {
		t.Fatal(err)
	}
	cmd := startInPod(t, p, "app", "sh", "-c", "sleep 60 & sleep 60 & wait")
	var dir string
	if IsV2() {
		dir = filepath.Join("/sys/fs/cgroup", p.Child("app"))
	} else {
		m, err := manager.New(&occg.Cgroup{Path: p.Child("app"), Resources: &occg.Resources{SkipDevices: true}})
		if err != nil {
			t.Fatal(err)
		}
		dir = m.Path("memory")
	}
	// The shell and its two sleeps, once it has forked them.
	var pids []int
	for deadline := time.Now().Add(testutil.Wait(5 * time.Second)); len(pids) != 3; time.Sleep(10 * time.Millisecond) {
		if pids, err = occg.GetPids(dir); err != nil || time.Now().After(deadline) {
			t.Fatalf("pids in %s: %v, %v; want 3", dir, pids, err)
		}
	}
	if err := killAll([]string{dir}, killInCgroup, nil); err != nil {
		t.Fatal(err)
	}
	// On v1 the processes are killed one by one: the shell may see its
	// sleeps die first and end of that (its wait returns) before its own
	// SIGKILL arrives. Any other signal, or no end, is wrong.
	err = cmd.Wait()
	var ee *exec.ExitError
	if sig := killedBy(err); sig != syscall.SIGKILL && !(err == nil || errors.As(err, &ee) && !ee.Sys().(syscall.WaitStatus).Signaled()) {
		t.Errorf("sh ended by %v (%v), want SIGKILL or its own exit", sig, err)
	}
	if pids, err := occg.GetPids(dir); err != nil || len(pids) != 0 {
		t.Errorf("left in %s: %v, %v", dir, pids, err)
	}
}

// TestRootUnifiedOnHybrid runs the v2 code's kill and removal (cgroup.kill,
// the real rmdir of nested cgroups) on the v2 hierarchy of the hybrid layout,
// which has no memory controller, so cgroups are made with a plain mkdir.
func TestRootUnifiedOnHybrid(t *testing.T) {
	testutil.RequiresRoot(t)
	if !occg.IsCgroup2HybridMode() {
		t.Skip("no hybrid v2 hierarchy at /sys/fs/cgroup/unified")
	}
	prefix := testutil.Prefix(t)
	u := &unified{
		root:  "/sys/fs/cgroup/unified",
		mkdir: func(dir string, _ *occg.Cgroup) error { return os.MkdirAll(dir, 0o755) },
		rmdir: occg.RemovePath,
		kill:  killInCgroup,
	}
	p := &Pod{path: "/" + prefix + "/web", be: u}
	t.Cleanup(func() {
		_ = u.destroy("/" + prefix)
		if left := cgroupsNamed(t, prefix); len(left) > 0 {
			t.Errorf("left: %v", left)
		}
	})
	a := startInPod(t, p, "pause", "sleep", "60")
	b := startInPod(t, p, "app", "sleep", "60")
	if err := os.Mkdir(filepath.Join(u.root, p.Child("app"), "nested"), 0o755); err != nil {
		t.Fatal(err)
	}
	inCgroupV2 := func(pid int, path string) {
		t.Helper()
		bs, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
		if !strings.Contains(string(bs), "\n0::"+path+"\n") {
			t.Errorf("pid %d not in %s:\n%s", pid, path, bs)
		}
	}
	inCgroupV2(a.Process.Pid, p.Child("pause"))
	inCgroupV2(b.Process.Pid, p.Child("app"))
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []*exec.Cmd{a, b} {
		if sig := killedBy(cmd.Wait()); sig != syscall.SIGKILL {
			t.Errorf("%v ended by %v, want SIGKILL", cmd.Args, sig)
		}
	}
	if _, err := os.Stat(filepath.Join(u.root, p.Path())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pod cgroup still there: %v", err)
	}
	if err := p.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
}

func TestRootPidsLimit(t *testing.T) {
	parent, _ := rootParent(t)
	p, err := CreatePod(parent+"/forks", 0, PidsLimit(8))
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Pids(); err != nil || st.Limit != 8 || st.Current != 0 || st.Denied != 0 {
		t.Fatalf("Pids() = %+v, %v; want limit 8, none in use, none denied", st, err)
	}
	// A shell in the pod that forks 20 sleeps: the ninth fork fails.
	cmd := startInPod(t, p, "app", "sh", "-c", `n=0; for i in $(seq 20); do sleep 60 & n=$((n+1)); done 2>/dev/null; wait`)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if st, err := p.Pids(); err == nil && st.Current == 8 && st.Denied > 0 {
			break
		}
		if time.Now().After(deadline) {
			st, err := p.Pids()
			t.Fatalf("the pod never reached its limit of 8 pids nor was refused a fork: %+v (%v)", st, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Held at the limit: the host still forks.
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Fatalf("the host can not fork: %v %s", err, out)
	}
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	// Recreated without a limit, the same pod has none.
	p, err = CreatePod(parent+"/nolimit", 0)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := p.Pids(); err != nil || st.Limit != 0 {
		t.Errorf("a pod made without PidsLimit has limit %d (%v), want none", st.Limit, err)
	}
}
