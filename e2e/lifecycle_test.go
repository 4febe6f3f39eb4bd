package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/namespaces"
)

// TestInitContainersInOrder: init1, then init2 (which needs init1's
// marker), then the app (which needs both).
func TestInitContainersInOrder(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	if out := mustPodbox(t, e, "run", localManifest(t, "init-order.yaml")); out != "init-order\n" {
		t.Errorf("run printed %q", out)
	}
	pod := e.getPod(t, "init-order")
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("phase %q, want Running (message %q)", pod.Status.Phase, pod.Status.Message)
	}
	if n := len(pod.Status.InitContainerStatuses); n != 2 {
		t.Fatalf("%d initContainerStatuses, want 2", n)
	}
	var prevEnd time.Time
	for i, cs := range pod.Status.InitContainerStatuses {
		want := fmt.Sprintf("init%d", i+1)
		tr := cs.State.Terminated
		if cs.Name != want || tr == nil || tr.Reason != "Completed" || tr.ExitCode != 0 || cs.RestartCount != 0 {
			b, _ := json.Marshal(cs)
			t.Errorf("initContainerStatuses[%d] = %s, want %s terminated, Completed, exit 0, no restart", i, b, want)
			continue
		}
		if tr.StartedAt.Time.Before(prevEnd) {
			t.Errorf("%s started at %s, before the previous init container ended (%s)", cs.Name, tr.StartedAt, prevEnd)
		}
		prevEnd = tr.FinishedAt.Time
	}
	app := containerStatus(t, pod, "app")
	if app.State.Running == nil || app.RestartCount != 0 || !app.Ready {
		t.Errorf("app: %+v, want running, ready, never restarted", app)
	} else if app.State.Running.StartedAt.Time.Before(prevEnd) {
		t.Errorf("app started at %s, before init2 ended (%s)", app.State.Running.StartedAt, prevEnd)
	}
	// The markers are there, in order, for the app to see.
	if out := mustPodbox(t, e, "exec", "init-order", "-c", "app", "--", "cat", "/w/a", "/w/b"); out != "one\ntwo\n" {
		t.Errorf("markers: %q", out)
	}
	for _, c := range []string{"init1", "init2"} {
		if out, errOut, code := podbox(t, e, "logs", "init-order", "-c", c); code != 0 || out != "" {
			t.Errorf("logs -c %s: exit %d stdout %q stderr %q", c, code, out, errOut)
		}
	}
}

// TestFailingInitContainerFailsPod: under restartPolicy Never a failing init
// container fails the pod, and run says which and why.
func TestFailingInitContainerFailsPod(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	out, errOut, code := podbox(t, e, "run", localManifest(t, "init-fail.yaml"))
	if code == 0 {
		t.Fatalf("run of a pod whose init container fails: exit 0, stdout %q", out)
	}
	for _, want := range []string{"podbox: ", `"setup-fails"`, "exit code 3", "fatal: init-marker-7f3a missing", "podbox rm -f init-fail"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("run: stderr lacks %q:\n%s", want, errOut)
		}
	}
	pod := e.getPod(t, "init-fail")
	if pod.Status.Phase != v1.PodFailed {
		t.Errorf("phase %q, want Failed", pod.Status.Phase)
	}
	if !strings.Contains(pod.Status.Message, "setup-fails") {
		t.Errorf("status.message %q does not name the init container", pod.Status.Message)
	}
	ics := containerStatus(t, pod, "setup-fails")
	if tr := ics.State.Terminated; tr == nil || tr.ExitCode != 3 || tr.Reason != "Error" || ics.RestartCount != 0 {
		t.Errorf("setup-fails: %+v, restartCount %d; want terminated, exit 3, Error, no restart", ics.State, ics.RestartCount)
	}
	app := containerStatus(t, pod, "app")
	if app.State.Running != nil || app.RestartCount != 0 || (app.Started != nil && *app.Started) {
		t.Errorf("app: %+v, want never started", app)
	}
	if rows := e.ps(t); len(rows) != 1 || rows[0].Phase != "Failed" {
		t.Errorf("ps: %+v, want init-fail Failed", rows)
	}
	// Both lines, in either order: stdout and stderr are separate pipes.
	if out := mustPodbox(t, e, "logs", "init-fail", "-c", "setup-fails"); len(out) != len("preparing\nfatal: init-marker-7f3a missing\n") ||
		!strings.Contains(out, "preparing\n") || !strings.Contains(out, "fatal: init-marker-7f3a missing\n") {
		t.Errorf("logs -c setup-fails: %q", out)
	}
	// A failed pod holds no process: rm needs no -f.
	mustPodbox(t, e, "rm", "init-fail")
	e.assertNothingLeft(t)
}

