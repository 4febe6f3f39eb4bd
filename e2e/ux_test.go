package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// The CLI as a kubectl and podman user expects it (issue 15); the item
// numbers are the issue's.

// Item 5: run returns once the pod can not make progress without a change.
func TestRunReturnsWhenPodIsStuck(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	initLoop := manifest(t, "stuck-init.yaml", `apiVersion: v1
kind: Pod
metadata: {name: stuck-init}
spec:
  initContainers:
  - name: setup
    image: busybox
    command: ["sh", "-c", "echo cannot reach the database; exit 1"]
  containers:
  - name: app
    image: busybox
    command: ["sleep", "3600"]
`)
	start := time.Now()
	failPodbox(t, e, 1, []string{
		`podbox: pod "stuck-init" can not start: init container "setup" is in CrashLoopBackOff (exit code 1, Error; restart count 1)`,
		"last lines of its log:\n  cannot reach the database\n",
		"(the pod is kept: see podbox logs stuck-init, remove it with podbox rm -f stuck-init)",
	}, "run", initLoop)
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("run took %s to give up on a crash-looping init container", took)
	}
	if rows := e.ps(t); len(rows) != 1 || rows[0].Phase != "Pending" {
		t.Errorf("ps: %+v, want stuck-init kept, Pending", rows)
	}

	// An app container that crashes has started: run returns at once, as
	// podman run -d does, and ps shows the restarts.
	start = time.Now()
	if out := mustPodbox(t, e, "run", localManifest(t, "crashloop.yaml")); !strings.HasSuffix(out, "\n") {
		t.Errorf("run crashloop.yaml printed %q", out)
	}
	if took := time.Since(start); took > 20*time.Second {
		t.Errorf("run of a crash-looping app took %s", took)
	}

	// --no-wait stays: it returns once the pod is created.
	if out := mustPodbox(t, e, "run", "--no-wait", "--name", "nowait", initLoop); out != "nowait\n" {
		t.Errorf("run --no-wait printed %q", out)
	}
	// An image that can not be had (docker.io is blocked in the test's
	// registries config): refused before anything is made.
	missing := manifest(t, "missing.yaml", strings.ReplaceAll(strings.ReplaceAll(
		string(must(os.ReadFile(initLoop))), "stuck-init", "noimage"), "image: busybox", "image: nosuch"))
	failPodbox(t, e, 1, []string{`pull image "nosuch:latest"`, "registry docker.io is blocked"}, "run", missing)
	// A pod that ended before its app containers all started (an init
	// container failing under restartPolicy Never): run says so.
	failPodbox(t, e, 1, []string{`pod "init-fail" is Failed`}, "run", localManifest(t, "init-fail.yaml"))
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Item 6: an unknown verb, get pods, get pod without a name, version.
func TestUnknownVerbAndGetPods(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	out, errOut, code := podbox(t, e, "pss")
	if code != 1 || out != "" || errOut != "podbox: unknown command \"pss\" for \"podbox\"\n\nDid you mean this?\n\tps\n\nRun 'podbox --help' for usage.\n" {
		t.Errorf("podbox pss: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	failPodbox(t, e, 1, []string{"podbox: unknown command \"lss\" for \"podbox image\"", "\tls\n"}, "image", "lss")
	failPodbox(t, e, 1, []string{"podbox: unknown command \"sotp\" for \"podbox\"", "\tstop\n"}, "--root", "/nonexistent", "sotp", "web")
	if out := mustPodbox(t, e, "version"); !strings.HasPrefix(out, "podbox version ") {
		t.Errorf("podbox version: %q", out)
	}

	mustPodbox(t, e, "run", localManifest(t, "pair.yaml"))
	mustPodbox(t, e, "run", "--name", "pair2", localManifest(t, "pair.yaml"))
	// The table without its AGE column, which may tick between two calls.
	noAge := func(table string) string {
		var rows []string
		for _, l := range strings.Split(strings.TrimSpace(table), "\n") {
			f := strings.Fields(l)
			rows = append(rows, strings.Join(f[:len(f)-1], " "))
		}
		return strings.Join(rows, "\n")
	}
	want := mustPodbox(t, e, "ps")
	for _, args := range [][]string{{"get", "pods"}, {"get", "pod"}, {"get", "po", "-o", "table"}} {
		if out := mustPodbox(t, e, args...); noAge(out) != noAge(want) {
			t.Errorf("podbox %s:\n%s\nwant what ps prints:\n%s", strings.Join(args, " "), out, want)
		}
	}
	var list struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Items      []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name string `json:"name"`
			} `json:"metadata"`
			Status struct {
				Phase string `json:"phase"`
			} `json:"status"`
		} `json:"items"`
	}
	out = mustPodbox(t, e, "get", "pods", "-o", "json")
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("get pods -o json: %v\n%s", err, out)
	}
	if list.APIVersion != "v1" || list.Kind != "List" || len(list.Items) != 2 || list.Items[0].Metadata.Name != "pair" || list.Items[1].Metadata.Name != "pair2" || list.Items[0].Status.Phase != "Running" {
		t.Errorf("get pods -o json: %s", out)
	}
	if out := mustPodbox(t, e, "get", "pods", "-o", "yaml"); !strings.HasPrefix(out, "apiVersion: v1\nitems:\n") || !strings.Contains(out, "kind: List\n") {
		t.Errorf("get pods -o yaml:\n%s", out)
	}
	failPodbox(t, e, 1, []string{`podbox: pod "nosuch": does not exist`}, "get", "pods", "pair", "nosuch")
}

