package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
)

// criServer is `podbox cri` run by a test, and crictl pointed at it.
type criServer struct {
	e      *env
	sock   string
	cmd    *exec.Cmd
	log    *bytes.Buffer
	crictl string
}

// startCRI starts podbox cri on a socket under the test's root and waits
// for it to answer.
func startCRI(t *testing.T, e *env) *criServer {
	t.Helper()
	s := &criServer{e: e, sock: filepath.Join(e.root, "cri.sock"), crictl: testutil.Binary(t, "crictl"), log: &bytes.Buffer{}}
	s.start(t)
	return s
}

func (s *criServer) start(t *testing.T) {
	t.Helper()
	s.cmd = s.e.command(context.Background(), "cri", "--listen", "unix://"+s.sock)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := s.cmd
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		if t.Failed() {
			t.Logf("podbox cri output:\n%s", s.log)
		}
	})
	eventually(t, 10*time.Second, "podbox cri answers", func() (bool, string) {
		out, err := s.run(t, "version")
		return err == nil && strings.Contains(out, "RuntimeName:  podbox"), out
	})
}

// stop ends the server as a service manager would (SIGTERM).
func (s *criServer) stop(t *testing.T) {
	t.Helper()
	s.cmd.Process.Signal(os.Interrupt)
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("podbox cri exited with %v\n%s", err, s.log)
	}
}

// run runs crictl against the server.
func (s *criServer) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.crictl, append([]string{"--runtime-endpoint", "unix://" + s.sock, "--image-endpoint", "unix://" + s.sock, "--timeout", "60s"}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	err := cmd.Run()
	s.e.record("$ crictl %s   # %v, %s\n%s%s", shellJoin(args), err, time.Since(start).Round(time.Millisecond), indent("stdout", out.String()), indent("stderr", errOut.String()))
	if err != nil {
		return out.String(), fmt.Errorf("crictl %s: %v\n%s", shellJoin(args), err, errOut.String())
	}
	return out.String(), nil
}

func (s *criServer) must(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.run(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out)
}

// TestCRIWalk walks a pod through the CRI by hand, as crictl's user (or
// the kubelet) does: runp, create, start, exec, logs, port-forward, then a
// restart of the server that must not touch the pod, stopp and rmp.
func TestCRIWalk(t *testing.T) {
	e := newEnvWithBusybox(t)
	s := startCRI(t, e)
	t.Cleanup(func() { removeAllNamespaces(t, e) })
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	podJSON := filepath.Join(dir, "pod.json")
	ctrJSON := filepath.Join(dir, "ctr.json")
	writeJSON(t, podJSON, map[string]any{
		"metadata":      map[string]any{"name": "walk", "namespace": "cri-e2e", "uid": "e2e-uid-1"},
		"log_directory": logDir,
		"labels":        map[string]string{"app": "walk"},
	})
	writeJSON(t, ctrJSON, map[string]any{
		"metadata": map[string]any{"name": "web"},
		"image":    map[string]any{"image": "busybox"},
		"command":  []string{"sh", "-c", "echo started; mkdir -p /www && echo walk-page > /www/index.html && exec httpd -f -p 8080 -h /www"},
		"log_path": "web/0.log",
		"labels":   map[string]string{"role": "web"},
	})

	pod := s.must(t, "runp", podJSON)
	if len(pod) != 64 {
		t.Fatalf("runp printed %q, want a 64-digit sandbox ID", pod)
	}
	// The sandbox is a podbox pod in its Kubernetes namespace.
	if out := mustPodbox(t, e, "ps", "-A"); !strings.Contains(out, "cri-e2e") || !strings.Contains(out, "walk") {
		t.Fatalf("podbox ps -A does not show the CRI pod cri-e2e/walk:\n%s", out)
	}
	ctr := s.must(t, "create", pod, ctrJSON, podJSON)
	if out := s.must(t, "ps", "-a", "-q", "--state", "created"); out != ctr {
		t.Fatalf("created containers: %q, want %q", out, ctr)
	}
	s.must(t, "start", ctr)
	if out := s.must(t, "ps", "-q", "--state", "running", "--label", "role=web"); out != ctr {
		t.Fatalf("running containers labelled role=web: %q, want %q", out, ctr)
	}
	if out := s.must(t, "exec", ctr, "cat", "/www/index.html"); out != "walk-page" {
		t.Fatalf("exec cat printed %q, want walk-page", out)
	}
	// exec reports the command's exit code.
	if _, err := s.run(t, "exec", ctr, "sh", "-c", "exit 3"); err == nil || !strings.Contains(err.Error(), "exit code 3") {
		t.Fatalf("exec of a command that exits 3: %v", err)
	}
	eventually(t, 10*time.Second, "the container's log", func() (bool, string) {
		out, err := s.run(t, "logs", ctr)
		return err == nil && strings.TrimSpace(out) == "started", out
	})
	// The log is where the CRI says, in the CRI format.
	b, err := os.ReadFile(filepath.Join(logDir, "web", "0.log"))
	if err != nil || !strings.Contains(string(b), " stdout F started\n") {
		t.Fatalf("log file %s: %v\n%s", filepath.Join(logDir, "web", "0.log"), err, b)
	}

	// port-forward: a local port to the pod's 8080.
	port := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	pf := exec.CommandContext(ctx, s.crictl, "--runtime-endpoint", "unix://"+s.sock, "port-forward", pod, fmt.Sprintf("%d:8080", port))
	var pfOut bytes.Buffer
	pf.Stdout, pf.Stderr = &pfOut, &pfOut
	if err := pf.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); pf.Wait() })
	fetchEventually(t, 10*time.Second, fmt.Sprintf("http://127.0.0.1:%d/index.html", port), "walk-page")
	cancel()
	pf.Wait()

	// A restart of the server touches no pod: the container keeps its PID.
	pidOf := func() string {
		out := s.must(t, "inspect", ctr)
		var v struct {
			Info struct {
				Pid int `json:"pid"`
			} `json:"info"`
		}
		if err := json.Unmarshal([]byte(out), &v); err != nil || v.Info.Pid == 0 {
			t.Fatalf("crictl inspect: no pid (%v)\n%s", err, out)
		}
		return fmt.Sprint(v.Info.Pid)
	}
	before := pidOf()
	s.stop(t)
	if out := mustPodbox(t, e, "-n", "cri-e2e", "get", "pod", "walk", "-o", "json"); !strings.Contains(out, `"phase": "Running"`) {
		t.Fatalf("with podbox cri stopped the pod is not running:\n%s", out)
	}
	s.start(t)
	if after := pidOf(); after != before {
		t.Fatalf("the container's pid changed across a server restart: %s, then %s", before, after)
	}

	// Stop and remove, idempotently, as the kubelet retries them.
	s.must(t, "stopp", pod)
	s.must(t, "stopp", pod)
	if out := s.must(t, "pods", "-q", "--state", "notready"); out != pod {
		t.Fatalf("not ready sandboxes: %q, want %q", out, pod)
	}
	if out := s.must(t, "ps", "-a", "-q", "--state", "exited"); out != ctr {
		t.Fatalf("exited containers: %q, want %q", out, ctr)
	}
	// (crictl rmp asks for the sandbox's status first: a second one
	// would fail in crictl, not in the CRI's RemovePodSandbox.)
	s.must(t, "rmp", pod)
	if out := s.must(t, "pods", "-q"); out != "" {
		t.Fatalf("sandboxes after rmp: %q", out)
	}
	if out := s.must(t, "ps", "-a", "-q"); out != "" {
		t.Fatalf("containers after rmp: %q", out)
	}
	if out := mustPodbox(t, e, "ps", "-A"); strings.Contains(out, "walk") {
		t.Fatalf("podbox ps -A still shows the pod:\n%s", out)
	}
	// A missing object is NotFound to a status call.
	if _, err := s.run(t, "inspectp", pod); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Fatalf("inspectp of a removed sandbox: %v, want NotFound", err)
	}
	s.stop(t)
	e.assertNothingLeft(t)
}

