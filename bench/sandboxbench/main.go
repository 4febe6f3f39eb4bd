// Command sandboxbench measures the sandbox library against runc, side by
// side in one run: how long a one-container pod takes to be created, to have
// its container started and to be removed, and how long a one-container pod
// running /bin/true takes end to end, beside `runc run` of an OCI bundle
// with the same busybox root filesystem and the same /bin/true. Figures
// only, never pass/fail. bench/sandbox.sh builds and runs it, as root.
//
// Everything it makes is named "podbox-bench": the work directory (state
// root, runc root, bundle, root filesystem, IP leases), the cgroup parent
// /podbox-bench, under which both podbox's pods and runc's containers get
// their cgroups, and the pod network: bridge podbox-bench0, nftables table
// podbox-bench, subnet 10.90.0.0/24, host veths pbbench* (interface names
// hold 15 bytes). It removes all of it at the end; -cleanup does only
// that, for a run that crashed.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/podbox/podbox/bench/internal/stats"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

// cgroupParent holds every cgroup this program makes, podbox's and runc's.
const cgroupParent = "/podbox-bench"

// network is the bench's own pod network, apart from podbox's default one.
var network = netns.Config{
	Bridge:     "podbox-bench0",
	VethPrefix: "pbbench",
	Subnet:     "10.90.0.0/24",
	Table:      "podbox-bench",
}

func main() {
	if sandbox.IsInit() {
		sandbox.Init() // libcontainer's "<self> init": never returns
	}
	n := flag.Int("n", 30, "measured runs of each case")
	warmup := flag.Int("warmup", 2, "runs of each case made first and not counted")
	pause := flag.String("pause", "bin/pause", "the pause binary (make bin/pause)")
	runc := flag.String("runc", "runc", "the runc binary")
	work := flag.String("work", "", "work directory, removed at the end (default: a new temp dir named podbox-bench-*)")
	cleanup := flag.Bool("cleanup", false, "only remove what a crashed run left under -work and in the cgroup "+cgroupParent)
	flag.Parse()
	if err := run(*n, *warmup, *pause, *runc, *work, *cleanup); err != nil {
		fmt.Fprintln(os.Stderr, "sandboxbench:", err)
		os.Exit(1)
	}
}

type bench struct {
	m      *sandbox.Manager
	runc   string
	rootfs string
	runcRt string // runc --root
	bundle string
	spec   map[string]any // the bundle's config.json from `runc spec`
}

// samples are one case's durations, in run order.
type samples = stats.Samples

