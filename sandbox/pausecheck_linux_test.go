package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/testutil"
)

// A pause built wrong, or another program, is refused by New with what it
// said; a pause that dies on start makes Create say what it wrote.
func TestPauseBuiltWrong(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	refused := func(what, pause, want string) {
		t.Helper()
		opts := e.opts
		opts.PauseBinary = pause
		_, err := New(opts)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), pause) {
			t.Errorf("New with %s: %v; want an invalid argument naming %q and saying %q", what, err, pause, want)
		}
	}
	refused("a missing pause", filepath.Join(dir, "nosuch"), "no such file")
	refused("a program that is no pause", "/bin/true", `printed ""`)
	if runtime.GOARCH == "amd64" {
		// go build ./cmd/pause without the Makefile's linker entry.
		wrong := filepath.Join(dir, "pause-wrong")
		cmd := exec.Command("go", "build", "-o", wrong, "./cmd/pause")
		cmd.Dir = testutil.ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/pause: %v\n%s", err, out)
		}
		refused("a pause built without its linker entry", wrong, "pause.asmentry")
	}

	// Found rather than configured, a program that does not answer as
	// podbox's pause is passed over for the built-in pause.
	saved := lookPause
	lookPause = func() []string { return []string{"/bin/true"} }
	found := e.opts
	found.PauseBinary = ""
	m, err := New(found)
	lookPause = saved
	if err != nil {
		t.Fatalf("New finding only /bin/true as pause: %v", err)
	}
	if m.opts.PauseBinary != BuiltinPause {
		t.Errorf("New finding only /bin/true as pause chose %q, want BuiltinPause", m.opts.PauseBinary)
	}

	// A pause that passes -v but dies at once: Create says what it wrote.
	dying := filepath.Join(dir, "pause-dying")
	script := "#!/bin/sh\n[ \"$1\" = -v ] && { echo 'pause fake'; exit 0; }\necho 'the fake pause gives up' >&2\nexit 3\n"
	if err := os.WriteFile(dying, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	opts.PauseBinary = dying
	m, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Where the pause outlives Create (a slow machine), Start says it; where
	// it outlives Start too, the lifecycle starts it again once, and fails
	// the pod when it dies again.
	ctx := context.Background()
	var noGrace int64
	_, err = m.Create(ctx, &PodConfig{Name: "dying", TerminationGracePeriodSeconds: &noGrace, Containers: []ContainerConfig{e.container("c", "sleep", "60")}})
	if err == nil {
		t.Cleanup(func() { m.Remove(context.Background(), "dying", true) })
		err = m.Start(ctx, "dying", RunOptions{})
	} else if _, serr := os.Stat(e.m.podDir("dying")); !os.IsNotExist(serr) {
		t.Errorf("the failed Create left its directory: %v", serr)
	}
	if err == nil {
		t.Log("the pause outlived Create and Start")
		var st *PodStatus
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if st, err = m.Status(ctx, "dying"); err != nil || st.Phase == PhaseFailed {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("%s later: %s, %s", time.Since(deadline.Add(-30*time.Second)).Round(time.Millisecond), st.Phase, st.Message)
		if err == nil && st.Phase == PhaseFailed && st.PauseRestarts == 1 {
			err = errors.New(st.Message)
		} else if err == nil {
			err = fmt.Errorf("the pod is %s after %d pause restarts, message %q; want Failed after one", st.Phase, st.PauseRestarts, st.Message)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "the fake pause gives up") {
		t.Errorf("Create and Start with a pause that dies: %v; want what it wrote", err)
	}
}

// A Manager that finds no pause program runs each pod's pause inside its
// own program (BuiltinPause): the pause holds the pod's namespaces, a
// container joins them, orphans in a shared PID namespace are reaped by it,
// and Remove leaves nothing.
func TestBuiltinPause(t *testing.T) {
	e := newTestEnv(t)
	empty := t.TempDir() // the pause directory, with no pause at all
	saved := lookPause
	lookPause = func() []string { return pauseNear(empty) }
	t.Cleanup(func() { lookPause = saved })
	opts := e.opts
	opts.PauseBinary = ""
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if m.opts.PauseBinary != BuiltinPause {
		t.Fatalf("New without a pause found chose %q, want BuiltinPause", m.opts.PauseBinary)
	}
	ctx := context.Background()
	cfg := &PodConfig{Name: "builtin", ShareProcessNamespace: true, Containers: []ContainerConfig{e.container("a", "sleep", "3600")}}
	if _, err := m.Create(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx, cfg.Name, fastRestarts); err != nil {
		t.Fatal(err)
	}
	st, err := m.Status(ctx, cfg.Name)
	if err != nil {
		t.Fatal(err)
	}
	pause := st.PausePID
	self, _ := os.Executable()
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pause)); err != nil || exe != self {
		t.Errorf("the pause runs %q (%v), want this program %q", exe, err, self)
	}
	status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pause))
	t.Logf("the built-in pause: %q", regexp.MustCompile(`(?m)^(Threads|VmRSS|RssAnon):.*$`).FindAllString(string(status), -1))
	for _, kind := range []string{"net", "ipc", "uts", "pid"} {
		held := nsInode(t, pause, kind)
		if held == nsInode(t, os.Getpid(), kind) {
			t.Errorf("the pause is in the host's %s namespace", kind)
		}
		if got := nsInode(t, st.Containers[0].PID, kind); got != held {
			t.Errorf("the container is not in the %s namespace the pause holds", kind)
		}
	}
	ps, _ := e.exec(cfg.Name, "a", "ps", "-o", "pid,args")
	if !regexp.MustCompile(`(?m)^\s*1 .*podbox-pause:`).MatchString(ps) {
		t.Errorf("the built-in pause is not PID 1 of the pod:\n%s", ps)
	}
	podPID := nsInode(t, pause, "pid")
	if _, code := e.exec(cfg.Name, "a", "sh", "-c", "sleep 0.2 & sleep 0.2 & exit 0"); code != 0 {
		t.Fatal("exec failed")
	}
	waitFor(t, 5*time.Second, "the orphans to end and be reaped by the built-in pause", func() bool {
		return len(procsIn(t, podPID, "sleep\x000.2\x00")) == 0
	})
	if err := m.Stop(ctx, cfg.Name, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Remove(ctx, cfg.Name, false); err != nil {
		t.Fatal(err)
	}
	if alive(pause, st.PauseStart) {
		t.Errorf("the built-in pause %d outlived Remove", pause)
	}
	if _, err := os.Stat(m.podDir(cfg.Name)); !os.IsNotExist(err) {
		t.Errorf("Remove left the pod's directory: %v", err)
	}
}

