package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/podbox/podbox/internal/testutil"
)

// ephemeralStatus is the status get pod shows for ephemeral container name.
func ephemeralStatus(pod *v1.Pod, name string) *v1.ContainerStatus {
	for i, cs := range pod.Status.EphemeralContainerStatuses {
		if cs.Name == name {
			return &pod.Status.EphemeralContainerStatuses[i]
		}
	}
	return nil
}

// TestDebug is issue 18's podbox debug: an ephemeral container in a pod
// whose image has no shell, in the PID namespace of its target, with the
// capabilities of its profile, listed in get pod, ps and inspect, and gone
// with the pod.
func TestDebug(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	// An image of one static binary, no shell: the pause program.
	dir := t.TempDir()
	b, err := os.ReadFile(testutil.Binary(t, "pause"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "app"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	mustPodbox(t, e, "image", "import", "noshell", dir)
	mustPodbox(t, e, "run", manifest(t, "noshell.yaml", `apiVersion: v1
kind: Pod
metadata: {name: noshell}
spec:
  containers:
  - {name: app, image: noshell, command: [/app]}
`))
	failPodbox(t, e, 127, []string{`exec: "sh": executable file not found`}, "exec", "noshell", "--", "sh")

	// --target: ps shows the app's process; -i attaches from the first byte.
	out, errOut, code := podboxIn(t, e, "", "debug", "noshell", "-i", "--image", "busybox", "--target", "app", "-c", "ps1", "--", "ps", "-o", "pid,args")
	if code != 0 || !regexp.MustCompile(`(?m)^\s*1\s+/app$`).MatchString(out) || errOut != "" {
		t.Errorf("debug --target app -- ps: exit %d\nstdout:\n%s\nstderr:\n%s\nwant /app as PID 1", code, out, errOut)
	}
	// /proc/1/root reaches the target's files.
	out, _, code = podboxIn(t, e, "", "debug", "noshell", "-i", "--image", "busybox", "--target", "app", "-c", "root1", "--", "ls", "/proc/1/root/")
	if code != 0 || !regexp.MustCompile(`(?m)^app$`).MatchString(out) || strings.Contains(out, "bin\n") {
		t.Errorf("debug -- ls /proc/1/root/: exit %d, %q; want the target's root (app)", code, out)
	}
	// Its exit code is podbox's.
	if _, _, code := podboxIn(t, e, "", "debug", "noshell", "-i", "--image", "busybox", "-c", "seven", "--", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("debug -i -- sh -c 'exit 7': exit %d, want 7", code)
	}

	// netadmin: NET_ADMIN in the pod's network namespace; general: not.
	out, _, code = podboxIn(t, e, "", "debug", "noshell", "-i", "--image", "busybox", "--profile", "netadmin", "-c", "net",
		"--", "sh", "-c", "ip link set lo mtu 65000 && ip link show lo")
	if code != 0 || !strings.Contains(out, "mtu 65000") {
		t.Errorf("debug --profile netadmin -- ip link set lo mtu: exit %d\n%s", code, out)
	}
	out, _, code = podboxIn(t, e, "", "debug", "noshell", "-i", "--image", "busybox", "-c", "nonet", "--", "ip", "link", "set", "lo", "mtu", "65001")
	if code == 0 || !strings.Contains(out, "not permitted") {
		t.Errorf("debug (general) -- ip link set lo mtu: exit %d, %q; want refused", code, out)
	}

	// Without -i it is added and runs on its own; logs -c reads it.
	errOut = failPodbox(t, e, 0, nil, "debug", "noshell", "--image", "busybox", "--", "sh", "-c", "echo detached; exit 3")
	m := regexp.MustCompile(`Defaulting debug container name to (debugger-[a-z0-9]{5})\.`).FindStringSubmatch(errOut)
	if m == nil {
		t.Fatalf("debug without -c: stderr %q, want the name it chose", errOut)
	}
	auto := m[1]
	eventually(t, 10*time.Second, auto+" to end", func() (bool, string) {
		cs := ephemeralStatus(e.getPod(t, "noshell"), auto)
		return cs != nil && cs.State.Terminated != nil, "not terminated"
	})
	if out := mustPodbox(t, e, "logs", "noshell", "-c", auto); out != "detached\n" {
		t.Errorf("logs -c %s: %q, want detached", auto, out)
	}

	// get pod: spec.ephemeralContainers and their statuses with exit codes.
	pod := e.getPod(t, "noshell")
	if len(pod.Spec.EphemeralContainers) != 6 || pod.Spec.EphemeralContainers[0].TargetContainerName != "app" || pod.Spec.EphemeralContainers[0].Image != "busybox" {
		t.Errorf("spec.ephemeralContainers: %+v", pod.Spec.EphemeralContainers)
	}
	for name, want := range map[string]int32{"ps1": 0, "seven": 7, auto: 3} {
		cs := ephemeralStatus(pod, name)
		if cs == nil || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != want || cs.RestartCount != 0 {
			t.Errorf("ephemeralContainerStatuses[%s] = %+v, want terminated with exit %d, never restarted", name, cs, want)
		}
	}
	if got := len(pod.Status.ContainerStatuses); got != 1 {
		t.Errorf("containerStatuses has %d entries, want the app alone", got)
	}
	// ps counts them apart from READY; inspect lists them.
	var rows []struct {
		Ready, Containers int
		Ephemeral         []struct{ Name, State string } `json:"ephemeralContainers"`
	}
	if err := json.Unmarshal([]byte(mustPodbox(t, e, "ps", "-o", "json")), &rows); err != nil || len(rows) != 1 || rows[0].Containers != 1 || len(rows[0].Ephemeral) != 6 {
		t.Errorf("ps -o json: %v, %+v; want 1 container and 6 ephemeral", err, rows)
	}
	kinds := map[string]string{}
	for _, c := range e.inspect(t, "noshell").Containers {
		kinds[c.Name] = c.Kind + "/" + c.State
	}
	if kinds["ps1"] != "ephemeral/terminated" {
		t.Errorf("inspect: ps1 is %q, want ephemeral/terminated (all: %v)", kinds["ps1"], kinds)
	}

	// Refused: a name in use, no pod, a target that is not there, ports of
	// a pod made with ephemeral containers.
	failPodbox(t, e, 1, []string{"podbox: ", `"app" is used by another container`}, "debug", "noshell", "--image", "busybox", "-c", "app", "--", "true")
	failPodbox(t, e, 1, []string{"podbox: ", "nosuch"}, "debug", "nosuch", "--image", "busybox", "--", "true")
	failPodbox(t, e, 1, []string{"podbox: ", `no container "web"`}, "debug", "noshell", "--image", "busybox", "--target", "web", "--", "true")
	failPodbox(t, e, 1, []string{"podbox: ", "spec.ephemeralContainers: can not be set on create"}, "run", manifest(t, "born.yaml", `apiVersion: v1
kind: Pod
metadata: {name: born}
spec:
  containers: [{name: app, image: busybox, command: [sleep, "60"]}]
  ephemeralContainers: [{name: dbg, image: busybox}]
`))

	// -it: a terminal, attached through podbox's own (script(1) gives one).
	script, err := exec.LookPath("script")
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), testutil.Wait(30*time.Second))
		defer cancel()
		line := e.bin + " debug noshell -it --image busybox -c term -- tty"
		cmd := exec.CommandContext(ctx, script, "-qec", line, "/dev/null")
		cmd.Env = e.environ()
		b, err := cmd.CombinedOutput()
		e.record("$ script -qec %q /dev/null   # %v\n%s", line, err, indent("output", string(b)))
		if err != nil || !regexp.MustCompile(`(?m)/dev/pts/\d+\r*$`).Match(b) {
			t.Errorf("script -qec %q: %v, output %q; want /dev/pts/N", line, err, b)
		}
	} else {
		t.Log("script(1) (util-linux) not installed: debug -it not tested")
	}

	// rm -f takes them with the pod (the leak check at cleanup).
	mustPodbox(t, e, "rm", "-f", "noshell")
	e.assertNothingLeft(t)
}

