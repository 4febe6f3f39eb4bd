package sandbox

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ephemeralStatus waits until ephemeral container name of pod satisfies
// cond, and returns its status.
func (e *testEnv) ephemeralStatus(pod, name string, what string, cond func(cs *ContainerStatus) bool) ContainerStatus {
	e.t.Helper()
	var got ContainerStatus
	waitFor(e.t, 10*time.Second, "ephemeral container "+name+" "+what, func() bool {
		st, err := e.m.Status(context.Background(), pod)
		if err != nil {
			e.t.Fatal(err)
		}
		cs := st.container(name)
		if cs == nil {
			return false
		}
		got = *cs
		return cond(cs)
	})
	return got
}

func running(cs *ContainerStatus) bool    { return cs.State == StateRunning }
func terminated(cs *ContainerStatus) bool { return cs.State == StateTerminated }

func TestEphemeralContainerJoinsThePodAndItsTarget(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	app := e.container("app", "sh", "-c", "echo from-app > /tmp/marker && exec sleep 3601")
	other := e.container("other", "sleep", "3602")
	e.run(&PodConfig{Name: "dbg", Containers: []ContainerConfig{app, other}})

	// With a target: the pod's net, IPC and UTS, the target's PID namespace.
	dbg := e.container("debugger", "sleep", "3603")
	dbg.Command = nil
	dbg.TargetContainer = "app"
	if err := e.m.AddEphemeralContainer(ctx, "dbg", dbg); err != nil {
		t.Fatal(err)
	}
	cs := e.ephemeralStatus("dbg", "debugger", "running", running)
	st, err := e.m.Status(ctx, "dbg")
	if err != nil {
		t.Fatal(err)
	}
	if cs.Kind != KindEphemeral || len(st.Config.EphemeralContainers) != 1 || st.Config.EphemeralContainers[0].TargetContainer != "app" {
		t.Errorf("status %+v, config %+v: want one ephemeral container targeting app", cs, st.Config.EphemeralContainers)
	}
	for _, kind := range []string{"net", "ipc", "uts"} {
		if got, want := nsInode(t, cs.PID, kind), nsInode(t, st.PausePID, kind); got != want {
			t.Errorf("%s namespace %d, the pod's is %d", kind, got, want)
		}
	}
	appPID := st.container("app").PID
	if got, want := nsInode(t, cs.PID, "pid"), nsInode(t, appPID, "pid"); got != want {
		t.Errorf("pid namespace %d, the target's is %d", got, want)
	}
	if nsInode(t, cs.PID, "pid") == nsInode(t, st.container("other").PID, "pid") {
		t.Errorf("the ephemeral container is in the PID namespace of a container it does not target")
	}
	if nsInode(t, cs.PID, "mnt") == nsInode(t, appPID, "mnt") {
		t.Errorf("the ephemeral container shares its target's mount namespace")
	}
	// ps shows the target's processes, and /proc/<pid>/root its files.
	if out, code := e.exec("dbg", "debugger", "ps"); code != 0 || !strings.Contains(out, "sleep 3601") || strings.Contains(out, "sleep 3602") {
		t.Errorf("ps in the ephemeral container: exit %d\n%s\nwant the target's sleep 3601 only", code, out)
	}
	if out, code := e.exec("dbg", "debugger", "cat", "/proc/1/root/tmp/marker"); code != 0 || out != "from-app\n" {
		t.Errorf("cat /proc/1/root/tmp/marker: exit %d, %q; want from-app", code, out)
	}

	// Without a target: a PID namespace of its own.
	if err := e.m.AddEphemeralContainer(ctx, "dbg", e.container("loner", "sleep", "3604")); err != nil {
		t.Fatal(err)
	}
	loner := e.ephemeralStatus("dbg", "loner", "running", running)
	if nsInode(t, loner.PID, "pid") == nsInode(t, appPID, "pid") {
		t.Errorf("an ephemeral container without a target joined the app's PID namespace")
	}
	if nsInode(t, loner.PID, "net") != nsInode(t, st.PausePID, "net") {
		t.Errorf("an ephemeral container without a target is not in the pod's network namespace")
	}

	// A stop ends them with the pod.
	if err := e.m.Stop(ctx, "dbg", time.Second); err != nil {
		t.Fatal(err)
	}
	st, err = e.m.Status(ctx, "dbg")
	if err != nil {
		t.Fatal(err)
	}
	for _, cs := range st.EphemeralContainers {
		if cs.State != StateTerminated {
			t.Errorf("after the stop, ephemeral container %s is %s", cs.Name, cs.State)
		}
	}
}

