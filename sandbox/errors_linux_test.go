package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/netns"
)

// Each failure class an embedder meets is an error of package errdefs,
// matched with errors.Is.
func TestErrorClasses(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	is := func(what string, err, class error) {
		t.Helper()
		if !errors.Is(err, class) {
			t.Errorf("%s: %v; want an error matching %q", what, err, class)
		}
	}
	is("ValidateName", ValidateName("pod name", "Bad_Name"), errdefs.ErrInvalidArgument)
	_, err := e.m.Status(ctx, "no-such-pod")
	is("Status of a missing pod", err, errdefs.ErrNotFound)
	_, err = e.m.Exec(ctx, "no-such-pod", "app", &ExecProcess{Args: []string{"true"}})
	is("Exec in a missing pod", err, errdefs.ErrNotFound)
	if sandboxErrExist, netnsErrExist := ErrExist, netns.ErrExist; sandboxErrExist != netnsErrExist {
		t.Error("sandbox.ErrExist and netns.ErrExist are different values")
	}

	// A missing rootfs refuses the pod at Create, naming the field, and
	// leaves nothing.
	bad := &PodConfig{Name: "norootfs", Containers: []ContainerConfig{{Name: "app", Rootfs: filepath.Join(e.opts.Root, "nosuch"), Args: []string{"true"}}}}
	_, err = e.m.Create(ctx, bad)
	is("Create with a missing rootfs", err, errdefs.ErrInvalidArgument)
	if err == nil || !strings.Contains(err.Error(), "spec.containers[0].rootfs") {
		t.Errorf("Create with a missing rootfs: %v; want the field named", err)
	}
	if _, err := os.Stat(e.m.podDir("norootfs")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create with a missing rootfs left the pod's directory: %v", err)
	}

	e.run(&PodConfig{Name: "errs", Containers: []ContainerConfig{e.container("app", "sleep", "3600")}})
	_, err = e.m.Create(ctx, &PodConfig{Name: "errs", Containers: []ContainerConfig{e.container("app", "true")}})
	is("Create of an existing pod", err, errdefs.ErrAlreadyExists)
	_, err = e.m.Exec(ctx, "errs", "nosuch", &ExecProcess{Args: []string{"true"}})
	is("Exec in a missing container", err, errdefs.ErrNotFound)
	err = e.m.Remove(ctx, "errs", false)
	is("Remove of a running pod", err, ErrRunning)
	is("Remove of a running pod", err, errdefs.ErrFailedPrecondition)

	// A cancelled exec returns ctx.Err(), not the exit code of its kill.
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = e.m.Exec(cctx, "errs", "app", &ExecProcess{Args: []string{"sleep", "60"}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Exec whose ctx ended: %v; want context.DeadlineExceeded", err)
	}

	// A stopped pod does not start again.
	if err := e.m.Stop(ctx, "errs", 0); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Exec(ctx, "errs", "app", &ExecProcess{Args: []string{"true"}})
	is("Exec in a stopped pod", err, ErrNotRunning)
	err = e.m.Start(ctx, "errs", RunOptions{})
	is("Start of a stopped pod", err, errdefs.ErrFailedPrecondition)
}
