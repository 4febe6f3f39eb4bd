package sandbox

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A managed pod, as a CRI server runs it: the sandbox first with no
// container, which stays up; then containers added, started, stopped and
// removed one by one, never restarted by the lifecycle; a name used again
// once removed; attach to a running one's streams.
func TestManagedContainers(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	st := e.run(&PodConfig{Name: "managed", Managed: true})
	if st.Phase != PhaseRunning || len(st.Containers) != 0 {
		t.Fatalf("managed pod with no container: phase %s, %d containers", st.Phase, len(st.Containers))
	}
	logPath := filepath.Join(t.TempDir(), "logs", "once.log")
	once := e.container("once", "sh", "-c", "echo ran; exit 3")
	once.LogPath = logPath
	if err := e.m.AddContainer(ctx, "managed", once); err != nil {
		t.Fatal(err)
	}
	if err := e.m.AddContainer(ctx, "managed", once); !errors.Is(err, ErrExist) {
		t.Fatalf("a second container of the same name: %v, want ErrExist", err)
	}
	if cs := e.ctr("managed", "once"); cs.State != StateWaiting || cs.Reason != ReasonCreating || cs.Created.IsZero() {
		t.Fatalf("added container: %+v, want waiting (ContainerCreating) with its creation time", cs)
	}
	if err := e.m.StartContainer(ctx, "managed", "once"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the container's exit", func() bool { return e.ctr("managed", "once").State == StateTerminated })
	// Not restarted, whatever the pod's policy; the pod stays up.
	time.Sleep(500 * time.Millisecond)
	cs := e.ctr("managed", "once")
	if cs.State != StateTerminated || cs.ExitCode != 3 || cs.RestartCount != 0 {
		t.Fatalf("after its exit: %+v, want terminated with 3, never restarted", cs)
	}
	if st, _ := e.m.Status(ctx, "managed"); st.Phase != PhaseRunning {
		t.Fatalf("the pod is %s once its only container ended, want Running", st.Phase)
	}
	// Its log is where it was asked to be, in the CRI format.
	if b, err := os.ReadFile(logPath); err != nil || !strings.Contains(string(b), " stdout F ran\n") {
		t.Fatalf("log at %s: %v\n%s", logPath, err, b)
	}
	if err := e.m.StartContainer(ctx, "managed", "once"); err == nil {
		t.Fatal("a container that ran was started again")
	}
	if err := e.m.StartContainer(ctx, "managed", "nosuch"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("start of a missing container: %v, want ErrNotExist", err)
	}

	// A long-running one: stopped with its grace period, then removed.
	sleeper := e.container("sleeper", "sleep", "3600")
	if err := e.m.AddContainer(ctx, "managed", sleeper); err != nil {
		t.Fatal(err)
	}
	if err := e.m.StartContainer(ctx, "managed", "sleeper"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := e.m.StopContainer(ctx, "managed", "sleeper", 0); err != nil {
		t.Fatal(err)
	}
	if cs := e.ctr("managed", "sleeper"); cs.State != StateTerminated || time.Since(start) > 10*time.Second {
		t.Fatalf("after StopContainer: %s (%s)", cs.State, time.Since(start))
	}
	if err := e.m.StopContainer(ctx, "managed", "sleeper", 0); err != nil {
		t.Fatalf("stop of a stopped container: %v", err)
	}
	if err := e.m.RemoveContainer(ctx, "managed", "sleeper"); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RemoveContainer(ctx, "managed", "sleeper"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("second remove: %v, want ErrNotExist", err)
	}
	if _, err := os.Stat(containerDir(e.m.podDir("managed"), "sleeper")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the removed container's directory: %v", err)
	}
	// The name is free again; the new one runs, and a running container
	// is killed by its removal.
	if err := e.m.AddContainer(ctx, "managed", sleeper); err != nil {
		t.Fatal(err)
	}
	if err := e.m.StartContainer(ctx, "managed", "sleeper"); err != nil {
		t.Fatalf("start of a container added under a name used before: %v", err)
	}

	// Attach: what a cat container reads from the client comes back, and
	// StdinOnce closes its stdin when the client closes its side.
	cat := e.container("cat", "cat")
	cat.Stdin, cat.StdinOnce = true, true
	if err := e.m.AddContainer(ctx, "managed", cat); err != nil {
		t.Fatal(err)
	}
	if err := e.m.StartContainer(ctx, "managed", "cat"); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	actx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.m.AttachContainer(actx, "managed", "cat", AttachStreams{Stdin: strings.NewReader("hello attach\n"), Stdout: &out, Stderr: &errOut}); err != nil {
		t.Fatal(err)
	}
	if out.String() != "hello attach\n" || errOut.Len() != 0 {
		t.Fatalf("attach: stdout %q, stderr %q", out.String(), errOut.String())
	}
	waitFor(t, 10*time.Second, "cat's exit once its stdin closed", func() bool { return e.ctr("managed", "cat").State == StateTerminated })
	if err := e.m.AttachContainer(ctx, "managed", "cat", AttachStreams{Stdout: io.Discard}); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("attach to an ended container: %v, want ErrNotRunning", err)
	}

	if err := e.m.RemoveContainer(ctx, "managed", "sleeper"); err != nil {
		t.Fatalf("remove of a running container: %v", err)
	}
	// Stop ends what runs; a stopped pod's containers can still be removed.
	if err := e.m.Stop(ctx, "managed", time.Second); err != nil {
		t.Fatal(err)
	}
	if err := e.m.RemoveContainer(ctx, "managed", "once"); err != nil {
		t.Fatalf("remove in a stopped pod: %v", err)
	}
	if err := e.m.AddContainer(ctx, "managed", e.container("late", "true")); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("add to a stopped pod: %v, want ErrNotRunning", err)
	}
	st, err := e.m.Status(ctx, "managed")
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Containers) != 1 || st.Containers[0].Name != "cat" {
		t.Fatalf("containers left: %+v", st.Containers)
	}
}

// A pod that is not managed refuses AddContainer.
func TestAddContainerNeedsManagedPod(t *testing.T) {
	e := newTestEnv(t)
	e.run(&PodConfig{Name: "plain", Containers: []ContainerConfig{e.container("c", "sleep", "3600")}})
	if err := e.m.AddContainer(context.Background(), "plain", e.container("d", "true")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("AddContainer to a pod that is not managed: %v, want ErrInvalid", err)
	}
}