// TestRestartCounting: a crashing app is restarted with the (short, test)
// backoff; its counts, last state and previous log are reported.
func TestRestartCounting(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "crashloop.yaml"))
	var pod *v1.Pod
	eventually(t, 10*time.Second, "crasher restarted twice", func() (bool, string) {
		pod = e.getPod(t, "crashloop")
		cs := containerStatus(t, pod, "crasher")
		return cs.RestartCount >= 2, fmt.Sprintf("restartCount %d", cs.RestartCount)
	})
	cs := containerStatus(t, pod, "crasher")
	if lt := cs.LastTerminationState.Terminated; lt == nil || lt.ExitCode != 1 || lt.Reason != "Error" {
		t.Errorf("lastState: %+v, want terminated, exit 1, Error", cs.LastTerminationState)
	}
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("phase %q, want Running (restartPolicy Always)", pod.Status.Phase)
	}
	if rows := e.ps(t); len(rows) != 1 || rows[0].Restarts < 2 {
		t.Errorf("ps: %+v, want RESTARTS >= 2", rows)
	}

	// --previous shows the instance before the current one; the current
	// one (running, waiting or just terminated) is number restartCount+1.
	before := int(containerStatus(t, e.getPod(t, "crashloop"), "crasher").RestartCount)
	prev := mustPodbox(t, e, "logs", "--previous", "crashloop", "-c", "crasher")
	cur := mustPodbox(t, e, "logs", "crashloop", "-c", "crasher")
	after := int(containerStatus(t, e.getPod(t, "crashloop"), "crasher").RestartCount)
	re := regexp.MustCompile(`^instance (\d+)\n$`)
	m := re.FindStringSubmatch(prev)
	if m == nil {
		t.Fatalf("logs --previous: %q, want one \"instance N\" line", prev)
	}
	if n, _ := strconv.Atoi(m[1]); n < before || n > after {
		t.Errorf("logs --previous shows instance %d; restartCount was %d then %d, so want the instance in [%d, %d]", n, before, after, before, after)
	}
	if cur == prev || (cur != "" && !re.MatchString(cur)) {
		t.Errorf("logs: %q (previous %q), want the current instance's line", cur, prev)
	}
}

// logTimes parses `logs --timestamps` output: the time of each line's text.
func logTimes(t *testing.T, out string) map[string]time.Time {
	t.Helper()
	times := map[string]time.Time{}
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		ts, text, _ := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if err != nil {
			t.Fatalf("logs --timestamps: line %q: %v", l, err)
		}
		times[text] = tm
	}
	return times
}

