package e2e

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/namespaces"
)

func TestHelpHasExamples(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	verbs := [][]string{
		{}, {"run"}, {"ps"}, {"get"}, {"inspect"}, {"logs"}, {"exec"}, {"stop"}, {"rm"},
		{"image"}, {"image", "import"}, {"image", "ls"}, {"image", "rm"},
		{"network"}, {"network", "rm"}, {"version"}, {"completion"}, {"cri"},
		{"volume"}, {"volume", "create"}, {"volume", "ls"}, {"volume", "inspect"}, {"volume", "rm"},
	}
	for _, v := range verbs {
		args := append(append([]string{}, v...), "--help")
		out := mustPodbox(t, e, args...)
		if !strings.Contains(out, "Example") {
			t.Errorf("podbox %s: no \"Example\" in the help:\n%s", strings.Join(args, " "), out)
		}
	}
}

func TestImageVerbs(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)

	out := mustPodbox(t, e, "image", "ls")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if got := strings.Fields(lines[0]); strings.Join(got, " ") != "REPOSITORY TAG DIGEST IMAGE ID SIZE CREATED" {
		t.Errorf("image ls header = %q, want REPOSITORY TAG DIGEST IMAGE ID SIZE CREATED", lines[0])
	}
	if len(lines) != 2 || !strings.HasPrefix(lines[1], "busybox ") || !strings.Contains(lines[1], " latest ") || !strings.Contains(lines[1], "sha256:") {
		t.Errorf("image ls: want one row for busybox:latest, got:\n%s", out)
	}

	// A pod whose image is missing is refused: pulled under the default
	// policy (here from a blocked docker.io), or, under Never, with the
	// ways to get it.
	m := manifest(t, "missing.yaml", `apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - name: c
    image: nosuch
    command: ["sleep", "3600"]
`)
	failPodbox(t, e, 1, []string{"podbox: ", "spec.containers[0].image", `pull image "nosuch:latest"`, "registry docker.io is blocked"}, "run", m)
	m = manifest(t, "never.yaml", `apiVersion: v1
kind: Pod
metadata: {name: missing}
spec:
  containers:
  - name: c
    image: nosuch
    imagePullPolicy: Never
    command: ["sleep", "3600"]
`)
	failPodbox(t, e, 1, []string{"podbox: ", "spec.containers[0].image", `"nosuch:latest" not found`, "imagePullPolicy is Never", "podbox image pull NAME", "podbox image import NAME SOURCE"}, "run", m)

	mustPodbox(t, e, "image", "rm", "busybox")
	out = mustPodbox(t, e, "image", "ls")
	if strings.Contains(out, "busybox") {
		t.Errorf("image ls after image rm busybox still lists it:\n%s", out)
	}
	failPodbox(t, e, 1, []string{"podbox: ", `pull image "busybox:latest"`, "blocked"}, "run", localManifest(t, "pair.yaml"))
	failPodbox(t, e, 1, []string{"podbox: ", "busybox"}, "image", "rm", "busybox")
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after refused runs: %+v, want none", rows)
	}
}

