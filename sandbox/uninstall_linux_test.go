package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/podbox/podbox/errdefs"
)

// Uninstall refuses while pods are left, then removes the network, the
// cgroup parent and the roots.
func TestUninstall(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.run(&PodConfig{Name: "left", Containers: []ContainerConfig{e.container("app", "sleep", "3600")}})
	if err := e.m.Uninstall(ctx); !errors.Is(err, errdefs.ErrFailedPrecondition) {
		t.Fatalf("Uninstall with a pod left: %v", err)
	}
	if err := e.m.Remove(ctx, "left", true); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{e.opts.Root, "/sys/fs/cgroup/memory" + e.opts.CgroupParent, "/sys/fs/cgroup" + e.opts.CgroupParent, "/sys/class/net/" + e.opts.Network.Bridge} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is left after Uninstall: %v", p, err)
		}
	}
}

// Reap collects a child nobody waits for, once it has been a zombie for an
// interval.
func TestReapOrphans(t *testing.T) {
	p, err := os.StartProcess("/bin/true", []string{"true"}, &os.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the child to be a zombie", func() bool { return isZombie(p.Pid) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go Reap(ctx, 50*time.Millisecond)
	waitFor(t, 5*time.Second, "the zombie to be reaped", func() bool {
		_, err := os.Stat(filepath.Join("/proc", strconv.Itoa(p.Pid)))
		return errors.Is(err, os.ErrNotExist)
	})
}