// TestSidecarStartStopOrder: the native sidecar runs before the app starts,
// and is stopped only after the app has exited.
func TestSidecarStartStopOrder(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "sidecar-order.yaml"))
	pod := e.getPod(t, "sidecar-order")
	if sc := containerStatus(t, pod, "sidecar"); sc.State.Running == nil {
		t.Errorf("sidecar: %+v, want running", sc.State)
	}
	eventually(t, 5*time.Second, "both started", func() (bool, string) {
		a := mustPodbox(t, e, "logs", "sidecar-order", "-c", "app")
		s := mustPodbox(t, e, "logs", "sidecar-order", "-c", "sidecar")
		return strings.Contains(a, "app started") && strings.Contains(s, "sidecar started"), a + s
	})
	mustPodbox(t, e, "stop", "--time", "10", "sidecar-order")

	app := logTimes(t, mustPodbox(t, e, "logs", "--timestamps", "sidecar-order", "-c", "app"))
	side := logTimes(t, mustPodbox(t, e, "logs", "--timestamps", "sidecar-order", "-c", "sidecar"))
	for _, need := range []struct {
		m    map[string]time.Time
		line string
	}{{app, "app started"}, {app, "app stopping"}, {app, "app stopped"}, {side, "sidecar started"}, {side, "sidecar stopping"}} {
		if _, ok := need.m[need.line]; !ok {
			t.Fatalf("no %q in the logs: app %v, sidecar %v", need.line, app, side)
		}
	}
	if !app["app started"].After(side["sidecar started"]) {
		t.Errorf("app started at %s, not after the sidecar (%s)", app["app started"], side["sidecar started"])
	}
	// The app takes 0.5 s to exit after SIGTERM; the sidecar must get its
	// SIGTERM only then.
	if !side["sidecar stopping"].After(app["app stopped"]) {
		t.Errorf("sidecar stopping at %s, before the app had stopped (stopping %s, stopped %s)",
			side["sidecar stopping"], app["app stopping"], app["app stopped"])
	}
	pod = e.getPod(t, "sidecar-order")
	for _, c := range []string{"app", "sidecar"} {
		if tr := containerStatus(t, pod, c).State.Terminated; tr == nil || tr.ExitCode != 0 {
			t.Errorf("%s after stop: %+v, want terminated with 0", c, containerStatus(t, pod, c).State)
		}
	}
	if pod.Status.Phase != v1.PodSucceeded {
		t.Errorf("phase after stop %q, want Succeeded (every container exited 0)", pod.Status.Phase)
	}
}

// TestPauseKilledHeals: the monitor restarts a killed pause into the pinned
// namespaces; the app keeps running, unrestarted, at the same IP.
func TestPauseKilledHeals(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "httpd.yaml"))
	before := e.inspect(t, "httpd")
	url := "http://" + before.PodIP + ":80/"
	fetchEventually(t, 5*time.Second, url, "served by")

	after := killPause(t, e, "httpd", before, 3*time.Second)
	if after.PodIP != before.PodIP || after.Phase != "Running" {
		t.Errorf("after healing: podIP %q phase %q; before: %q", after.PodIP, after.Phase, before.PodIP)
	}
	// The new pause is in the pod's pinned namespaces.
	for _, kind := range []string{"net", "ipc", "uts"} {
		ino, err := namespaces.Inode(fmt.Sprintf("/proc/%d/ns/%s", after.PausePID, kind))
		if err != nil || ino != after.Namespaces[kind].Inode {
			t.Errorf("new pause's %s namespace %d (%v), the pod's is %d", kind, ino, err, after.Namespaces[kind].Inode)
		}
	}
	pod := e.getPod(t, "httpd")
	if pod.Status.PodIP != before.PodIP || pod.Status.Phase != v1.PodRunning {
		t.Errorf("get pod: podIP %q phase %q", pod.Status.PodIP, pod.Status.Phase)
	}
	if cs := containerStatus(t, pod, "server"); cs.RestartCount != 0 || cs.State.Running == nil {
		t.Errorf("server: restartCount %d, state %+v; want 0, running", cs.RestartCount, cs.State)
	}
	fetchEventually(t, 2*time.Second, url, "served by")
}