func TestRunVerb(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := localManifest(t, "pair.yaml")

	if out := mustPodbox(t, e, "run", m); out != "pair\n" {
		t.Errorf("run printed %q, want the pod's name", out)
	}
	if out := mustPodbox(t, e, "run", "--name", "other", m); out != "other\n" {
		t.Errorf("run --name other printed %q", out)
	}
	// Flags may follow the file, as with kubectl.
	if out := mustPodbox(t, e, "run", m, "--name", "after"); out != "after\n" {
		t.Errorf("run FILE --name after printed %q", out)
	}
	data, err := os.ReadFile(m)
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, code := podboxIn(t, e, string(data), "run", "--name", "fromstdin", "-"); code != 0 || out != "fromstdin\n" {
		t.Errorf("run --name fromstdin - < pair.yaml: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	failPodbox(t, e, 1, []string{"podbox: ", "pair", "already exists"}, "run", m)

	var names []string
	for _, r := range e.ps(t) {
		names = append(names, r.Name+"="+r.Phase)
	}
	if got := strings.Join(names, " "); got != "after=Running fromstdin=Running other=Running pair=Running" {
		t.Errorf("ps: %s", got)
	}

	// A manifest podbox can not honour is refused whole, naming the field.
	probe := manifest(t, "probe.yaml", `apiVersion: v1
kind: Pod
metadata: {name: probe}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
    volumeDevices: [{name: d, devicePath: /dev/xvda}]
`)
	errOut := failPodbox(t, e, 1, []string{"spec.containers[0].volumeDevices: not supported by podbox"}, "run", probe)
	if !strings.HasPrefix(errOut, "podbox: ") {
		t.Errorf("stderr does not start with \"podbox: \": %q", errOut)
	}
	probeData, _ := os.ReadFile(probe)
	if _, errOut, code := podboxIn(t, e, string(probeData), "run", "-"); code != 1 || !strings.Contains(errOut, "spec.containers[0].volumeDevices: not supported by podbox") {
		t.Errorf("run - < probe.yaml: exit %d, stderr %q", code, errOut)
	}
	unknown := manifest(t, "unknown.yaml", `apiVersion: v1
kind: Pod
metadata: {name: unknown}
spec:
  containers:
  - name: c
    image: busybox
    comand: ["sleep", "3600"]
`)
	failPodbox(t, e, 1, []string{"podbox: ", "comand"}, "run", unknown)
	failPodbox(t, e, 1, []string{"podbox: ", "want one manifest"}, "run")
	failPodbox(t, e, 1, []string{"podbox: ", "--name"}, "run", "--name", "Not_A_Name", m)
	if n := len(e.ps(t)); n != 4 {
		t.Errorf("ps lists %d pods after the refused runs, want 4", n)
	}
}

// TestStatusVerbs checks ps, get pod and inspect on a running two-container
// pod against what the containers see themselves.
func TestStatusVerbs(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "pair.yaml"))

	// The address each container sees on eth0.
	ipRe := regexp.MustCompile(`inet (\d+\.\d+\.\d+\.\d+)/24`)
	var seen []string
	for _, c := range []string{"talker", "quiet"} {
		out := mustPodbox(t, e, "exec", "pair", "-c", c, "--", "ip", "-o", "-4", "addr", "show", "eth0")
		m := ipRe.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("ip addr in %s: no IPv4 address:\n%s", c, out)
		}
		seen = append(seen, m[1])
	}
	podIP := seen[0]
	if seen[1] != podIP {
		t.Errorf("containers see different addresses: %v", seen)
	}

	// ps, as a table.
	out := mustPodbox(t, e, "ps")
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if got := strings.Join(strings.Fields(lines[0]), " "); got != "NAME PHASE IP READY RESTARTS AGE" {
		t.Errorf("ps header = %q", lines[0])
	}
	if len(lines) != 2 {
		t.Fatalf("ps: want one pod:\n%s", out)
	}
	f := strings.Fields(lines[1])
	if len(f) != 6 || f[0] != "pair" || f[1] != "Running" || f[2] != podIP || f[3] != "2/2" || f[4] != "0" || !regexp.MustCompile(`^\d+s$`).MatchString(f[5]) {
		t.Errorf("ps row = %q, want pair Running %s 2/2 0 <n>s", lines[1], podIP)
	}
	// ps -o json.
	rows := e.ps(t)
	if len(rows) != 1 || rows[0] != (psRow{Namespace: "default", Name: "pair", Phase: "Running", IP: podIP, Ready: 2, Containers: 2}) {
		t.Errorf("ps -o json = %+v", rows)
	}

	// get pod -o json.
	pod := e.getPod(t, "pair")
	if pod.Kind != "Pod" || pod.APIVersion != "v1" || pod.Name != "pair" {
		t.Errorf("get pod: kind %q apiVersion %q name %q", pod.Kind, pod.APIVersion, pod.Name)
	}
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("status.phase = %q, want Running", pod.Status.Phase)
	}
	if pod.Status.PodIP != podIP {
		t.Errorf("status.podIP = %q, the containers see %s", pod.Status.PodIP, podIP)
	}
	if len(pod.Status.ContainerStatuses) != 2 {
		t.Fatalf("status.containerStatuses: %+v", pod.Status.ContainerStatuses)
	}
	for i, cs := range pod.Status.ContainerStatuses {
		if want := []string{"talker", "quiet"}[i]; cs.Name != want {
			t.Errorf("containerStatuses[%d].name = %q, want %q", i, cs.Name, want)
		}
		if cs.State.Running == nil || !cs.Ready || cs.RestartCount != 0 {
			t.Errorf("containerStatuses[%d] (%s): running %v, ready %v, restartCount %d; want running, ready, 0",
				i, cs.Name, cs.State.Running != nil, cs.Ready, cs.RestartCount)
		}
	}
	for _, c := range pod.Status.Conditions {
		if c.Status != v1.ConditionTrue {
			t.Errorf("condition %s is %s", c.Type, c.Status)
		}
	}

	// get pod -o yaml (also the default) says the same.
	for _, args := range [][]string{{"get", "pod", "pair", "-o", "yaml"}, {"get", "pod", "pair"}} {
		out := mustPodbox(t, e, args...)
		var y v1.Pod
		if err := yaml.Unmarshal([]byte(out), &y); err != nil {
			t.Fatalf("podbox %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		if y.Status.Phase != v1.PodRunning || y.Status.PodIP != podIP || len(y.Status.ContainerStatuses) != 2 {
			t.Errorf("podbox %s: phase %q podIP %q, %d container statuses", strings.Join(args, " "), y.Status.Phase, y.Status.PodIP, len(y.Status.ContainerStatuses))
		}
		if !strings.Contains(out, "phase: Running") {
			t.Errorf("podbox %s: no \"phase: Running\":\n%s", strings.Join(args, " "), out)
		}
	}
	failPodbox(t, e, 1, []string{"podbox: ", "nosuch", "does not exist"}, "get", "pod", "nosuch")
	failPodbox(t, e, 1, []string{"podbox: ", `want "pod [NAME...]" or "pods"`}, "get", "pair")
	if out := mustPodbox(t, e, "get", "pod", "pair"); strings.Contains(out, "lastTransitionTime: null") {
		t.Errorf("get pod pair: a condition without its lastTransitionTime:\n%s", out)
	}

	// inspect: the containers are in the pod's net, ipc and uts namespaces,
	// each in a mount namespace of its own.
	in := e.inspect(t, "pair")
	if in.Name != "pair" || in.Phase != "Running" || in.PodIP != podIP || in.PausePID <= 0 || in.MonitorPID <= 0 {
		t.Errorf("inspect: name %q phase %q podIP %q pausePid %d monitorPid %d", in.Name, in.Phase, in.PodIP, in.PausePID, in.MonitorPID)
	}
	if !strings.HasPrefix(in.Veth, e.veth) {
		t.Errorf("inspect: veth %q does not start with %q", in.Veth, e.veth)
	}
	hostMnt, err := namespaces.Inode("/proc/self/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	mnts := map[uint64]string{hostMnt: "the host"}
	if len(in.Containers) != 2 {
		t.Fatalf("inspect: %d containers, want 2", len(in.Containers))
	}
	for _, c := range in.Containers {
		if c.State != "running" || c.PID <= 0 {
			t.Errorf("inspect: container %s state %q pid %d", c.Name, c.State, c.PID)
		}
		for _, kind := range []string{"net", "ipc", "uts"} {
			pod := in.Namespaces[kind].Inode
			if pod == 0 || c.Namespaces[kind] != pod {
				t.Errorf("inspect: container %s %s namespace %d, the pod's is %d", c.Name, kind, c.Namespaces[kind], pod)
			}
		}
		mnt := c.Namespaces["mnt"]
		if other, dup := mnts[mnt]; dup || mnt == 0 {
			t.Errorf("inspect: container %s mnt namespace %d is also %s's", c.Name, mnt, other)
		}
		mnts[mnt] = c.Name
	}
	failPodbox(t, e, 1, []string{"podbox: ", "does not exist"}, "inspect", "nosuch")
}

func TestLogsVerb(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "pair.yaml"))

	var out string
	eventually(t, 5*time.Second, "talker's first lines", func() (bool, string) {
		out = mustPodbox(t, e, "logs", "pair", "-c", "talker")
		// stdout and stderr are separate pipes: their relative order is not kept.
		return strings.Contains(out, "hello-out\n") && strings.Contains(out, "hello-err\n") && strings.Contains(out, "tick 1\n"), out
	})
	// Without -c: the first app container, as kubectl, which says so (issue 15, item 4).
	if out, errOut, code := podbox(t, e, "logs", "pair"); code != 0 || !strings.Contains(out, "hello-out\n") || errOut != "Defaulted container \"talker\" out of: talker, quiet\n" {
		t.Errorf("logs pair: exit %d, stdout %q, stderr %q; want 0, talker's log, Defaulted container \"talker\" out of: talker, quiet", code, out, errOut)
	}
	failPodbox(t, e, 1, []string{"podbox: ", `no container "nosuch"`}, "logs", "pair", "-c", "nosuch")
	failPodbox(t, e, 1, []string{"podbox: ", "has not restarted"}, "logs", "--previous", "pair", "-c", "talker")
	if out := mustPodbox(t, e, "logs", "pair", "-c", "quiet"); out != "" {
		t.Errorf("logs of quiet: %q, want nothing", out)
	}

	// --timestamps: every line starts with an RFC 3339 time, in order.
	out = mustPodbox(t, e, "logs", "--timestamps", "pair", "-c", "talker")
	var last time.Time
	for _, l := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		ts, text, ok := strings.Cut(l, " ")
		tm, err := time.Parse(time.RFC3339Nano, ts)
		if !ok || err != nil {
			t.Errorf("logs --timestamps: line %q does not start with an RFC 3339 time (%v)", l, err)
			continue
		}
		if tm.Before(last) || time.Since(tm) > time.Minute || time.Until(tm) > time.Second {
			t.Errorf("logs --timestamps: time %s out of order or out of range", ts)
		}
		last = tm
		if strings.HasPrefix(text, " ") || text == "" {
			t.Errorf("logs --timestamps: line %q", l)
		}
	}

	// logs -f streams: it prints ticks written after it started.
	tickRe := regexp.MustCompile(`^tick (\d+)$`)
	maxTick := 0
	for _, m := range regexp.MustCompile(`(?m)^tick (\d+)$`).FindAllStringSubmatch(mustPodbox(t, e, "logs", "pair", "-c", "talker"), -1) {
		n, _ := strconv.Atoi(m[1])
		maxTick = max(maxTick, n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := e.command(ctx, "logs", "-f", "pair", "-c", "talker")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	newTicks := map[string]bool{}
	timeout := time.After(testutil.Wait(5 * time.Second))
	for len(newTicks) < 2 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("logs -f ended before printing two new ticks (after tick %d)", maxTick)
			}
			if m := tickRe.FindStringSubmatch(l); m != nil {
				if n, _ := strconv.Atoi(m[1]); n > maxTick {
					newTicks[l] = true
				}
			}
		case <-timeout:
			t.Fatalf("logs -f: only %d new ticks (after tick %d) in 5 s", len(newTicks), maxTick)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
}

