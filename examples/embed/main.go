// Command embed runs podbox's pods from a program of its own, as a
// container runtime embeds the sandbox package: two containers of an image
// sharing a volume, run by a detached monitor; events, exec, logs, stats,
// a signal, an in-place resize, a monitor killed and its pod recovered by
// a new one, a stop and a wait; a second pod run
// in-process and stopped; every error matched by its errdefs class; and
// at the end nothing left on the host. It prints one line per step and
// exits 1 at the first that fails.
//
// Build it (as root runs it):
//
//	go build -tags seccomp -o embed . && sudo ./embed BUSYBOX.tar
//
// It reads podbox's environment variables for where it works (PODBOX_ROOT,
// PODBOX_LOG_ROOT, PODBOX_IMAGE_ROOT, PODBOX_CGROUP_PARENT, PODBOX_BRIDGE,
// PODBOX_VETH_PREFIX, PODBOX_SUBNET, PODBOX_NFT_TABLE) and PODBOX_PAUSE,
// the pause program (make build's bin/pause, or "builtin" for the pause
// inside this program, sandbox.BuiltinPause; unset, the first pause found
// that answers as podbox's, else the built-in one).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

func main() {
	// Nothing to call for the re-exec hook: the sandbox package's init
	// runs a container's init or a pod's detached monitor before main.
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: embed BUSYBOX.tar")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintf(os.Stderr, "embed: %v\n", err)
		os.Exit(1)
	}
}

func step(format string, args ...any) { fmt.Printf("ok "+format+"\n", args...) }