// TestMonitorKilled: a pod whose monitor died is Unknown, and rm -f still
// removes all of it.
func TestMonitorKilled(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "httpd.yaml"))
	in := e.inspect(t, "httpd")
	if in.MonitorPID <= 0 {
		t.Fatalf("inspect: monitorPid %d", in.MonitorPID)
	}
	if err := syscall.Kill(in.MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 monitor %d: %v", in.MonitorPID, err)
	}
	eventually(t, 3*time.Second, "ps: httpd Unknown", func() (bool, string) {
		rows := e.ps(t)
		return len(rows) == 1 && rows[0].Phase == "Unknown", fmt.Sprintf("%+v", rows)
	})
	out := mustPodbox(t, e, "ps")
	if !regexp.MustCompile(`(?m)^httpd\s+Unknown\s`).MatchString(out) {
		t.Errorf("ps table:\n%s", out)
	}
	if pod := e.getPod(t, "httpd"); pod.Status.Phase != v1.PodUnknown || !strings.Contains(pod.Status.Message, "monitor") {
		t.Errorf("get pod: phase %q message %q; want Unknown, about the monitor", pod.Status.Phase, pod.Status.Message)
	}
	mustPodbox(t, e, "rm", "-f", "httpd")
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after rm -f: %+v", rows)
	}
	e.assertNothingLeft(t)
}

// TestSidecarTerminatedWhenPodCompletes: a pod whose app containers have
// all ended is complete; its sidecars are stopped then, and none is left
// reported as waiting to restart.
func TestSidecarTerminatedWhenPodCompletes(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	// The sidecar crashes at once, so it spends nearly all its time waiting
	// out its backoff; the app ends with 0 after a second and a half.
	m := manifest(t, "complete.yaml", `apiVersion: v1
kind: Pod
metadata: {name: complete}
spec:
  restartPolicy: Never
  initContainers:
  - name: side
    image: busybox
    restartPolicy: Always
    command: ["sh", "-c", "echo side; exit 1"]
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 1.5"]
`)
	mustPodbox(t, e, "run", m)
	eventually(t, 10*time.Second, "the pod Succeeded", func() (bool, string) {
		rows := e.ps(t)
		return len(rows) == 1 && rows[0].Phase == "Succeeded", fmt.Sprintf("%+v", rows)
	})
	time.Sleep(time.Second) // no restart may happen after completion
	pod := e.getPod(t, "complete")
	side := containerStatus(t, pod, "side")
	if side.State.Terminated == nil {
		t.Errorf("sidecar of a completed pod: state %+v, want terminated (nothing will restart it)", side.State)
	}
	if app := containerStatus(t, pod, "app"); app.State.Terminated == nil || app.State.Terminated.Reason != "Completed" {
		t.Errorf("app: %+v, want terminated, Completed", app.State)
	}
}

