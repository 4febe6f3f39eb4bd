package e2e

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	occg "github.com/opencontainers/cgroups"
	v1 "k8s.io/api/core/v1"

	"github.com/podbox/podbox/cgroups"
)

// One file: a ConfigMap, a Deployment (replicas and a nodeSelector that
// podbox does not act on), a Pod and a Job. Each runs, with the
// ConfigMap's values; the warning names what was ignored.
const severalWorkloads = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {GREETING: hello}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      nodeSelector: {disktype: ssd}
      containers:
      - name: web
        image: busybox
        command: [sh, -c, 'echo "$GREETING from web"; exec sleep 3600']
        envFrom: [{configMapRef: {name: settings}}]
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: plain}
  spec:
    terminationGracePeriodSeconds: 1
    containers:
    - name: pause
      image: busybox
      command: [sh, -c, 'echo "$G from a container named pause"; exec sleep 3600']
      env: [{name: G, valueFrom: {configMapKeyRef: {name: settings, key: GREETING}}}]
- apiVersion: batch/v1
  kind: Job
  metadata: {name: once}
  spec:
    template:
      spec:
        restartPolicy: Never
        containers: [{name: once, image: busybox, command: [sh, -c, 'echo done']}]
`

func TestSeveralWorkloadsInOneFile(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "all.yaml", severalWorkloads)
	out, errOut, code := podbox(t, e, "run", m)
	if code != 0 {
		t.Fatalf("podbox run: exit %d\n%s%s", code, out, errOut)
	}
	if out != "web-pod\nplain\nonce-pod\n" {
		t.Errorf("podbox run printed %q, want the three pods' names", out)
	}
	wantWarn := `warning: Deployment "web" (pod "web-pod"): podbox does not act on spec.replicas, spec.template.spec.nodeSelector (they only matter to a cluster)`
	if !strings.Contains(errOut, wantWarn) || strings.Count(errOut, "warning:") != 1 {
		t.Errorf("stderr:\n%s\nwant the one line %q", errOut, wantWarn)
	}
	pod := e.getPod(t, "web-pod")
	if pod.Labels["app"] != "web" || len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "Deployment" || pod.OwnerReferences[0].Name != "web" {
		t.Errorf("web-pod: labels %v, ownerReferences %+v", pod.Labels, pod.OwnerReferences)
	}
	eventually(t, 20*time.Second, "the logs", func() (bool, string) {
		a, _, _ := podbox(t, e, "logs", "web-pod")
		b, _, _ := podbox(t, e, "logs", "plain", "-c", "pause")
		return a == "hello from web\n" && b == "hello from a container named pause\n", a + b
	})
	waitPhase(t, e, "once-pod", v1.PodSucceeded, 20*time.Second)
	if p := e.getPod(t, "once-pod"); p.Labels["job-name"] != "once" || p.Labels["batch.kubernetes.io/job-name"] != "once" {
		t.Errorf("once-pod labels %v", p.Labels)
	}
	// --strict refuses what was only a warning, before anything is made.
	mustPodbox(t, e, "rm", "-f", "web-pod", "plain", "once-pod")
	failPodbox(t, e, 1, []string{"document 2: spec.replicas: only matters to a cluster: podbox does not act on it",
		"document 2: spec.template.spec.nodeSelector: only matters to a cluster"}, "run", "--strict", m)
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("--strict left pods: %+v", rows)
	}
}

// A file whose second pod can not be made leaves nothing: the first is
// removed again, and the message says which failed and what was removed.
// A file with a mistake in one pod makes none.
func TestSeveralPodsAllOrNothing(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	two := `apiVersion: v1
kind: Pod
metadata: {name: first}
spec:
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: [sleep, "3600"], resources: {limits: {memory: 64Mi}}}]
---
apiVersion: v1
kind: Pod
metadata: {name: second}
spec:
  containers: [{name: c, image: busybox, command: [sleep, "3600"], resources: {limits: {memory: 512Mi}}}]
`
	m := manifest(t, "two.yaml", two)
	failPodbox(t, e, 1, []string{`pod "second" (2 of 2): `, "refused", "(removed the pods made before it: first)"},
		"--allocatable-memory", "256Mi", "run", m)
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("pods left after a failed file: %+v", rows)
	}
	bad := manifest(t, "bad.yaml", strings.Replace(two, "name: second}", "name: Second}", 1))
	failPodbox(t, e, 1, []string{`document 2: metadata.name: "Second" is not a DNS-1123 label`}, "run", bad)
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("pods left after a bad file: %+v", rows)
	}
	failPodbox(t, e, 1, []string{"--name renames one pod, the manifest holds 2"}, "run", "--name", "x", m)
}

// A Job's pod: a failing container is run again until the Job's
// backoffLimit; then the pod is Failed, BackoffLimitExceeded.
func TestJobBackoffLimit(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "job.yaml", `apiVersion: batch/v1
kind: Job
metadata: {name: flaky}
spec:
  backoffLimit: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: try, image: busybox, command: [sh, -c, 'echo trying; exit 3']}]
