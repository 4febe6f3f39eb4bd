package sandbox

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// ctr is the named container's recorded status.
func (e *testEnv) ctr(pod, name string) *ContainerStatus {
	e.t.Helper()
	st, err := e.m.Status(context.Background(), pod)
	if err != nil {
		e.t.Fatal(err)
	}
	cs := st.container(name)
	if cs == nil {
		e.t.Fatalf("pod %s has no container %s", pod, name)
	}
	return cs
}

var oneSecond = ptrTo(int64(1))

func ptrTo[T any](v T) *T { return &v }

// A failing liveness probe kills the container (with the probe's grace
// period) and the restart policy restarts it, with backoff; the kill says
// why.
func TestLivenessProbeRestarts(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	c := e.container("app", "sh", "-c", "touch /tmp/healthy; exec sleep 3600")
	c.LivenessProbe = &Probe{Exec: &ExecAction{Command: []string{"test", "-f", "/tmp/healthy"}},
		PeriodSeconds: 1, FailureThreshold: 1, TerminationGracePeriodSeconds: oneSecond}
	e.run(&PodConfig{Name: "live", Containers: []ContainerConfig{c}})
	if out, code := e.exec("live", "app", "rm", "/tmp/healthy"); code != 0 {
		t.Fatalf("rm: %d %s", code, out)
	}
	waitFor(t, 15*time.Second, "a restart after the liveness probe failed", func() bool {
		cs := e.ctr("live", "app")
		return cs.RestartCount >= 1 && cs.State == StateRunning
	})
	cs := e.ctr("live", "app")
	if lt := cs.LastTermination; lt == nil || lt.ExitCode != 137 || !strings.HasPrefix(lt.Message, "liveness probe failed: command [\"test\" \"-f\" \"/tmp/healthy\"] exited with 1") {
		t.Errorf("last termination %+v; want exit 137 (the 1 s grace of the probe), liveness probe failed", lt)
	}
	// The new instance made its file again: it stays.
	if !cs.Ready() {
		t.Errorf("restarted container not ready: %+v", cs)
	}
}

// Readiness follows an HTTP probe (a busybox httpd, port by name) both
// ways; the container keeps running.
func TestReadinessProbeFlips(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	c := e.container("web", "httpd", "-f", "-p", "8080", "-h", "/www")
	c.Ports = []Port{{Name: "http", ContainerPort: 8080}}
	c.ReadinessProbe = &Probe{HTTPGet: &HTTPGetAction{Path: "/ready", PortName: "http"}, PeriodSeconds: 1, FailureThreshold: 1}
	st := e.run(&PodConfig{Name: "ready", Containers: []ContainerConfig{c}})
	if cs := st.Containers[0]; cs.Ready() || !cs.NotReady {
		t.Errorf("ready before any probe passed: %+v", cs)
	}
	ready := func(want bool) func() bool { return func() bool { return e.ctr("ready", "web").Ready() == want } }
	e.exec("ready", "web", "touch", "/www/ready")
	waitFor(t, 10*time.Second, "ready", ready(true))
	e.exec("ready", "web", "rm", "/www/ready")
	waitFor(t, 10*time.Second, "not ready", ready(false))
	e.exec("ready", "web", "touch", "/www/ready")
	waitFor(t, 10*time.Second, "ready again", ready(true))
	if cs := e.ctr("ready", "web"); cs.RestartCount != 0 || cs.State != StateRunning {
		t.Errorf("readiness restarted the container: %+v", cs)
	}
}

// A startup probe holds liveness and readiness back until it passes; one
// that keeps failing restarts the container.
func TestStartupProbe(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	c := e.container("app", "sleep", "3600")
	c.StartupProbe = &Probe{Exec: &ExecAction{Command: []string{"sh", "-c", "echo try >> /tmp/startup; test -f /tmp/started"}},
		PeriodSeconds: 1, FailureThreshold: 60}
	// Run early, this would say so.
	c.ReadinessProbe = &Probe{Exec: &ExecAction{Command: []string{"sh", "-c", "test -f /tmp/started && echo ok >> /tmp/log || echo early >> /tmp/log"}},
		PeriodSeconds: 1}
	c.LivenessProbe = &Probe{TCPSocket: &TCPSocketAction{Port: 9000}, PeriodSeconds: 1, FailureThreshold: 1}
	never := e.container("never", "sleep", "3600")
	never.StartupProbe = &Probe{TCPSocket: &TCPSocketAction{Port: 9001}, PeriodSeconds: 1, FailureThreshold: 1,
		TerminationGracePeriodSeconds: oneSecond}
	e.run(&PodConfig{Name: "startup", Containers: []ContainerConfig{c, never}})
	waitFor(t, 10*time.Second, "two startup tries", func() bool {
		out, _ := e.exec("startup", "app", "cat", "/tmp/startup")
		return strings.Count(out, "try") >= 2
	})
	if cs := e.ctr("startup", "app"); !cs.StartupPending || cs.StartedProbe() || cs.Ready() {
		t.Errorf("started before its startup probe passed: %+v", cs)
	}
	// The liveness probe (port 9000) would fail: it must not have run.
	e.exec("startup", "app", "sh", "-c", "nc -ll -p 9000 -e true </dev/null >/dev/null 2>&1 & touch /tmp/started")
	waitFor(t, 10*time.Second, "ready", func() bool { return e.ctr("startup", "app").Ready() })
	if out, _ := e.exec("startup", "app", "cat", "/tmp/log"); strings.Contains(out, "early") || !strings.Contains(out, "ok") {
		t.Errorf("readiness ran before the startup probe passed: %q", out)
	}
	if cs := e.ctr("startup", "app"); cs.RestartCount != 0 || !cs.StartedProbe() {
		t.Errorf("app: %+v", cs)
	}
	waitFor(t, 15*time.Second, "restarts of a container whose startup probe fails", func() bool {
		return e.ctr("startup", "never").RestartCount >= 2
	})
	if lt := e.ctr("startup", "never").LastTermination; lt == nil || !strings.HasPrefix(lt.Message, "startup probe failed:") {
		t.Errorf("last termination %+v", lt)
	}
}