// TestMonitorOutlivesCaller: `podbox run` started in a cgroup of its own
// (as a login session's scope or a systemd unit is), which is then killed
// whole, as logind or `systemctl stop` kill one: the pod's monitor was moved
// out of it, so the pod keeps Running and every verb still works.
func TestMonitorOutlivesCaller(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	// The cgroup2 hierarchy: the only one on v2, the "unified" one in the
	// hybrid layout, where every process has a cgroup too.
	root := "/sys/fs/cgroup"
	if !cgroups.IsV2() {
		root = "/sys/fs/cgroup/unified"
	}
	caller := filepath.Join(root, e.prefix+"-caller")
	if err := os.Mkdir(caller, 0o755); err != nil {
		t.Fatalf("make the caller's cgroup: %v", err)
	}
	killCaller := func() error {
		return os.WriteFile(filepath.Join(caller, "cgroup.kill"), []byte("1"), 0)
	}
	t.Cleanup(func() {
		killCaller()
		for range 100 {
			if err := os.Remove(caller); err == nil || os.IsNotExist(err) {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("cleanup: cgroup %s is still there", caller)
	})
	fd, err := unix.Open(caller, unix.O_DIRECTORY|unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	inCaller := &syscall.SysProcAttr{UseCgroupFD: true, CgroupFD: fd}

	// A process that stays, as the session's shell would, and podbox run.
	sleeper := exec.Command("sleep", "600")
	sleeper.SysProcAttr = inCaller
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	go sleeper.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	run := e.command(ctx, "run", localManifest(t, "httpd.yaml"))
	run.SysProcAttr = inCaller
	if out, err := run.CombinedOutput(); err != nil {
		t.Fatalf("podbox run in the caller's cgroup: %v\n%s", err, out)
	}
	monitor := e.inspect(t, "httpd").MonitorPID

	if err := killCaller(); err != nil {
		t.Fatalf("kill the caller's cgroup: %v", err)
	}
	eventually(t, 5*time.Second, "the caller's cgroup to be empty", func() (bool, string) {
		b, _ := os.ReadFile(filepath.Join(caller, "cgroup.events"))
		return strings.Contains(string(b), "populated 0"), string(b)
	})
	if err := syscall.Kill(monitor, 0); err != nil {
		t.Fatalf("the monitor (pid %d) died with its caller's cgroup: %v", monitor, err)
	}
	if rows := e.ps(t); len(rows) != 1 || rows[0].Phase != "Running" {
		t.Fatalf("ps after the caller's cgroup was killed: %+v", rows)
	}
	fetchEventually(t, 5*time.Second, "http://"+e.getPod(t, "httpd").Status.PodIP+"/", "served by")
	mustPodbox(t, e, "stop", "--time", "1", "httpd")
	if rows := e.ps(t); len(rows) != 1 || rows[0].Phase != "Stopped" {
		t.Errorf("ps after stop: %+v", rows)
	}
	mustPodbox(t, e, "rm", "-f", "httpd")
	e.assertNothingLeft(t)
}

// TestStopOrphanedSparesReusedPID: with its monitor gone, a pod is stopped
// by signalling its containers' recorded PIDs; a PID the kernel has since
// given to another process (simulated: the record now names a process of
// the test's) must not be signalled.
func TestStopOrphanedSparesReusedPID(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "httpd.yaml"))
	if err := syscall.Kill(e.inspect(t, "httpd").MonitorPID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "ps: httpd Unknown", func() (bool, string) {
		rows := e.ps(t)
		return len(rows) == 1 && rows[0].Phase == "Unknown", fmt.Sprintf("%+v", rows)
	})
	bystander := exec.Command("sleep", "600")
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan error, 1)
	go func() { ended <- bystander.Wait() }()
	t.Cleanup(func() { bystander.Process.Kill() })

	statePath := filepath.Join(e.root, "root", "pods", "default_httpd", "state.json")
	b, err := os.ReadFile(statePath)
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	st["containers"].([]any)[0].(map[string]any)["pid"] = bystander.Process.Pid
	if b, err = json.Marshal(st); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(statePath, b, 0o600); err != nil {
		t.Fatal(err)
	}

	mustPodbox(t, e, "stop", "--time", "1", "httpd")
	select {
	case err := <-ended:
		t.Fatalf("podbox stop signalled a process outside the pod whose PID it had recorded: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if rows := e.ps(t); len(rows) != 1 || rows[0].Phase != "Stopped" {
		t.Errorf("ps after stop: %+v", rows)
	}
	mustPodbox(t, e, "rm", "-f", "httpd")
	e.assertNothingLeft(t)
}

// TestForkBombRemoved: a fork bomb with a CPU limit fills its pod's pids
// limit; rm -f either removes everything, or keeps the pod listed with what
// is left, and a second rm -f finishes. Either way nothing is left running.
func TestForkBombRemoved(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "bomb.yaml", `apiVersion: v1
kind: Pod
metadata: {name: bomb}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: bomb
    image: busybox
    command: ["sh", "-c", "f() { while true; do f & sleep 0.01; done; }; f"]
    resources: {limits: {cpu: 100m}}
`)
	mustPodbox(t, e, "--pod-pids-limit", "256", "run", m)
	cg := e.inspect(t, "bomb").Cgroup.Path
	pidsFile := filepath.Join("/sys/fs/cgroup", cg, "pids.current")
	if !cgroups.IsV2() {
		pidsFile = filepath.Join("/sys/fs/cgroup/pids", cg, "pids.current")
	}
	eventually(t, 30*time.Second, "the bomb to fill its pids limit", func() (bool, string) {
		b, _ := os.ReadFile(pidsFile)
		n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return n >= 200, fmt.Sprintf("pids.current %d", n)
	})
	if _, stderr, code := podbox(t, e, "rm", "-f", "bomb"); code != 0 {
		t.Logf("first rm -f: exit %d: %s", code, stderr)
		rows := e.ps(t)
		if len(rows) != 1 || !strings.Contains(rows[0].Message, "removal incomplete") {
			t.Fatalf("after an incomplete rm -f the pod must stay listed with what is left: %+v", rows)
		}
		mustPodbox(t, e, "rm", "-f", "bomb")
	}
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after rm -f: %+v", rows)
	}
	e.assertNothingLeft(t)
}