func run(busybox string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// This process becomes a child subreaper: orphans of its own children
	// would stay <defunct> without a reaper.
	go sandbox.Reap(ctx, time.Second)

	store, err := image.Open(os.Getenv("PODBOX_IMAGE_ROOT"))
	if err != nil {
		return err
	}
	img, err := store.Import(ctx, "busybox", busybox)
	if err != nil {
		return err
	}
	// The image merged into a container as the kubelet does it: args
	// replace the image's cmd, its env comes first.
	spec := image.ContainerSpec{Args: []string{"echo", "hi"}, Env: []string{"MINE=1"}}
	if err := store.Merge(ctx, img, &spec); err != nil {
		return err
	}
	step("image merged: args %q, %d layer dirs, %s", spec.Args, len(spec.LayerDirs), spec.ImageID)

	m, err := sandbox.New(sandbox.Options{
		Images:       store,
		Root:         os.Getenv("PODBOX_ROOT"),
		LogRoot:      os.Getenv("PODBOX_LOG_ROOT"),
		CgroupParent: os.Getenv("PODBOX_CGROUP_PARENT"),
		PauseBinary:  os.Getenv("PODBOX_PAUSE"),
		Network: netns.Config{
			Bridge:     os.Getenv("PODBOX_BRIDGE"),
			VethPrefix: os.Getenv("PODBOX_VETH_PREFIX"),
			Subnet:     os.Getenv("PODBOX_SUBNET"),
			Table:      os.Getenv("PODBOX_NFT_TABLE"),
		},
	})
	if err != nil {
		return err
	}
	if _, err := m.Status(ctx, "nosuch"); !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("status of a missing pod: %v", err)
	}
	if err := sandbox.ValidateName("pod name", "Not_A_Name"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		return fmt.Errorf("a bad name: %v", err)
	}
	step("errors match their errdefs class")

	events, err := m.Events(ctx)
	if err != nil {
		return err
	}
	pod := &sandbox.PodConfig{
		Name:    "embed",
		Volumes: []sandbox.Volume{{Name: "shared", EmptyDir: &sandbox.EmptyDirVolume{}}},
		Containers: []sandbox.ContainerConfig{
			{Name: "writer", Image: "busybox", Command: []string{"sh", "-c", "i=0; while true; do i=$((i+1)); echo line $i; echo $i > /data/n; sleep 0.2; done"},
				VolumeMounts: []sandbox.VolumeMount{{Name: "shared", Target: "/data"}}},
			{Name: "reader", Image: "busybox", Command: []string{"sh", "-c", "trap 'exit 0' TERM; while true; do sleep 0.1; done"},
				VolumeMounts: []sandbox.VolumeMount{{Name: "shared", Target: "/data", ReadOnly: true}}},
		},
	}
	if _, err := m.Create(ctx, pod); err != nil {
		return err
	}
	if err := m.RunDetached(ctx, "embed", sandbox.RunOptions{BackoffBase: 200 * time.Millisecond}); err != nil {
		return err
	}
	if err := m.WaitStarted(ctx, "embed", nil); err != nil {
		return err
	}
	st, err := m.Status(ctx, "embed")
	if err != nil {
		return err
	}
	if !st.MonitorDetached || st.MonitorPID == os.Getpid() {
		return fmt.Errorf("the pod's lifecycle is not a detached monitor: pid %d", st.MonitorPID)
	}
	step("pod created and run by a detached monitor (pid %d)", st.MonitorPID)
	if err := waitEvent(ctx, events, func(ev sandbox.Event) bool {
		return ev.Type == sandbox.EventPodPhase && ev.Pod == "embed" && ev.Phase == sandbox.PhaseRunning
	}); err != nil {
		return err
	}
	step("event: pod Running")

	// The reader sees what the writer writes: one volume (its third line
	// at least, for the logs below).
	var out strings.Builder
	var n int
	for deadline := time.Now().Add(20 * time.Second); n < 3 && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out.Reset()
		code, err := m.Exec(ctx, "embed", "reader", &sandbox.ExecProcess{Args: []string{"cat", "/data/n"}, Stdout: &out, Stderr: io.Discard})
		if err != nil {
			return err
		}
		if code == 0 {
			n, _ = strconv.Atoi(strings.TrimSpace(out.String()))
		}
	}
	if n < 3 {
		return fmt.Errorf("exec cat /data/n in the reader: %q", out.String())
	}
	step("exec: the reader reads %d from the writer's volume", n)
	if _, err := m.Exec(ctx, "embed", "nosuch", &sandbox.ExecProcess{Args: []string{"true"}}); !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("exec in a missing container: %v", err)
	}
	if code, err := m.Exec(ctx, "embed", "reader", &sandbox.ExecProcess{Args: []string{"no-such-command"}}); code != 127 || !errors.Is(err, errdefs.ErrNotFound) {
		return fmt.Errorf("exec of a missing command: %d, %v", code, err)
	}
	step("exec errors: a missing container, a missing command")

	logs, err := m.Logs(ctx, "embed", "writer", sandbox.LogOptions{Tail: 2, Timestamps: true})
	if err != nil {
		return err
	}
	b, err := io.ReadAll(logs)
	logs.Close()
	if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); err != nil || len(lines) != 2 || !strings.Contains(lines[1], " line ") {
		return fmt.Errorf("logs --tail 2: %q, %v", b, err)
	}
	step("logs: the last two lines, with their times")

	stats, err := m.Stats(ctx, "embed")
	if err != nil {
		return err
	}
	if stats.MemoryUsage == 0 || len(stats.Containers) != 2 {
		return fmt.Errorf("stats: %+v", stats)
	}
	step("stats: %d KiB, %d processes, %d containers", stats.MemoryUsage>>10, stats.Pids, len(stats.Containers))

	limit := int64(64 << 20)
	if err := m.Update(ctx, "embed", "writer", sandbox.Resources{MemoryLimit: &limit}); err != nil {
		return err
	}
	if stats, err = m.Stats(ctx, "embed"); err != nil {
		return err
	}
	for _, c := range stats.Containers {
		if c.Name == "writer" && c.MemoryLimit != uint64(limit) {
			return fmt.Errorf("the writer's memory limit after Update: %d", c.MemoryLimit)
		}
	}
	step("update: the writer's memory limit is 64 MiB")

	if err := m.Signal(ctx, "embed", "writer", syscall.SIGKILL); err != nil {
		return err
	}
	var exited sandbox.Event
	if err := waitEvent(ctx, events, func(ev sandbox.Event) bool {
		exited = ev
		return ev.Type == sandbox.EventContainerExited && ev.Container == "writer"
	}); err != nil {
		return err
	}
	if exited.ExitCode != 137 {
		return fmt.Errorf("the writer's exit event: %+v", exited)
	}
	if err := waitEvent(ctx, events, func(ev sandbox.Event) bool {
		return ev.Type == sandbox.EventContainerStarted && ev.Container == "writer" && ev.RestartCount == 1
	}); err != nil {
		return err
	}
	step("signal: the writer was killed (exit code %d, %s) and restarted", exited.ExitCode, exited.Reason)

	// The monitor dies (as after a crash, or a reboot of the runtime's
	// own process for an in-process pod): the pod is Unknown, its
	// containers run on, and RecoverDetached adopts them in a new monitor.
	if st, err = m.Status(ctx, "embed"); err != nil {
		return err
	}
	reader := st.Containers[1].PID
	if err := syscall.Kill(st.MonitorPID, syscall.SIGKILL); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); st.Phase != sandbox.PhaseUnknown; time.Sleep(50 * time.Millisecond) {
		if st, err = m.Status(ctx, "embed"); err != nil || time.Now().After(deadline) {
			return fmt.Errorf("the pod after its monitor was killed: %v, %v", st.Phase, err)
		}
	}
	if err := m.RecoverDetached(ctx, "embed", sandbox.RunOptions{BackoffBase: 200 * time.Millisecond}); err != nil {
		return err
	}
	if st, err = m.Status(ctx, "embed"); err != nil || st.Phase != sandbox.PhaseRunning || st.Containers[1].PID != reader {
		return fmt.Errorf("the recovered pod: %v, reader pid %d (was %d), %v", st.Phase, st.Containers[1].PID, reader, err)
	}
	step("recover: a new monitor adopted the running containers")

	if err := m.Stop(ctx, "embed", time.Second); err != nil {
		return err
	}
	if st, err = m.Wait(ctx, "embed"); err != nil || st.Phase != sandbox.PhaseStopped {
		return fmt.Errorf("wait: %v, %v", st, err)
	}
	step("stop and wait: the pod is %s", st.Phase)
	if err := m.Remove(ctx, "embed", false); err != nil {
		return err
	}
	if err := waitEvent(ctx, events, func(ev sandbox.Event) bool { return ev.Type == sandbox.EventPodRemoved && ev.Pod == "embed" }); err != nil {
		return err
	}
	step("removed")

	// A pod run in this process: Stop ends its Run, never this process.
	inproc := &sandbox.PodConfig{Name: "inproc", Containers: []sandbox.ContainerConfig{{Name: "app", Image: "busybox", Command: []string{"sleep", "3600"}}}}
	if _, err := m.Create(ctx, inproc); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(context.Background(), "inproc", sandbox.RunOptions{}) }()
	if err := m.WaitStarted(ctx, "inproc", nil); err != nil {
		return err
	}
	if err := m.Stop(ctx, "inproc", 0); err != nil {
		return err
	}
	if err := <-done; err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := m.Remove(ctx, "inproc", false); err != nil {
		return err
	}
	step("in-process pod run, stopped and removed")

	if err := m.Uninstall(ctx); err != nil {
		return err
	}
	step("uninstalled")
	return nil
}

// waitEvent reads events until one matches.
func waitEvent(ctx context.Context, events <-chan sandbox.Event, match func(sandbox.Event) bool) error {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return ctx.Err()
			}
			if match(ev) {
				return nil
			}
		case <-timeout:
			return errors.New("timed out waiting for an event")
		}
	}
}
