package sandbox

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/netns"
)

func TestMain(m *testing.M) {
	if IsInit() {
		Init()
	}
	if os.Getenv(crashHelperEnv) != "" {
		crashHelper()
		return
	}
	if os.Getenv(embedderHelperEnv) != "" {
		embedderHelper()
		return
	}
	setUpExample()
	code := m.Run()
	testutil.RemoveBusyboxRootfs()
	os.Exit(code)
}

// fastRestarts makes crash-loop backoff short enough for tests.
var fastRestarts = RunOptions{BackoffBase: 100 * time.Millisecond, BackoffMax: 400 * time.Millisecond}

// testEnv is one test's isolated podbox: its own state root and cgroup
// parent, both named after a prefix unique to the test.
type testEnv struct {
	t      *testing.T
	prefix string
	m      *Manager
	opts   Options
	rootfs string
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	return newTestEnvWith(t, nil)
}

// newTestEnvWith is newTestEnv with options changed by set.
func newTestEnvWith(t *testing.T, set func(*Options)) *testEnv {
	t.Helper()
	testutil.RequiresRoot(t)
	prefix, _ := testutil.NetPrefix(t)
	opts := testOptions(prefix)
	if set != nil {
		set(&opts)
	}
	opts.PauseBinary = testutil.Binary(t, "pause")
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, prefix: prefix, m: m, opts: opts, rootfs: testutil.BusyboxRootfs(t)}
	t.Cleanup(func() {
		ctx := context.Background()
		pods, _ := m.List(ctx)
		for _, p := range pods {
			if err := m.Remove(ctx, p.Name, true); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		if err := cgroups.LoadPod(opts.CgroupParent).Destroy(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		if err := m.net.Remove(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
		os.RemoveAll(opts.Root)
		e.assertNoLeaks()
	})
	return e
}

// testOptions names everything host-visible after prefix ("podbox-t3fa9c1"):
// the state root, the cgroup parent, and the network, whose interface names
// must fit 15 bytes and so carry the prefix's hex part ("pb3fa9c1" for the
// bridge, "pv3fa9c1..." for veths), as does the subnet 10.89.<byte>.0/24.
func testOptions(prefix string) Options {
	hex := strings.TrimPrefix(prefix, "podbox-t")
	b, _ := strconv.ParseUint(hex[:2], 16, 8)
	return Options{
		Root:         filepath.Join(os.TempDir(), prefix),
		LogRoot:      filepath.Join(os.TempDir(), prefix, "logs"),
		CgroupParent: "/" + prefix,
		// Under the root, so that the test's cleanup removes it.
		SeccompRoot: filepath.Join(os.TempDir(), prefix, "seccomp-profiles"),
		VolumeRoot:  filepath.Join(os.TempDir(), prefix, "named-volumes"),
		Network: netns.Config{
			Bridge:     "pb" + hex,
			VethPrefix: "pv" + hex,
			Subnet:     fmt.Sprintf("10.89.%d.0/24", b),
			Table:      prefix,
		},
	}
}

// assertNoLeaks fails the test when any host resource named after its prefix
// is left: cgroups, mounts, links, processes. The cgroup parent, which the
// Manager keeps, must be empty: it is removed first (rmdir, which fails on a
// cgroup that still has children).
func (e *testEnv) assertNoLeaks() {
	e.t.Helper()
	parents, _ := filepath.Glob("/sys/fs/cgroup/*" + e.opts.CgroupParent)
	parents = append(parents, "/sys/fs/cgroup"+e.opts.CgroupParent)
	for _, p := range parents {
		if err := os.Remove(p); err != nil && !os.IsNotExist(err) {
			e.t.Errorf("cgroup parent %s: %v", p, err)
		}
	}
	gate := filepath.Join(testutil.ModuleRoot(e.t), "hack", "leakcheck-gate")
	for _, pat := range []string{e.prefix, e.opts.Network.VethPrefix} {
		if out, err := exec.Command(gate, pat).CombinedOutput(); err != nil {
			e.t.Errorf("leaks:\n%s", out)
		}
	}
}

func (e *testEnv) container(name string, args ...string) ContainerConfig {
	return ContainerConfig{Name: name, Rootfs: e.rootfs, Args: args}
}

// run creates and starts a pod, failing the test on error.
func (e *testEnv) run(cfg *PodConfig) *PodStatus {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.m.Create(ctx, cfg); err != nil {
		e.t.Fatal(err)
	}
	if err := e.m.Start(ctx, cfg.Name, fastRestarts); err != nil {
		e.t.Fatal(err)
	}
	st, err := e.m.Status(ctx, cfg.Name)
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

// exec runs args in a container and returns its output and exit code.
func (e *testEnv) exec(pod, ctr string, args ...string) (string, int) {
	e.t.Helper()
	var out strings.Builder
	code, err := e.m.Exec(context.Background(), pod, ctr, &ExecProcess{Args: args, Stdout: &out, Stderr: &out})
	if err != nil {
		e.t.Fatalf("exec %v in %s/%s: %v", args, pod, ctr, err)
	}
	return out.String(), code
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	d = testutil.Wait(d)
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// setUpExample gives Example (package sandbox_test) its pause and image
// through the environment.
func setUpExample() {
	if p, err := testutil.BinaryPath("pause"); err == nil {
		os.Setenv("PODBOX_EXAMPLE_PAUSE", p)
	}
	if d, err := testutil.BusyboxRootfsDir(); err == nil {
		os.Setenv("PODBOX_EXAMPLE_ROOTFS", d)
	}
}