func run(n, warmup int, pause, runc, work string, cleanupOnly bool) (retErr error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root")
	}
	if work == "" {
		d, err := os.MkdirTemp("", "podbox-bench-sandbox-")
		if err != nil {
			return err
		}
		work = d
	}
	if !strings.Contains(filepath.Base(work), "podbox-bench") {
		return fmt.Errorf("work directory %q: its name must contain podbox-bench (it is removed)", work)
	}
	work, err := filepath.Abs(work)
	if err != nil {
		return err
	}
	pause, err = filepath.Abs(pause)
	if err != nil {
		return err
	}
	m, err := sandbox.New(sandbox.Options{
		Root: filepath.Join(work, "state"), LogRoot: filepath.Join(work, "logs"), CgroupParent: cgroupParent, PauseBinary: pause,
		Network: network,
	})
	if err != nil {
		return err
	}
	b := &bench{m: m, runc: runc, rootfs: filepath.Join(work, "rootfs"),
		runcRt: filepath.Join(work, "runc-root"), bundle: filepath.Join(work, "bundle")}
	defer func() {
		if err := b.cleanup(work); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("cleanup: %w", err))
		}
	}()
	if cleanupOnly {
		return nil
	}
	if err := b.setUp(); err != nil {
		return err
	}

	ready, started, removed := samples{}, samples{}, samples{}
	podboxE2E, runcRun := samples{}, samples{}
	// The same one-container pods with seccompProfile Unconfined: what
	// the RuntimeDefault filter adds to a start.
	startedUnconfined, e2eUnconfined := samples{}, samples{}
	// And with a user namespace (hostUsers: false): what the namespace,
	// its ID range and the idmapped image layers add.
	readyUserNS, startedUserNS, removedUserNS, e2eUserNS := samples{}, samples{}, samples{}, samples{}
	ctx := context.Background()
	// The cases take turns within each round, so that a drift of the
	// machine (caches, a neighbour) falls on all of them alike.
	for i := -warmup; i < n; i++ {
		c, s, r, err := b.podPhases(ctx, fmt.Sprintf("phases-%d", i+warmup), plain)
		if err != nil {
			return err
		}
		e, err := b.podTrue(ctx, fmt.Sprintf("true-%d", i+warmup), plain)
		if err != nil {
			return err
		}
		_, su, _, err := b.podPhases(ctx, fmt.Sprintf("phases-unconfined-%d", i+warmup), unconfined)
		if err != nil {
			return err
		}
		eu, err := b.podTrue(ctx, fmt.Sprintf("true-unconfined-%d", i+warmup), unconfined)
		if err != nil {
			return err
		}
		cn, sn, rn, err := b.podPhases(ctx, fmt.Sprintf("phases-userns-%d", i+warmup), userns)
		if err != nil {
			return err
		}
		en, err := b.podTrue(ctx, fmt.Sprintf("true-userns-%d", i+warmup), userns)
		if err != nil {
			return err
		}
		rr, err := b.runcRun(fmt.Sprintf("runc-%d", i+warmup))
		if err != nil {
			return err
		}
		if i >= 0 {
			ready, started, removed = append(ready, c), append(started, s), append(removed, r)
			podboxE2E, runcRun = append(podboxE2E, e), append(runcRun, rr)
			startedUnconfined, e2eUnconfined = append(startedUnconfined, su), append(e2eUnconfined, eu)
			readyUserNS, startedUserNS, removedUserNS, e2eUserNS = append(readyUserNS, cn), append(startedUserNS, sn), append(removedUserNS, rn), append(e2eUserNS, en)
		}
	}

	base := runcRun.Median()
	fmt.Printf("%d runs of each case (after %d warm-up runs), interleaved; times in ms\n", n, warmup)
	fmt.Printf("%-52s %8s %8s %14s\n", "case", "median", "p90", "/ runc run")
	row := func(name string, s samples, ratio bool) {
		r := ""
		if ratio {
			r = fmt.Sprintf("%.2fx", float64(s.Median())/float64(base))
		}
		fmt.Printf("%-52s %8s %8s %14s\n", name, stats.Ms(s.Median()), stats.Ms(s.Quantile(0.9)), r)
	}
	row("podbox: sandbox ready (Create)", ready, true)
	row("podbox: container started (Start)", started, true)
	row("podbox: remove running pod (Remove force)", removed, true)
	row("podbox: /bin/true pod end to end", podboxE2E, true)
	row("runc run /bin/true (create, start, wait, delete)", runcRun, true)
	row("podbox: container started, seccomp Unconfined", startedUnconfined, true)
	row("podbox: /bin/true pod end to end, Unconfined", e2eUnconfined, true)
	row("podbox: sandbox ready, hostUsers: false", readyUserNS, true)
	row("podbox: container started, hostUsers: false", startedUserNS, true)
	row("podbox: remove running pod, hostUsers: false", removedUserNS, true)
	row("podbox: /bin/true pod end to end, hostUsers: false", e2eUserNS, true)
	fmt.Printf("apples to apples, podbox /bin/true pod end to end / runc run: median %.2fx, p90 %.2fx\n",
		float64(podboxE2E.Median())/float64(base), float64(podboxE2E.Quantile(0.9))/float64(runcRun.Quantile(0.9)))
	fmt.Printf("seccomp RuntimeDefault / Unconfined, medians: container started %.2fx (+%s ms), /bin/true pod end to end %.2fx (+%s ms)\n",
		float64(started.Median())/float64(startedUnconfined.Median()), stats.Ms(started.Median()-startedUnconfined.Median()),
		float64(podboxE2E.Median())/float64(e2eUnconfined.Median()), stats.Ms(podboxE2E.Median()-e2eUnconfined.Median()))
	ratio := func(a, b samples) string {
		return fmt.Sprintf("%.2fx (%+.1f ms)", float64(a.Median())/float64(b.Median()), float64(a.Median()-b.Median())/1e6)
	}
	fmt.Printf("hostUsers: false / host users, medians: sandbox ready %s, container started %s, remove %s, /bin/true pod end to end %s\n",
		ratio(readyUserNS, ready), ratio(startedUserNS, started), ratio(removedUserNS, removed), ratio(e2eUserNS, podboxE2E))
	return nil
}

// setUp lays out the busybox root filesystem and the runc bundle.
func (b *bench) setUp() error {
	if err := os.MkdirAll(b.rootfs, 0o755); err != nil {
		return err
	}
	if err := testutil.MakeBusyboxRootfs(b.rootfs); err != nil {
		return fmt.Errorf("busybox root filesystem: %w", err)
	}
	if err := os.MkdirAll(b.bundle, 0o700); err != nil {
		return err
	}
	if out, err := exec.Command(b.runc, "spec", "--bundle", b.bundle).CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %w: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(b.bundle, "config.json"))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, &b.spec)
}

// writeSpec writes the bundle's config.json for container id: runc's
// default spec (its capabilities, masked and read-only paths, read-only
// root, new pid, network, ipc, uts and mount namespaces) with /bin/true as
// the process, no terminal, the busybox root and an absolute cgroup path
// under the bench's parent (a relative one would nest under this process's
// cgroup).
func (b *bench) writeSpec(id string) error {
	proc := b.spec["process"].(map[string]any)
	proc["terminal"] = false
	proc["args"] = []string{"/bin/true"}
	b.spec["root"].(map[string]any)["path"] = b.rootfs
	b.spec["linux"].(map[string]any)["cgroupsPath"] = cgroupParent + "/" + id
	data, err := json.MarshalIndent(b.spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(b.bundle, "config.json"), data, 0o600)
}