func TestExecVerb(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "pair.yaml"))

	if out := mustPodbox(t, e, "exec", "pair", "-c", "quiet", "--", "echo", "hi", "there"); out != "hi there\n" {
		t.Errorf("exec echo: %q", out)
	}
	out, errOut, code := podbox(t, e, "exec", "pair", "-c", "quiet", "--", "sh", "-c", "echo out; echo err >&2; exit 7")
	if code != 7 || out != "out\n" || errOut != "err\n" {
		t.Errorf("exec sh -c 'exit 7': exit %d stdout %q stderr %q; want 7, \"out\\n\", \"err\\n\"", code, out, errOut)
	}
	if out, _, code := podboxIn(t, e, "from stdin\n", "exec", "-i", "pair", "-c", "quiet", "--", "cat"); code != 0 || out != "from stdin\n" {
		t.Errorf("exec -i cat: exit %d stdout %q", code, out)
	}
	// Without -i the command's stdin is not the caller's.
	if out, _, code := podboxIn(t, e, "from stdin\n", "exec", "pair", "-c", "quiet", "--", "cat"); code != 0 || out != "" {
		t.Errorf("exec cat (no -i): exit %d stdout %q", code, out)
	}
	// The exec'd process is in the container: it sees the container's
	// processes (its own PID namespace), not the host's.
	if out := mustPodbox(t, e, "exec", "pair", "-c", "quiet", "--", "ps", "-o", "args"); !strings.Contains(out, "sleep 3600") || strings.Contains(out, "tick") {
		t.Errorf("exec ps in quiet:\n%s", out)
	}
	if out, errOut, code := podbox(t, e, "exec", "pair", "--", "hostname"); code != 0 || out != "pair\n" || errOut != "Defaulted container \"talker\" out of: talker, quiet\n" {
		t.Errorf("exec pair -- hostname: exit %d, stdout %q, stderr %q; want 0, pair, Defaulted container \"talker\" out of: talker, quiet", code, out, errOut)
	}
	failPodbox(t, e, 1, []string{"podbox: ", "does not exist"}, "exec", "nosuch", "--", "true")
	// A command that can not start exits as in a shell (kubectl exec,
	// docker exec): 127 not found, 126 not executable.
	failPodbox(t, e, 127, []string{`exec: "/no/such/command"`, "no such file or directory"}, "exec", "pair", "-c", "quiet", "--", "/no/such/command")
	failPodbox(t, e, 127, []string{`exec: "nosuchcmd": executable file not found`}, "exec", "pair", "-c", "quiet", "--", "nosuchcmd")
	failPodbox(t, e, 126, []string{`exec: "/etc/passwd": permission denied`}, "exec", "pair", "-c", "quiet", "--", "/etc/passwd")

	// Without -t there is no terminal; with -t there is one, when podbox
	// itself runs on one (script(1) gives it a pty).
	if out, _, code := podbox(t, e, "exec", "pair", "-c", "quiet", "--", "tty"); code != 1 || !strings.Contains(out, "not a tty") {
		t.Errorf("exec tty: exit %d, %q; want 1, \"not a tty\"", code, out)
	}
	script, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) (util-linux) not installed: exec -t not tested")
	}
	ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait(30*time.Second))
	defer cancel()
	for _, flag := range []string{"-t", "-it"} {
		line := e.bin + " exec " + flag + " pair -c quiet -- tty"
		cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
		cmd.Env = e.environ()
		b, err := cmd.CombinedOutput()
		e.record("$ script -qec %q /dev/null   # %v\n%s", line, err, indent("output", string(b)))
		// The two ptys (script's, the container's) each turn \n into \r\n.
		if err != nil || !regexp.MustCompile(`(?m)/dev/pts/\d+\r*$`).Match(b) {
			t.Errorf("script -qec %q: %v, output %q; want /dev/pts/N", line, err, b)
		}
	}
}

