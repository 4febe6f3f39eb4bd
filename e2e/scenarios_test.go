package e2e

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// The classic pods of testdata/pods, run as the README shows them.

// withFreeHostPort copies a testdata/pods manifest to the test's temp dir
// with its one hostPort replaced by a free port, so that parallel runs (and
// whatever listens on the host) do not collide. It returns the copy's path,
// the port, and the containerPort it maps to.
func withFreeHostPort(t *testing.T, name string) (path string, hostPort, containerPort int) {
	t.Helper()
	data, err := os.ReadFile(podsManifest(t, name))
	if err != nil {
		t.Fatal(err)
	}
	var pod v1.Pod
	if err := yaml.Unmarshal(data, &pod); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var orig int32
	for _, c := range pod.Spec.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				orig, containerPort = p.HostPort, int(p.ContainerPort)
			}
		}
	}
	if orig == 0 {
		t.Fatalf("%s: no hostPort", name)
	}
	re := regexp.MustCompile(fmt.Sprintf(`(?m)^(\s*)hostPort: %d$`, orig))
	if n := len(re.FindAllIndex(data, -1)); n != 1 {
		t.Fatalf("%s: hostPort %d appears %d times", name, orig, n)
	}
	hostPort = freePort(t)
	data = re.ReplaceAll(data, []byte(fmt.Sprintf("${1}hostPort: %d", hostPort)))
	return manifest(t, name, string(data)), hostPort, containerPort
}

func TestScenarioSharedNetwork(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", podsManifest(t, "shared-network.yaml"))
	podIP := e.getPod(t, "shared-network").Status.PodIP
	if podIP == "" {
		t.Fatal("no status.podIP")
	}
	re := regexp.MustCompile(`(?m)^\s*inet (\S+)/24 .* eth0$`)
	var ifaces []string
	for _, c := range []string{"one", "two"} {
		out := mustPodbox(t, e, "exec", "shared-network", "-c", c, "--", "ip", "addr")
		m := re.FindStringSubmatch(out)
		if m == nil || m[1] != podIP {
			t.Errorf("ip addr in %s: eth0 address %v, want status.podIP %s:\n%s", c, m, podIP, out)
		}
		// The same interfaces, by index and name.
		ifaces = append(ifaces, strings.Join(regexp.MustCompile(`(?m)^\d+: \S+`).FindAllString(out, -1), " "))
	}
	if ifaces[0] != ifaces[1] || !strings.Contains(ifaces[0], "lo:") {
		t.Errorf("the containers see different interfaces: %q and %q", ifaces[0], ifaces[1])
	}
	// One localhost: a server in one answers on 127.0.0.1 in the other.
	if _, _, code := podbox(t, e, "exec", "shared-network", "-c", "one", "--", "sh", "-c",
		"mkdir -p /tmp/www && echo shared-lo > /tmp/www/index.html && httpd -p 127.0.0.1:8081 -h /tmp/www"); code != 0 {
		t.Fatalf("starting httpd in one: exit %d", code)
	}
	eventually(t, 5*time.Second, "wget 127.0.0.1:8081 from two", func() (bool, string) {
		out, errOut, _ := podbox(t, e, "exec", "shared-network", "-c", "two", "--", "wget", "-q", "-O", "-", "http://127.0.0.1:8081/")
		return out == "shared-lo\n", out + errOut
	})
}

func TestScenarioWeb(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m, hostPort, containerPort := withFreeHostPort(t, "web.yaml")
	if containerPort != 80 {
		t.Fatalf("web.yaml: containerPort %d, want 80", containerPort)
	}
	mustPodbox(t, e, "run", m)
	podIP := e.getPod(t, "web").Status.PodIP
	body := fetchEventually(t, 10*time.Second, fmt.Sprintf("http://%s:%d/", podIP, containerPort), "hello from pod web")
	if !strings.Contains(body, "("+podIP+")") {
		t.Errorf("page %q does not show the pod IP %s (status.podIP field ref)", body, podIP)
	}
	fetchEventually(t, 5*time.Second, fmt.Sprintf("http://127.0.0.1:%d/", hostPort), "hello from pod web")
}