`)
	podbox(t, e, "run", m)
	waitPhase(t, e, "flaky-pod", v1.PodFailed, 30*time.Second)
	p := e.getPod(t, "flaky-pod")
	cs := containerStatus(t, p, "try")
	if p.Status.Reason != "BackoffLimitExceeded" || cs.RestartCount != 2 || cs.State.Terminated == nil || cs.State.Terminated.ExitCode != 3 {
		t.Errorf("pod reason %q (%s), restartCount %d, state %+v; want BackoffLimitExceeded after 2 retries", p.Status.Reason, p.Status.Message, cs.RestartCount, cs.State)
	}
}

// terminationMessagePath and terminationMessagePolicy, as the kubelet:
// the file (at most 4096 bytes, 12 KiB for the pod, whatever the container
// does to it), or the
// log's last lines when the file is empty and the container failed.
func TestTerminationMessages(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "msg.yaml", `apiVersion: v1
kind: Pod
metadata: {name: msgs}
spec:
  restartPolicy: Never
  containers:
  - name: file
    image: busybox
    command: [sh, -c, 'printf "Sleep expired" > /dev/termination-log']
  - name: custom
    image: busybox
    terminationMessagePath: /tmp/why
    securityContext: {runAsUser: 1000}
    command: [sh, -c, 'echo "as user 1000" > /tmp/why; exit 2']
  - name: fallback
    image: busybox
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, 'for i in $(seq 1 100); do echo line $i; done; exit 1']
  - name: file-wins
    image: busybox
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, 'echo noise; echo from the file > /dev/termination-log; exit 1']
  - name: big
    image: busybox
    command: [sh, -c, 'head -c 10000 /dev/zero | tr "\0" x > /dev/termination-log']
  - name: flood
    image: busybox
    command: [sh, -c, 'head -c 5000000 /dev/zero | tr "\0" y > /dev/termination-log; exit 0']
  - name: hostile
    image: busybox
    command: [sh, -c, 'rm -f /dev/termination-log; ln -sf /etc/shadow /dev/termination-log; mount -t tmpfs x /dev 2>/dev/null; exit 1']
`)
	podbox(t, e, "run", m)
	waitPhase(t, e, "msgs", v1.PodFailed, 30*time.Second)
	p := e.getPod(t, "msgs")
	msg := func(name string) string {
		cs := containerStatus(t, p, name)
		if cs.State.Terminated == nil {
			t.Fatalf("container %s: %+v", name, cs.State)
		}
		return cs.State.Terminated.Message
	}
	var lines []string
	for i := 21; i <= 100; i++ {
		lines = append(lines, "line "+strconv.Itoa(i))
	}
	wantLogs := strings.Join(lines, "\n") + "\n"
	if share := 12288 / 7; len(wantLogs) > share {
		wantLogs = wantLogs[len(wantLogs)-share:]
	}
	for name, want := range map[string]string{
		"file":      "Sleep expired",
		"custom":    "as user 1000\n",
		"fallback":  wantLogs,
		"file-wins": "from the file\n",
		// Seven containers share the pod's 12 KiB: 1755 bytes each.
		"big": strings.Repeat("x", 12288/7),
		// What it could write stopped at its own 64 KiB tmpfs, leaving
		// its siblings' alone.
		"flood":   strings.Repeat("y", 12288/7),
		"hostile": "",
	} {
		if got := msg(name); got != want {
			t.Errorf("container %s: message %q, want %q", name, got, want)
		}
	}
}

// activeDeadlineSeconds: the pod is stopped once it ran that long, and is
// Failed with reason DeadlineExceeded.
func TestActiveDeadlineSeconds(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "deadline.yaml", `apiVersion: v1
kind: Pod
metadata: {name: deadline}
spec:
  activeDeadlineSeconds: 2
  terminationGracePeriodSeconds: 1
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
`)
	start := time.Now()
	mustPodbox(t, e, "run", m)
	waitPhase(t, e, "deadline", v1.PodFailed, 20*time.Second)
	took := time.Since(start)
	p := e.getPod(t, "deadline")
	cs := containerStatus(t, p, "c")
	if p.Status.Reason != "DeadlineExceeded" || cs.State.Terminated == nil || took < 2*time.Second {
		t.Errorf("after %s: reason %q, message %q, container %+v", took, p.Status.Reason, p.Status.Message, cs.State)
	}
}

// Container restart rules (KEP-5307): under a pod that never restarts, a
// container whose rule says Restart on exit code 42 runs again.
func TestContainerRestartRules(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "rules.yaml", `apiVersion: v1
kind: Pod
metadata: {name: rules}
spec:
  restartPolicy: Never
  volumes: [{name: state, emptyDir: {}}]
  containers:
  - name: retry
    image: busybox
    restartPolicy: Never
    restartPolicyRules: [{action: Restart, exitCodes: {operator: In, values: [42]}}]
    volumeMounts: [{name: state, mountPath: /state}]
    command: [sh, -c, 'if [ -e /state/again ]; then exit 0; fi; touch /state/again; exit 42']
  - name: always
    image: busybox
    restartPolicy: OnFailure
    volumeMounts: [{name: state, mountPath: /state}]
    command: [sh, -c, 'if [ -e /state/b ]; then exit 0; fi; touch /state/b; exit 1']