// A native sidecar with a startup probe holds the next init container
// until the probe passes.
func TestSidecarStartupGatesNextInit(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	side := e.container("proxy", "sleep", "3600")
	side.RestartPolicy = RestartAlways
	side.StartupProbe = &Probe{Exec: &ExecAction{Command: []string{"test", "-f", "/tmp/up"}}, PeriodSeconds: 1, FailureThreshold: 60}
	cfg := &PodConfig{Name: "gate",
		InitContainers: []ContainerConfig{side, e.container("setup", "true")},
		Containers:     []ContainerConfig{e.container("app", "sleep", "3600")},
	}
	ctx := context.Background()
	if _, err := e.m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- e.m.Start(ctx, "gate", fastRestarts) }()
	waitFor(t, 10*time.Second, "the sidecar running", func() bool { return e.ctr("gate", "proxy").State == StateRunning })
	if cs := e.ctr("gate", "setup"); cs.State != StateWaiting {
		t.Fatalf("setup started before the sidecar's startup probe passed: %+v", cs)
	}
	e.exec("gate", "proxy", "touch", "/tmp/up")
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the pod did not start")
	}
	if cs := e.ctr("gate", "setup"); cs.State != StateTerminated || cs.ExitCode != 0 {
		t.Errorf("setup: %+v", cs)
	}
}

// A gRPC readiness probe: a hostNetwork pod's probes go to 127.0.0.1,
// where this test serves the gRPC health protocol.
func TestGRPCReadinessProbe(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	hs, _, port := grpcHealthServer(t)
	c := e.container("app", "sleep", "3600")
	c.ReadinessProbe = &Probe{GRPC: &GRPCAction{Port: port}, PeriodSeconds: 1, FailureThreshold: 1}
	e.run(&PodConfig{Name: "grpc", HostNetwork: true, Containers: []ContainerConfig{c}})
	waitFor(t, 10*time.Second, "ready", func() bool { return e.ctr("grpc", "app").Ready() })
	hs.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	waitFor(t, 10*time.Second, "not ready", func() bool { return !e.ctr("grpc", "app").Ready() })
}

// postStart runs before the container counts as started and its output is
// visible; preStop runs before the stop signal; a failing postStart kills
// the container.
func TestLifecycleHooks(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	c := e.container("app", "sh", "-c", `trap 'echo "TERM after $(cat /tmp/prestop)"; exit 0' TERM; while :; do sleep 0.1; done`)
	c.Lifecycle = &Lifecycle{
		PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"sh", "-c", "echo poststart > /tmp/poststart"}}},
		PreStop:   &LifecycleHandler{Exec: &ExecAction{Command: []string{"sh", "-c", "echo prestop > /tmp/prestop"}}},
	}
	bad := e.container("bad", "sleep", "3600")
	bad.Lifecycle = &Lifecycle{PostStart: &LifecycleHandler{Exec: &ExecAction{Command: []string{"sh", "-c", "echo broken; exit 2"}}}}
	grace := int64(5)
	ctx := context.Background()
	cfg := &PodConfig{Name: "hooks", RestartPolicy: RestartNever, TerminationGracePeriodSeconds: &grace,
		Containers: []ContainerConfig{c, bad}}
	if _, err := e.m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	e.m.Start(ctx, "hooks", fastRestarts) // bad's end may come first
	if out, _ := e.exec("hooks", "app", "cat", "/tmp/poststart"); out != "poststart\n" {
		t.Errorf("postStart output %q", out)
	}
	waitFor(t, 15*time.Second, "the container whose postStart failed to end", func() bool {
		return e.ctr("hooks", "bad").State == StateTerminated
	})
	if cs := e.ctr("hooks", "bad"); cs.ExitCode == 0 || !strings.Contains(cs.Message, "PostStart hook failed") || !strings.Contains(cs.Message, "broken") {
		t.Errorf("bad: exit %d, %q", cs.ExitCode, cs.Message)
	}
	// Its shell is PID 1 of its namespace: a TERM before its trap is lost.
	waitFor(t, 5*time.Second, "app's TERM trap", func() bool {
		return sigMask(t, e.ctr("hooks", "app").PID, "SigCgt:")&(1<<(syscall.SIGTERM-1)) != 0
	})
	if err := e.m.Stop(ctx, "hooks", -1); err != nil {
		t.Fatal(err)
	}
	cs := e.ctr("hooks", "app")
	log, _ := os.ReadFile(cs.LogPath)
	if !strings.Contains(string(log), "TERM after prestop") || cs.ExitCode != 0 {
		t.Errorf("app exit %d, log %q; want the preStop hook before SIGTERM", cs.ExitCode, log)
	}
}