func TestScenarioInitArtifact(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m, hostPort, containerPort := withFreeHostPort(t, "init-artifact.yaml")
	mustPodbox(t, e, "run", m)
	pod := e.getPod(t, "init-artifact")
	if tr := containerStatus(t, pod, "fetch").State.Terminated; tr == nil || tr.Reason != "Completed" {
		t.Errorf("fetch: %+v, want Completed", containerStatus(t, pod, "fetch").State)
	}
	fetchEventually(t, 5*time.Second, fmt.Sprintf("http://%s:%d/artifact.txt", pod.Status.PodIP, containerPort), "artifact built by")
	fetchEventually(t, 5*time.Second, fmt.Sprintf("http://127.0.0.1:%d/artifact.txt", hostPort), "artifact built by")
}

func TestScenarioLogSidecar(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", podsManifest(t, "log-sidecar.yaml"))
	eventually(t, 8*time.Second, "the app's lines in the sidecar's log", func() (bool, string) {
		out := mustPodbox(t, e, "logs", "log-sidecar", "-c", "log-shipper")
		return regexp.MustCompile(`line 1\n(.*\n)*.* line 2\n`).MatchString(out), out
	})
	if out := mustPodbox(t, e, "logs", "log-sidecar", "-c", "app"); out != "" {
		t.Errorf("the app's own log: %q, want nothing (it writes to the file)", out)
	}
}

func TestScenarioAdmission(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := podsManifest(t, "admission.yaml")
	errOut := failPodbox(t, e, 1, []string{"podbox: ", "admission", "refused", "3Gi", "2.5Gi"},
		"--allocatable-memory", "2.5Gi", "run", m)
	if strings.Count(errOut, "\n") != 1 {
		t.Errorf("refusal: want one line, got:\n%s", errOut)
	}
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after the refusal: %+v, want nothing", rows)
	}
	e.assertNothingLeft(t)

	mustPodbox(t, e, "--allocatable-memory", "3Gi", "run", m)
	in := e.inspect(t, "admission")
	if in.Phase != "Running" || in.Cgroup.MemoryLimit != 3<<30 {
		t.Errorf("admitted pod: phase %q, memory limit %d; want Running, 3Gi", in.Phase, in.Cgroup.MemoryLimit)
	}
	// The node is full now: a second copy is refused.
	failPodbox(t, e, 1, []string{"podbox: ", "refused", "3Gi"}, "--allocatable-memory", "3Gi", "run", "--name", "second", m)
}

func TestScenarioOOM(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", podsManifest(t, "oom.yaml"))
	oomKilled := func(s *v1.ContainerStateTerminated) bool {
		return s != nil && s.Reason == "OOMKilled" && s.ExitCode == 137
	}
	var pod *v1.Pod
	eventually(t, 20*time.Second, "hog OOM-killed and restarted twice", func() (bool, string) {
		pod = e.getPod(t, "oom")
		hog := containerStatus(t, pod, "hog")
		seen := oomKilled(hog.State.Terminated) || oomKilled(hog.LastTerminationState.Terminated)
		return seen && hog.RestartCount >= 2, fmt.Sprintf("restartCount %d, state %+v, lastState %+v", hog.RestartCount, hog.State, hog.LastTerminationState)
	})
	idle := containerStatus(t, pod, "idle")
	if idle.RestartCount != 0 || idle.State.Running == nil {
		t.Errorf("idle: restartCount %d, state %+v; want untouched", idle.RestartCount, idle.State)
	}
	if pod.Status.Phase != v1.PodRunning {
		t.Errorf("phase %q, want Running", pod.Status.Phase)
	}
	if in := e.inspect(t, "oom"); in.Cgroup.MemoryLimit != 64<<20 {
		t.Errorf("pod memory limit %d, want 64Mi", in.Cgroup.MemoryLimit)
	}
}