func TestEphemeralContainerIsNeverRestartedAndKeepsItsExit(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.run(&PodConfig{Name: "once", RestartPolicy: RestartAlways, Containers: []ContainerConfig{e.container("app", "sleep", "3600")}})
	if err := e.m.AddEphemeralContainer(ctx, "once", e.container("failer", "sh", "-c", "echo bye; exit 3")); err != nil {
		t.Fatal(err)
	}
	cs := e.ephemeralStatus("once", "failer", "terminated", terminated)
	if cs.ExitCode != 3 || cs.Reason != ReasonError || cs.RestartCount != 0 {
		t.Errorf("ephemeral container ended %+v, want exit 3, Error, no restart", cs)
	}
	// Its log is kept as any container's.
	if tail := logTail(cs.LogPath, 1); !strings.Contains(tail, "bye") {
		t.Errorf("log %s: %q, want bye", cs.LogPath, tail)
	}
	// A later state write by the lifecycle keeps it (the app's restart, say).
	st, err := e.m.Status(ctx, "once")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(st.container("app").PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the app to restart", func() bool {
		st, _ := e.m.Status(ctx, "once")
		return st.container("app").RestartCount >= 1 && st.container("app").State == StateRunning
	})
	st, _ = e.m.Status(ctx, "once")
	if got := st.container("failer"); got == nil || got.State != StateTerminated || got.RestartCount != 0 || got.ExitCode != 3 {
		t.Errorf("after the app's restart the ephemeral container is %+v", got)
	}

	// Refused: a name in use, ports, resources, an unknown target, and a
	// pod created with ephemeral containers.
	bad := []struct {
		cfg  ContainerConfig
		want string
	}{
		{e.container("app", "true"), `"app" is used by another container`},
		{func() ContainerConfig { c := e.container("p", "true"); c.Ports = []Port{{ContainerPort: 80}}; return c }(), "ephemeralContainers[1].ports"},
		{func() ContainerConfig { c := e.container("r", "true"); c.MemoryLimit = 1 << 20; return c }(), "ephemeralContainers[1].resources"},
		{func() ContainerConfig { c := e.container("t", "true"); c.TargetContainer = "nosuch"; return c }(), `targetContainerName: the pod has no container "nosuch"`},
	}
	for _, b := range bad {
		err := e.m.AddEphemeralContainer(ctx, "once", b.cfg)
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("AddEphemeralContainer(%s): %v, want an error with %q", b.cfg.Name, err, b.want)
		}
	}
	cfg := &PodConfig{Name: "born", Containers: []ContainerConfig{e.container("app", "true")}, EphemeralContainers: []ContainerConfig{e.container("dbg", "true")}}
	if _, err := e.m.Create(ctx, cfg); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "ephemeralContainers:") {
		t.Errorf("Create with ephemeral containers: %v, want ErrInvalid naming ephemeralContainers", err)
	}
	// Not to a pod that is not running.
	if err := e.m.Stop(ctx, "once", 0); err != nil {
		t.Fatal(err)
	}
	if err := e.m.AddEphemeralContainer(ctx, "once", e.container("late", "true")); !errors.Is(err, ErrNotRunning) {
		t.Errorf("AddEphemeralContainer to a stopped pod: %v, want ErrNotRunning", err)
	}
}

func TestEphemeralContainerAttach(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.run(&PodConfig{Name: "att", Containers: []ContainerConfig{e.container("app", "sleep", "3600")}})

	// Stdin: the container waits for its client, which gets its output
	// from the first byte and feeds its stdin.
	c := e.container("talk", "sh", "-c", "echo first; read x; echo got $x; exit 5")
	c.Stdin = true
	if err := e.m.AddEphemeralContainer(ctx, "att", c); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	actx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	code, err := e.m.Attach(actx, "att", "talk", AttachStreams{Stdin: strings.NewReader("hello\n"), Stdout: &out})
	if err != nil || code != 5 || out.String() != "first\ngot hello\n" {
		t.Errorf("Attach: %d, %v, output %q; want 5, \"first\\ngot hello\\n\"", code, err, out.String())
	}

	// A terminal: the client's input reaches it, its output comes back.
	tc := e.container("term", "sh", "-c", "tty; read x; echo got $x")
	tc.Stdin, tc.TTY = true, true
	if err := e.m.AddEphemeralContainer(ctx, "att", tc); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	code, err = e.m.Attach(actx, "att", "term", AttachStreams{Stdin: strings.NewReader("hi\n"), Stdout: &out, Width: 100, Height: 30})
	if err != nil || code != 0 || !strings.Contains(out.String(), "/dev/pts/") || !strings.Contains(out.String(), "got hi") {
		t.Errorf("Attach with a terminal: %d, %v, output %q; want 0, /dev/pts/N, got hi", code, err, out.String())
	}

	// Once it ran, nobody attaches again.
	if _, err := e.m.Attach(actx, "att", "talk", AttachStreams{Stdout: &out}); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("Attach to an ended container: %v, want it to say terminated", err)
	}
	if _, err := e.m.Attach(actx, "att", "app", AttachStreams{Stdout: &out}); !errors.Is(err, ErrNotExist) {
		t.Errorf("Attach to an app container: %v, want ErrNotExist", err)
	}
}
