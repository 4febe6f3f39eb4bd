package sandbox

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sigterms counts the SIGTERMs this test process gets while a test runs a
// pod in-process: Stop and Remove must never signal their own process.
func watchSIGTERM(t *testing.T) *int {
	var n int
	ch := make(chan os.Signal, 4)
	signal.Notify(ch, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				n++
			case <-done:
				return
			}
		}
	}()
	t.Cleanup(func() { signal.Stop(ch); close(done) })
	return &n
}

// runInProcess creates pod and runs its lifecycle with Run in a goroutine,
// as an embedder does, once every container started.
func (e *testEnv) runInProcess(name string) <-chan error {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.m.Create(ctx, &PodConfig{Name: name, Containers: []ContainerConfig{
		e.container("app", "sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done")}}); err != nil {
		e.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- e.m.Run(ctx, name, fastRestarts) }()
	if err := e.m.WaitStarted(ctx, name, nil); err != nil {
		e.t.Fatal(err)
	}
	e.waitReady(name)
	return done
}

// waitReady waits for the pod's container to say it handles SIGTERM (as
// its PID 1, it ignores it until then).
func (e *testEnv) waitReady(name string) {
	e.t.Helper()
	waitFor(e.t, 20*time.Second, name+" ready", func() bool {
		return readLogs(e.t, e.m, name, "app", LogOptions{}) == "ready\n"
	})
}

// Stop of a pod whose lifecycle this process runs with Run (not Start)
// stops that lifecycle at once: no signal to this process, no 17 s wait,
// no restart afterwards. Another Manager of the process does the same.
func TestStopOfInProcessRun(t *testing.T) {
	e := newTestEnv(t)
	sigterms := watchSIGTERM(t)
	ctx := context.Background()
	for i, m := range []*Manager{e.m, nil} {
		name := fmt.Sprintf("inproc%d", i)
		done := e.runInProcess(name)
		if m == nil { // a second Manager on the same root
			var err error
			if m, err = New(e.opts); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		if err := m.Stop(ctx, name, 10*time.Second); err != nil {
			t.Fatal(err)
		}
		d := time.Since(start)
		if d > 5*time.Second {
			t.Errorf("Stop took %s", d)
		}
		t.Logf("Stop of %s (run in-process, by %s Manager) took %s", name, map[bool]string{true: "the same", false: "another"}[i == 0], d.Round(time.Millisecond))
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Run did not return after Stop")
		}
		time.Sleep(500 * time.Millisecond)
		st, err := e.m.Status(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if st.Phase != PhaseStopped || st.Containers[0].State != StateTerminated || st.Containers[0].Reason != ReasonStopped || st.Containers[0].ExitCode != 0 {
			t.Errorf("after Stop: phase %s, container %s %s %d", st.Phase, st.Containers[0].State, st.Containers[0].Reason, st.Containers[0].ExitCode)
		}
	}
	if *sigterms != 0 {
		t.Errorf("this process got %d SIGTERMs", *sigterms)
	}
}

// Remove(force) during an in-process Run stops the lifecycle first, and
// the pod is never written back.
func TestRemoveDuringInProcessRun(t *testing.T) {
	e := newTestEnv(t)
	sigterms := watchSIGTERM(t)
	done := e.runInProcess("gone")
	if err := e.m.Remove(context.Background(), "gone", true); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after Remove")
	}
	time.Sleep(2500 * time.Millisecond)
	if _, err := os.Stat(e.m.podDir("gone")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the removed pod was written back: %v", err)
	}
	if _, err := e.m.Status(context.Background(), "gone"); !errors.Is(err, ErrNotExist) {
		t.Errorf("Status of the removed pod: %v", err)
	}
	if *sigterms != 0 {
		t.Errorf("this process got %d SIGTERMs", *sigterms)
	}
}

// embedderHelperEnv makes the test binary an embedder that runs a pod's
// lifecycle in its own process with Run, and says what happens to it.
const embedderHelperEnv = "PODBOX_TEST_EMBEDDER"

func embedderHelper() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGTERM) // a handler, as a server has
	terms := make(chan os.Signal, 1)
	signal.Notify(terms, syscall.SIGTERM)
	go func() {
		for range terms {
			fmt.Println("got SIGTERM")
		}
	}()
	opts := testOptions(os.Getenv("PODBOX_TEST_PREFIX"))
	opts.PauseBinary = os.Getenv("PODBOX_TEST_PAUSE")
	m, err := New(opts)
	if err == nil {
		cfg := &PodConfig{Name: "other", Containers: []ContainerConfig{
			{Name: "app", Rootfs: os.Getenv("PODBOX_TEST_ROOTFS"), Args: []string{"sh", "-c", "trap 'exit 0' TERM; echo ready; while true; do sleep 0.1; done"}}}}
		if os.Getenv(embedderHelperEnv) == "init" {
			// An init container that never ends: the pod stays Pending.
			cfg.InitContainers = []ContainerConfig{{Name: "setup", Rootfs: os.Getenv("PODBOX_TEST_ROOTFS"), Args: []string{"sleep", "3600"}}}
		}
		_, err = m.Create(context.Background(), cfg)
	}
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println("created")
	fmt.Printf("run returned: %v\n", m.Run(context.Background(), "other", RunOptions{}))
	time.Sleep(2 * time.Second) // alive after its pod's lifecycle ended
	fmt.Println("exiting")
}

// startEmbedder starts embedderHelper, once it created its pod "other";
// lines are what it says after.
func (e *testEnv) startEmbedder(mode string) (*exec.Cmd, *bufio.Scanner) {
	e.t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), embedderHelperEnv+"="+mode, "PODBOX_TEST_PREFIX="+e.prefix,
		"PODBOX_TEST_PAUSE="+e.opts.PauseBinary, "PODBOX_TEST_ROOTFS="+e.rootfs)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "created" {
		e.t.Fatalf("helper: %q", lines.Text())
	}
	return cmd, lines
}

// Stop and Remove from another process of a pod that an embedder runs
// in-process: the embedder's lifecycle stops the pod, the embedder is
// never signalled and lives on.
func TestStopFromAnotherProcess(t *testing.T) {
	e := newTestEnv(t)
	cmd, lines := e.startEmbedder("1")
	ctx := context.Background()
	if err := e.m.WaitStarted(ctx, "other", nil); err != nil {
		t.Fatal(err)
	}
	e.waitReady("other")
	start := time.Now()
	if err := e.m.Stop(ctx, "other", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	if d > 5*time.Second {
		t.Errorf("Stop took %s", d)
	}
	t.Logf("Stop from another process of a pod an embedder runs took %s", d.Round(time.Millisecond))
	var out []string
	for lines.Scan() {
		out = append(out, lines.Text())
	}
	cmd.Wait()
	if strings.Join(out, "\n") != "run returned: <nil>\nexiting" {
		t.Errorf("the embedder said %q; want its Run to return nil, no SIGTERM, and to live on", out)
	}
	st, err := e.m.Status(ctx, "other")
	if err != nil || st.Phase != PhaseStopped || st.Containers[0].Reason != ReasonStopped {
		t.Errorf("after Stop from another process: %+v, %v", st, err)
	}
}