// TestRunImage is issue 18's podbox run NAME --image: kubectl run's pod,
// and its --dry-run manifest, run again from stdin.
func TestRunImage(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", "web", "--image", "busybox", "--port", "80", "--", "sh", "-c", "echo hello-run > /tmp/index.html && httpd -f -p 80 -h /tmp")
	ip := e.getPod(t, "web").Status.PodIP
	fetchEventually(t, 10*time.Second, "http://"+ip+"/", "hello-run")
	pod := e.getPod(t, "web")
	if pod.Labels["run"] != "web" || pod.Spec.Containers[0].Name != "web" || pod.Spec.Containers[0].Ports[0].ContainerPort != 80 {
		t.Errorf("run --image made %+v", pod.ObjectMeta)
	}

	yml := mustPodbox(t, e, "run", "web2", "--image", "busybox", "--env", "GREETING=hello-dry", "--dry-run=client", "-o", "yaml",
		"--", "sh", "-c", "echo $GREETING > /tmp/index.html && httpd -f -p 80 -h /tmp")
	for _, want := range []string{"name: web2", "image: busybox", "run: web2", "GREETING"} {
		if !strings.Contains(yml, want) {
			t.Errorf("--dry-run -o yaml lacks %q:\n%s", want, yml)
		}
	}
	if rows := e.ps(t); len(rows) != 1 {
		t.Errorf("--dry-run ran a pod: ps %+v", rows)
	}
	if out, errOut, code := podboxIn(t, e, yml, "run", "-"); code != 0 || out != "web2\n" {
		t.Fatalf("run - < dry-run output: exit %d, %q, %s", code, out, errOut)
	}
	fetchEventually(t, 10*time.Second, "http://"+e.getPod(t, "web2").Status.PodIP+"/", "hello-dry")
	js := mustPodbox(t, e, "run", "web3", "--image", "busybox", "--dry-run", "-o", "json", "--", "true")
	var p v1.Pod
	if err := json.Unmarshal([]byte(js), &p); err != nil || p.Name != "web3" || p.Spec.Containers[0].Args[0] != "true" {
		t.Errorf("--dry-run -o json: %v, %+v\n%s", err, p, js)
	}
	failPodbox(t, e, 1, []string{"podbox: ", "--port goes with --image"}, "run", "--port", "80", podsManifest(t, "web.yaml"))
}