// The built-in pause is this program started with the pause's argv[0] and
// environment: it answers -v, and exits 0 on SIGINT and SIGTERM once its
// handlers are in place. The argv[0] alone (no _PODBOX_PAUSE) is no pause.
func TestBuiltinPauseProgram(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// -test.run=^$, which a pause ignores: were the hook broken, this
	// test program would run no test rather than itself again.
	pauseProg := func(args ...string) *exec.Cmd {
		cmd := &exec.Cmd{Path: self, Args: append(append([]string{pauseArgv0(t.TempDir())}, args...), "-test.run=^$")}
		cmd.Env = []string{pauseEnv + "=1", "GOMAXPROCS=1"}
		return cmd
	}
	if out, err := pauseProg("-v").Output(); err != nil || !strings.HasPrefix(string(out), "pause ") {
		t.Errorf("the built-in pause -v: %q, %v; want \"pause <version>\"", out, err)
	}
	notPause := pauseProg()
	notPause.Env = nil
	if out, err := notPause.CombinedOutput(); err != nil || strings.HasPrefix(string(out), "pause ") {
		t.Errorf("this program with the pause's argv[0] but not its environment: %q, %v; want the tests", out, err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		cmd := pauseProg()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := false
		for deadline := time.Now().Add(testutil.Wait(5 * time.Second)); !ready && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
			m := regexp.MustCompile(`(?m)^SigIgn:\s*([0-9a-f]+)$`).FindSubmatch(b)
			// SIGHUP and SIGUSR1 ignored: the pause sets them last.
			var ign uint64
			if m != nil {
				ign, _ = strconv.ParseUint(string(m[1]), 16, 64)
			}
			const want = 1<<(syscall.SIGHUP-1) | 1<<(syscall.SIGUSR1-1)
			ready = ign&want == want
		}
		if !ready {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the built-in pause %d never ignored SIGHUP and SIGUSR1", cmd.Process.Pid)
		}
		cmd.Process.Signal(sig)
		if err := cmd.Wait(); err != nil {
			t.Errorf("the built-in pause after %v: %v; want exit status 0", sig, err)
		}
	}
}