// runcRun times `runc run` of the bundle: create, start, wait for
// /bin/true, delete.
func (b *bench) runcRun(id string) (time.Duration, error) {
	if err := b.writeSpec(id); err != nil {
		return 0, err
	}
	var out bytes.Buffer
	cmd := exec.Command(b.runc, "--root", b.runcRt, "run", "--bundle", b.bundle, id)
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("runc run %s: %w: %s", id, err, out.Bytes())
	}
	return d, nil
}

// variant is what a case changes in the pod: nothing, its seccomp profile
// (Unconfined), or its user namespace (hostUsers: false).
type variant int

const (
	plain variant = iota
	unconfined
	userns
)

func (b *bench) pod(name string, restart sandbox.RestartPolicy, v variant, args ...string) *sandbox.PodConfig {
	c := sandbox.ContainerConfig{Name: "main", Rootfs: b.rootfs, Command: args}
	if v == unconfined {
		c.Seccomp = &sandbox.SeccompProfile{Type: sandbox.SeccompUnconfined}
	}
	return &sandbox.PodConfig{Name: name, RestartPolicy: restart, UserNamespace: v == userns, Containers: []sandbox.ContainerConfig{c}}
}

// podPhases times, for a one-container pod running sleep, Create (sandbox
// ready), Start (until the container's process has been exec'd) and
// Remove with force of the running pod.
func (b *bench) podPhases(ctx context.Context, name string, v variant) (create, start, remove time.Duration, err error) {
	cfg := b.pod(name, sandbox.RestartAlways, v, "sleep", "3600")
	t0 := time.Now()
	if _, err := b.m.Create(ctx, cfg); err != nil {
		return 0, 0, 0, err
	}
	t1 := time.Now()
	if err := b.m.Start(ctx, name, sandbox.RunOptions{}); err != nil {
		return 0, 0, 0, errors.Join(err, b.m.Remove(ctx, name, true))
	}
	t2 := time.Now()
	if err := b.m.Remove(ctx, name, true); err != nil {
		return 0, 0, 0, err
	}
	t3 := time.Now()
	return t1.Sub(t0), t2.Sub(t1), t3.Sub(t2), nil
}

// podTrue times a one-container pod running /bin/true end to end, the
// equivalent of `runc run`: Create, Run (the pod's lifecycle in the
// foreground: it starts the container and returns once the pod has
// completed), Remove.
//
// It uses Run rather than Start and a wait: Start (its WaitStarted) fails
// with "the pod's pause is gone" when the container exits before Start's
// first look at the pod, since the lifecycle then ends the pause before it
// records Succeeded, and Status reports the pod Unknown in between.
func (b *bench) podTrue(ctx context.Context, name string, v variant) (time.Duration, error) {
	cfg := b.pod(name, sandbox.RestartNever, v, "/bin/true")
	t0 := time.Now()
	if _, err := b.m.Create(ctx, cfg); err != nil {
		return 0, err
	}
	err := b.m.Run(ctx, name, sandbox.RunOptions{})
	t1 := time.Now()
	if err == nil {
		var st *sandbox.PodStatus
		if st, err = b.m.Status(ctx, name); err == nil && st.Phase != sandbox.PhaseSucceeded {
			cs := st.Containers[0]
			err = fmt.Errorf("pod %q is %s: %s; container %s, exit code %d (%s)", name, st.Phase, st.Message, cs.State, cs.ExitCode, cs.Reason)
		}
	}
	t2 := time.Now()
	if rerr := b.m.Remove(ctx, name, true); rerr != nil || err != nil {
		return 0, errors.Join(err, rerr)
	}
	// Not counted: the Status call that checks the outcome.
	return time.Since(t0) - t2.Sub(t1), nil
}

// cleanup removes every pod, runc container and cgroup of the run, and the
// work directory.
func (b *bench) cleanup(work string) error {
	ctx := context.Background()
	var errs []error
	pods, err := b.m.List(ctx)
	errs = append(errs, err)
	for _, p := range pods {
		errs = append(errs, b.m.Remove(ctx, p.Name, true))
	}
	if ents, err := os.ReadDir(b.runcRt); err == nil {
		for _, e := range ents {
			if out, err := exec.Command(b.runc, "--root", b.runcRt, "delete", "--force", e.Name()).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("runc delete %s: %w: %s", e.Name(), err, out))
			}
		}
	}
	errs = append(errs, b.m.RemoveNetwork())
	errs = append(errs, cgroups.LoadPod(cgroupParent).Destroy())
	errs = append(errs, os.RemoveAll(work))
	return errors.Join(errs...)
}