// removeAllNamespaces removes the test's pods of every namespace (the CRI
// makes them in the Kubernetes namespaces it is given).
func removeAllNamespaces(t *testing.T, e *env) {
	out, _, code := podbox(t, e, "ps", "-A", "-o", "json")
	if code != 0 {
		return
	}
	var rows []psRow
	json.Unmarshal([]byte(out), &rows)
	for _, r := range rows {
		podbox(t, e, "-n", r.Namespace, "rm", "-f", r.Name)
	}
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestCRIPullAuth pulls through the CRI from a registry that wants
// credentials (docker-registry with basic auth on loopback): refused
// without them, pulled with the request's (crictl pull --creds), listed
// under its name with its digest, and removed by ID.
func TestCRIPullAuth(t *testing.T) {
	e := newEnv(t)
	s := startCRI(t, e)
	dir := t.TempDir()
	reg := startRegistry(t, dir)
	digest := reg.push(t, "team/app:v1", busyboxImage(t, dir))
	ref := reg.host + "/team/app:v1"
	if _, err := s.run(t, "pull", ref); err == nil {
		t.Fatal("pull without credentials from a registry that wants them succeeded")
	}
	if _, err := s.run(t, "pull", "--creds", reg.user+":wrong", ref); err == nil {
		t.Fatal("pull with a wrong password succeeded")
	}
	out := s.must(t, "pull", "--creds", reg.user+":"+reg.pass, ref)
	if !strings.Contains(out, "sha256:") {
		t.Fatalf("pull printed %q, want the image ID", out)
	}
	listed := s.must(t, "images", "--digests", ref)
	if !strings.Contains(listed, reg.host+"/team/app") || !strings.Contains(listed, "v1") || !strings.Contains(listed, strings.TrimPrefix(digest, "sha256:")[:13]) {
		t.Fatalf("crictl images does not list %s with its digest %s:\n%s", ref, digest, listed)
	}
	id := strings.TrimSpace(s.must(t, "images", "-q", ref))
	s.must(t, "rmi", id)
	if out := s.must(t, "images", "-q"); out != "" {
		t.Fatalf("images after rmi: %q", out)
	}
	s.stop(t)
}