// TestRunRmRace: run and rm -f of the same pod racing, 50 times: whatever
// wins, nothing is left that podbox can not see; a final rm -f of what ps
// lists leaves nothing at all.
func TestRunRmRace(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := localManifest(t, "httpd.yaml")
	var wg sync.WaitGroup
	sem := make(chan struct{}, 5)
	for i := range 50 {
		name := fmt.Sprintf("race%d", i)
		for _, args := range [][]string{{"run", "--no-wait", "--name", name, m}, {"rm", "-f", name}} {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				podbox(t, e, args...) // either may fail: the other won
			}()
		}
	}
	wg.Wait()
	for _, r := range e.ps(t) {
		mustPodbox(t, e, "rm", "-f", r.Name)
	}
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after rm -f of everything: %+v", rows)
	}
	e.assertNothingLeft(t)
}

// TestHostNetworkPauseKilledHeals: a hostNetwork pod's pause (in the host's
// network and UTS namespaces, the pod's own IPC one) is replaced too.
func TestHostNetworkPauseKilledHeals(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "hostnet.yaml", `apiVersion: v1
kind: Pod
metadata: {name: hostnet}
spec:
  hostNetwork: true
  terminationGracePeriodSeconds: 0
  containers:
  - {name: app, image: busybox, command: ["sleep", "3600"]}
`)
	mustPodbox(t, e, "run", m)
	after := killPause(t, e, "hostnet", e.inspect(t, "hostnet"), 5*time.Second)
	if after.Phase != "Running" {
		t.Errorf("phase after the pause was replaced: %s", after.Phase)
	}
	ino, err := namespaces.Inode(fmt.Sprintf("/proc/%d/ns/ipc", after.PausePID))
	if err != nil || ino != after.Namespaces["ipc"].Inode {
		t.Errorf("new pause's ipc namespace %d (%v), the pod's is %d", ino, err, after.Namespaces["ipc"].Inode)
	}
}

// killPause kills the pod's pause (as inspected before) and waits, up to d,
// for the monitor to have started a new one; it returns the pod as
// inspected then.
func killPause(t *testing.T, e *env, pod string, before *inspectOut, d time.Duration) *inspectOut {
	t.Helper()
	if err := syscall.Kill(before.PausePID, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 pause %d: %v", before.PausePID, err)
	}
	var after *inspectOut
	eventually(t, d, "a new pause", func() (bool, string) {
		after = e.inspect(t, pod)
		return after.PausePID > 0 && after.PausePID != before.PausePID && syscall.Kill(after.PausePID, 0) == nil,
			fmt.Sprintf("pausePid %d (was %d), phase %s", after.PausePID, before.PausePID, after.Phase)
	})
	return after
}