`)
	podbox(t, e, "run", m)
	waitPhase(t, e, "rules", v1.PodSucceeded, 30*time.Second)
	p := e.getPod(t, "rules")
	for _, name := range []string{"retry", "always"} {
		if cs := containerStatus(t, p, name); cs.RestartCount != 1 {
			t.Errorf("container %s: restartCount %d, want 1", name, cs.RestartCount)
		}
	}
}

// Pod-level resources: the cpu limit and request become the pod cgroup's
// CFS quota and weight, as its memory limit is its memory quota.
func TestPodLevelCPU(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "cpu.yaml", `apiVersion: v1
kind: Pod
metadata: {name: cpu}
spec:
  terminationGracePeriodSeconds: 1
  resources: {limits: {cpu: 500m, memory: 64Mi}, requests: {cpu: 250m}}
  containers: [{name: c, image: busybox, command: [sleep, "3600"]}]
`)
	mustPodbox(t, e, "run", m)
	path := e.inspect(t, "cpu").Cgroup.Path
	read := func(file string) string {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if cgroups.IsV2() {
		// 256 shares in cpu.weight, by the library's conversion.
		weight := strconv.FormatUint(occg.ConvertCPUSharesToCgroupV2Value(256), 10)
		if q, w := read("/sys/fs/cgroup"+path+"/cpu.max"), read("/sys/fs/cgroup"+path+"/cpu.weight"); q != "50000 100000" || w != weight {
			t.Errorf("cpu.max %q, cpu.weight %q; want \"50000 100000\" and %s", q, w, weight)
		}
	} else if q, s := read("/sys/fs/cgroup/cpu"+path+"/cpu.cfs_quota_us"), read("/sys/fs/cgroup/cpu"+path+"/cpu.shares"); q != "50000" || s != "256" {
		t.Errorf("cpu.cfs_quota_us %q, cpu.shares %q; want 50000 and 256", q, s)
	}
}

// waitPhase waits up to d for the pod to reach phase.
func waitPhase(t *testing.T, e *env, name string, phase v1.PodPhase, d time.Duration) {
	t.Helper()
	eventually(t, d, "pod "+name+" to be "+string(phase), func() (bool, string) {
		p := e.getPod(t, name)
		return p.Status.Phase == phase, string(p.Status.Phase) + " " + p.Status.Message
	})
}

// $(VAR) references in env values, command and args, as the kubelet
// expands them.
func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "expand.yaml", `apiVersion: v1
kind: Pod
metadata: {name: expand}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: busybox
    command: [echo, "$(ADDRESS) $$(PROTOCOL) $(UNDEFINED) $(NAME)"]
    env:
    - {name: PROTOCOL, value: https}
    - {name: ADDRESS, value: "$(PROTOCOL)://$(HOST)"}
    - {name: HOST, value: example.org}
    - {name: NAME, valueFrom: {fieldRef: {fieldPath: metadata.name}}}
`)
	podbox(t, e, "run", m)
	waitPhase(t, e, "expand", v1.PodSucceeded, 20*time.Second)
	if out := mustPodbox(t, e, "logs", "expand"); out != "https://$(HOST) $(PROTOCOL) $(UNDEFINED) expand\n" {
		t.Errorf("logs = %q", out)
	}
}

// generateName: podbox run prints the name it made, and the pod is found
// by it.
func TestGenerateName(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "gen.yaml", `apiVersion: v1
kind: Pod
metadata: {generateName: hello-}
spec:
  restartPolicy: Never
  containers: [{name: c, image: busybox, command: [echo, hi]}]
`)
	name := strings.TrimSpace(mustPodbox(t, e, "run", m))
	if !strings.HasPrefix(name, "hello-") || len(name) != len("hello-")+5 {
		t.Fatalf("podbox run printed %q, want hello-XXXXX", name)
	}
	waitPhase(t, e, name, v1.PodSucceeded, 20*time.Second)
}