// Item 7: READY counts native sidecars, as kubectl does.
func TestReadyCountsSidecars(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "sidecar-order.yaml"))
	if rows := e.ps(t); len(rows) != 1 || rows[0].Ready != 2 || rows[0].Containers != 2 {
		t.Errorf("ps -o json: %+v, want 2 of 2 ready (the app and its sidecar)", rows)
	}
	if out := mustPodbox(t, e, "ps"); !regexp.MustCompile(`(?m)^sidecar-order\s+Running\s+\S+\s+2/2\s`).MatchString(out) {
		t.Errorf("ps:\n%s\nwant sidecar-order Running ... 2/2", out)
	}
	// logs and exec default to the app, not the sidecar, and say so (item 4).
	if out, errOut, code := podbox(t, e, "logs", "sidecar-order"); code != 0 || !strings.Contains(out, "app started") ||
		errOut != "Defaulted container \"app\" out of: app, sidecar (sidecar)\n" {
		t.Errorf("logs sidecar-order: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}

// Item 4: the kubectl.kubernetes.io/default-container annotation.
func TestDefaultContainerAnnotation(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "annotated.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: annotated
  annotations:
    kubectl.kubernetes.io/default-container: second
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: first
    image: busybox
    command: ["sleep", "3600"]
  - name: second
    image: busybox
    command: ["sh", "-c", "echo i am second; exec sleep 3601"]
`)
	mustPodbox(t, e, "run", m)
	if out, errOut, code := podbox(t, e, "exec", "annotated", "--", "cat", "/proc/1/cmdline"); code != 0 || out != "sleep\x003601\x00" ||
		errOut != "Defaulted container \"second\" out of: first, second\n" {
		t.Errorf("exec annotated: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	eventually(t, 5*time.Second, "second's log", func() (bool, string) {
		out, errOut, _ := podbox(t, e, "logs", "annotated")
		return out == "i am second\n" && strings.Contains(errOut, `Defaulted container "second"`), out + errOut
	})
}

// Item 8: global flags after the verb.
func TestGlobalFlagsAfterVerb(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "limited.yaml", `apiVersion: v1
kind: Pod
metadata: {name: limited}
spec:
  containers:
  - name: c
    image: busybox
    command: ["sleep", "3600"]
    resources: {limits: {memory: 64Mi}}
`)
	failPodbox(t, e, 1, []string{"podbox: ", "1Mi allocatable"}, "run", m, "--allocatable-memory", "1Mi")
	mustPodbox(t, e, "run", m, "--allocatable-memory=1Gi")
	if out := mustPodbox(t, e, "ps", "-o", "json", "--root", t.TempDir()); out != "[]\n" {
		t.Errorf("ps --root EMPTY after the verb: %q, want no pods", out)
	}
}

// Item 10: the example manifests start without errors in their own logs,
// and stop at once.
func TestExamplesStartClean(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	web, _, _ := withFreeHostPort(t, "web.yaml")
	artifact, _, _ := withFreeHostPort(t, "init-artifact.yaml")
	hostDir := t.TempDir()
	shared := manifest(t, "two-containers.yaml", strings.ReplaceAll(string(must(os.ReadFile(podsManifest(t, "two-containers-shared-hostpath.yaml")))), "/tmp/podbox-shared", hostDir))
	for _, m := range []string{web, artifact, shared, podsManifest(t, "log-sidecar.yaml"), podsManifest(t, "shared-network.yaml")} {
		mustPodbox(t, e, "run", m)
	}
	// Each has done its work once.
	for _, w := range []struct{ pod, ctr, want string }{
		{"web", "writer", "wrote index.html"},
		{"two-containers", "reader", "UTC"},
		{"log-sidecar", "log-shipper", "line 2"},
	} {
		eventually(t, 10*time.Second, w.pod+"/"+w.ctr+" at work", func() (bool, string) {
			out := mustPodbox(t, e, "logs", w.pod, "-c", w.ctr)
			return strings.Contains(out, w.want), out
		})
	}
	bad := regexp.MustCompile(`(?i)can't|no such file|read-only|error|not found|denied`)
	for _, r := range e.ps(t) {
		st := e.getPod(t, r.Name)
		for _, list := range [][]string{names(st.Status.InitContainerStatuses), names(st.Status.ContainerStatuses)} {
			for _, c := range list {
				if out := mustPodbox(t, e, "logs", r.Name, "-c", c); bad.MatchString(out) {
					t.Errorf("%s/%s logged an error:\n%s", r.Name, c, out)
				}
			}
		}
	}
	for _, pod := range []string{"web", "two-containers", "log-sidecar"} {
		start := time.Now()
		mustPodbox(t, e, "stop", pod)
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("stop %s took %s: its containers ignore SIGTERM", pod, took)
		}
	}
}

// Item 11: the small ones.
func TestSmallCLIFixes(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	if out := mustPodbox(t, e, "stop", "--help"); strings.Contains(out, "default: -1") || !strings.Contains(out, "terminationGracePeriodSeconds") {
		t.Errorf("stop --help:\n%s", out)
	}
	if out := mustPodbox(t, e, "inspect", "--help"); !strings.Contains(out, "table with -o namespaces") {
		t.Errorf("inspect --help does not say -o namespaces is a table:\n%s", out)
	}
	out := mustPodbox(t, e, "image", "ls")
	if !regexp.MustCompile(`(?m)^busybox\s+latest\s+<none>\s+sha256:[0-9a-f]{12}\s+\d+(\.\d+)?(B|kB|MB|GB)\s+\d+s ago$`).MatchString(out) {
		t.Errorf("image ls: want a size in decimal units (2.04MB):\n%s", out)
	}
	created := func() string {
		b := must(os.ReadFile(filepath.Join(e.root, "images", "images", "busybox:latest")))
		var img struct {
			Created string `json:"created"`
		}
		if err := json.Unmarshal(b, &img); err != nil {
			t.Fatal(err)
		}
		return img.Created
	}
	before := created()
	mustPodbox(t, e, "image", "import", "busybox", busyboxTar(t))
	if after := created(); after != before {
		t.Errorf("re-importing the same image changed its created time from %s to %s", before, after)
	}
	// The demo prints no colour codes into a pipe; the README walkthrough
	// runs it (TestREADMEWalkthrough).
}

// Item 12: completion of verbs, flags, pod and container names, through the
// scripts as the shells run them.
func TestCompletion(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "pair.yaml"))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"__complete", "lo"}, "logs\n"},
		{[]string{"__complete", "logs", ""}, "pair\n"},
		{[]string{"__complete", "exec", "-it", "pair", "-c", ""}, "talker\nquiet\n"},
		{[]string{"__complete", "stop", "--t"}, "--time\n"},
		{[]string{"__complete", "image", "rm", ""}, "busybox:latest\n"},
	} {
		if out := mustPodbox(t, e, tc.args...); out != tc.want {
			t.Errorf("podbox %s = %q, want %q", strings.Join(tc.args, " "), out, tc.want)
		}
	}
	script := filepath.Join(t.TempDir(), "podbox.bash")
	os.WriteFile(script, []byte(mustPodbox(t, e, "completion", "bash")), 0o644)
	bash := exec.Command("bash", "-c", `source "$1"; COMP_WORDS=("$2" logs pair -c ""); COMP_CWORD=4; _podbox; printf '%s\n' "${COMPREPLY[@]}"`, "bash", script, e.bin)
	bash.Env = e.environ()
	if out, err := bash.CombinedOutput(); err != nil || string(out) != "talker\nquiet\n" {
		t.Errorf("bash completion of logs pair -c: %v, %q", err, out)
	}
	if _, err := exec.LookPath("zsh"); err == nil {
		zsh := filepath.Join(t.TempDir(), "_podbox")
		os.WriteFile(zsh, []byte(mustPodbox(t, e, "completion", "zsh")), 0o644)
		if out, err := exec.Command("zsh", "-n", zsh).CombinedOutput(); err != nil {
			t.Errorf("zsh -n _podbox: %v\n%s", err, out)
		}
	}
	// The man page says what --help says (item 12).
	if out := mustPodbox(t, e, "__man"); !strings.Contains(out, "podbox get pods -o json") || !strings.Contains(out, "kubectl.kubernetes.io/default-container") {
		t.Errorf("the man page lacks the verbs' descriptions and examples:\n%s", out)
	}
}

func names(list []v1.ContainerStatus) []string {
	var out []string
	for _, cs := range list {
		out = append(out, cs.Name)
	}
	return out
}