func TestStopAndRm(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "stopper.yaml"))
	mustPodbox(t, e, "run", "--name", "victim", localManifest(t, "pair.yaml"))
	eventually(t, 5*time.Second, "trapper ready", func() (bool, string) {
		out := mustPodbox(t, e, "logs", "stopper", "-c", "trapper")
		return strings.Contains(out, "ready"), out
	})

	// A running pod is not removed without -f.
	failPodbox(t, e, 1, []string{"podbox: ", "stopper", "is running", "-f"}, "rm", "stopper")

	// rm's advice is given once (issue 15, item 11).
	if errOut := failPodbox(t, e, 1, []string{"podbox: ", "podbox stop stopper", "podbox rm -f stopper"}, "rm", "stopper"); strings.Count(errOut, "rm -f") != 1 {
		t.Errorf("rm of a running pod: the advice more than once:\n%s", errOut)
	}

	// stop says what it waits for, then how long it took and what it
	// killed (issue 15, item 2).
	start := time.Now()
	out, errOut, code := podbox(t, e, "stop", "--time", "2", "stopper")
	took := time.Since(start)
	// deaf ignores SIGTERM: stop waits the grace period, then kills it.
	if took < 1800*time.Millisecond || took > 10*time.Second {
		t.Errorf("stop --time 2 took %s, want about 2 s", took)
	}
	// The time stop reports counts from the request: it includes the
	// start of the pod's lifecycle, which the shim runs on demand (over
	// a second in an emulated VM).
	said := regexp.MustCompile(`^pod "stopper" stopped in (\d+\.\d)s \(killed after the 2s grace period: deaf\)\n$`).FindStringSubmatch(out)
	var secs float64
	if said != nil {
		secs, _ = strconv.ParseFloat(said[1], 64)
	}
	if code != 0 || errOut != "waiting up to 2s for deaf to exit; --time 0 to kill now\n" ||
		said == nil || secs < 1.9 || secs > took.Seconds()+0.1 {
		t.Errorf("stop --time 2: exit %d, stdout %q, stderr %q; want stopped in 2 s to %.1f s", code, out, errOut, took.Seconds())
	}
	rows := e.ps(t)
	if len(rows) != 2 || rows[0].Name != "stopper" || rows[0].Phase != "Stopped" || rows[0].Ready != 0 || rows[1].Phase != "Running" {
		t.Errorf("ps after stop: %+v, want stopper Stopped, 0 ready; victim Running", rows)
	}
	// get agrees with ps: a stop that was asked for, no failure; each
	// container ended by it says so, with its own exit code (issue 15, item 3).
	pod := e.getPod(t, "stopper")
	if tr := containerStatus(t, pod, "trapper").State.Terminated; tr == nil || tr.ExitCode != 42 || tr.Reason != "Stopped" || tr.Message != "stopped on request: exited after SIGTERM" {
		t.Errorf("trapper after stop: %+v, want terminated, reason Stopped, with its own exit code 42", containerStatus(t, pod, "trapper").State)
	}
	if tr := containerStatus(t, pod, "deaf").State.Terminated; tr == nil || tr.ExitCode != 137 || tr.Reason != "Stopped" || tr.Message != "stopped on request: killed after the 2s grace period" {
		t.Errorf("deaf after stop: %+v, want terminated by SIGKILL (137), reason Stopped", containerStatus(t, pod, "deaf").State)
	}
	if pod.Status.Phase != v1.PodSucceeded || pod.Status.Reason != "Stopped" || pod.Status.Message != "stopped on request" {
		t.Errorf("get pod: phase %q reason %q message %q, want Succeeded, Stopped, stopped on request", pod.Status.Phase, pod.Status.Reason, pod.Status.Message)
	}
	if out := mustPodbox(t, e, "logs", "stopper", "-c", "trapper"); !strings.Contains(out, "got TERM") {
		t.Errorf("trapper's log after stop: %q, want \"got TERM\"", out)
	}
	// Stopping a stopped pod is harmless, and quick.
	if out := mustPodbox(t, e, "stop", "stopper"); !strings.HasPrefix(out, `pod "stopper" stopped in 0.`) {
		t.Errorf("stop of a stopped pod: %q", out)
	}

	// A stopped pod is removed without -f; then it is gone.
	mustPodbox(t, e, "rm", "stopper")
	failPodbox(t, e, 1, []string{"podbox: ", "stopper", "does not exist"}, "rm", "stopper")
	mustPodbox(t, e, "rm", "-f", "stopper")
	failPodbox(t, e, 1, []string{"podbox: ", "does not exist"}, "stop", "stopper")

	// rm -f kills a running pod, at once.
	start = time.Now()
	mustPodbox(t, e, "rm", "-f", "victim")
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("rm -f of a running pod took %s", took)
	}
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after rm: %+v, want none", rows)
	}
	failPodbox(t, e, 1, []string{"podbox: ", "want one or more"}, "rm")
	e.assertNothingLeft(t)
}
