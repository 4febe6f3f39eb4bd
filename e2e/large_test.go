package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// largePod is a pod of n app containers sharing an emptyDir; container
// hook (when 0 <= hook < n) has a postStart hook that writes
// /shared/hook-done after a pause, and every container after it refuses
// to run (exit 7) without that file: the containers start together, but
// never before the postStart hook of a container before them ended, as
// the kubelet orders them. Each container ends on SIGTERM with 0.
func largePod(name string, n, hook int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec:\n  terminationGracePeriodSeconds: 20\n  volumes: [{name: shared, emptyDir: {}}]\n  containers:\n", name)
	for i := 0; i < n; i++ {
		check := ""
		if hook >= 0 && i > hook {
			check = "test -e /shared/hook-done || exit 7; "
		}
		fmt.Fprintf(&b, "  - name: c%02d\n    image: busybox\n    volumeMounts: [{name: shared, mountPath: /shared}]\n", i)
		fmt.Fprintf(&b, "    command: [sh, -c, \"%strap 'exit 0' TERM; echo $$ > /shared/c%02d; sleep 3600 & wait\"]\n", check, i)
		if i == hook {
			b.WriteString("    lifecycle: {postStart: {exec: {command: [sh, -c, \"sleep 0.3; touch /shared/hook-done\"]}}}\n")
		}
	}
	return b.String()
}

// TestLargePod: a pod of 20 containers starts (every container once, in
// the pod's namespaces, none before the postStart hook of a container
// before it ended), stops (each one on its SIGTERM, exit 0) and is
// removed without leaving anything.
func TestLargePod(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	const n = 20
	if out := mustPodbox(t, e, "run", manifest(t, "large.yaml", largePod("large", n, 9))); out != "large\n" {
		t.Errorf("run printed %q", out)
	}
	pod := e.getPod(t, "large")
	if pod.Status.Phase != v1.PodRunning || len(pod.Status.ContainerStatuses) != n {
		t.Fatalf("phase %q with %d container statuses, want Running with %d (message %q)",
			pod.Status.Phase, len(pod.Status.ContainerStatuses), n, pod.Status.Message)
	}
	in := e.inspect(t, "large")
	// Its monitor is podbox-shim, found beside podbox, and the lifecycle
	// (podbox-monitor) leaves once every container runs.
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", in.MonitorPID)); err != nil || filepath.Base(exe) != "podbox-shim" {
		t.Errorf("the pod's monitor (pid %d) runs %q (%v), want podbox-shim", in.MonitorPID, exe, err)
	}
	eventually(t, 10*time.Second, "the lifecycle gone, the shim alone", func() (bool, string) {
		kids := childrenNamed(in.MonitorPID, "podbox-monitor")
		return len(kids) == 0, fmt.Sprintf("podbox-monitor children of the shim: %v", kids)
	})
	pids := map[int]string{}
	for _, c := range in.Containers {
		if c.State != "running" || c.RestartCount != 0 || c.PID <= 0 {
			t.Errorf("container %s: state %q, pid %d, restarts %d; want running once", c.Name, c.State, c.PID, c.RestartCount)
		}
		if other, dup := pids[c.PID]; dup {
			t.Errorf("containers %s and %s both have pid %d", other, c.Name, c.PID)
		}
		pids[c.PID] = c.Name
		for _, kind := range []string{"net", "ipc", "uts"} {
			if got, want := c.Namespaces[kind], in.Namespaces[kind].Inode; got != want || want == 0 {
				t.Errorf("container %s: %s namespace %d, the pod's is %d", c.Name, kind, got, want)
			}
		}
	}
	if len(in.Containers) != n {
		t.Errorf("inspect lists %d containers, want %d", len(in.Containers), n)
	}
	// Each wrote its marker into the shared volume.
	out := mustPodbox(t, e, "exec", "large", "-c", "c19", "--", "sh", "-c", "ls /shared | grep -c '^c'")
	if strings.TrimSpace(out) != fmt.Sprint(n) {
		t.Errorf("%s markers in the shared volume, want %d", strings.TrimSpace(out), n)
	}

	if out := mustPodbox(t, e, "stop", "large"); !strings.HasPrefix(out, `pod "large" stopped in `) || strings.Contains(out, "killed") {
		t.Errorf("stop printed %q, want every container stopped by its SIGTERM", out)
	}
	pod = e.getPod(t, "large")
	for _, cs := range pod.Status.ContainerStatuses {
		if tr := cs.State.Terminated; tr == nil || tr.ExitCode != 0 || cs.RestartCount != 0 {
			t.Errorf("%s after stop: %+v (restarts %d), want terminated with 0", cs.Name, cs.State, cs.RestartCount)
		}
	}
	if pod.Status.Phase != v1.PodSucceeded {
		t.Errorf("phase after stop %q, want Succeeded", pod.Status.Phase)
	}
	mustPodbox(t, e, "rm", "large")
	// The kernel deletes the pod's veth with its network namespace, a
	// little after the last process in it is gone (longer on a loaded
	// host): wait for that, then check.
	eventually(t, 5*time.Second, "the pod's veth deleted", func() (bool, string) {
		out, _ := exec.Command("ip", "-o", "link", "show").CombinedOutput()
		return !strings.Contains(string(out), e.veth), string(out)
	})
	e.assertNothingLeft(t)
}
