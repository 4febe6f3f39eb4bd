// Command podsbench measures the podbox CLI (the built bin/podbox) against
// Debian's runc, side by side in one run. bench/pods.sh builds and runs it,
// as root, with the environment that isolates the run (PODBOX_ROOT,
// PODBOX_IMAGE_ROOT, PODBOX_CGROUP_PARENT, PODBOX_BRIDGE, PODBOX_VETH_PREFIX,
// PODBOX_SUBNET, PODBOX_NFT_TABLE) and the busybox image already imported.
//
// Cases, interleaved round by round, median and p90 over -n runs:
//
//	one-container pod   `podbox run` of a busybox pod running sleep 3600:
//	                    command start until it returns (it waits until the
//	                    app container's process is exec'd)
//	runc run -d         `runc run --detach` of a bundle running sleep 3600
//	                    (returns once the process is exec'd)
//	three-container pod `podbox run` of init `true` + native sidecar + app
//	3x runc run -d      three sequential `runc run --detach`: the first with
//	                    new namespaces, the next two joining its net, ipc and
//	                    uts namespaces by /proc/PID/ns path
//	remove              `podbox rm -f` of the running one-container pod
//
// Then density: -density idle pods started one after another, their pause and
// monitor processes' resident memory (VmRSS and Pss), MemAvailable before and
// after, their removal; the pause of one of them; what the monitor's memory
// is made of and how the Go runtime's knobs (set in `podbox run`'s
// environment, which the monitor inherits) change it.
//
// Figures only, never pass/fail. At the end (and with -cleanup, only that)
// it removes every pod, runc container, the bench network (bridge, nftables
// table), the cgroup parent and the work directory.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/podbox/podbox/bench/internal/stats"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

// benchName must appear in every host-visible name the run uses, so that
// nothing else is ever removed.
const benchName = "podbox-bench-pods"

const onePod = `apiVersion: v1
kind: Pod
metadata: {name: one}
spec:
  containers:
  - {name: main, image: busybox, command: [sleep, "3600"]}
`

const threePod = `apiVersion: v1
kind: Pod
metadata: {name: three}
spec:
  initContainers:
  - {name: init, image: busybox, command: ["true"]}
  - {name: sidecar, image: busybox, command: [sleep, "3600"], restartPolicy: Always}
  containers:
  - {name: app, image: busybox, command: [sleep, "3600"]}
`

type bench struct {
	podbox string
	before string // an earlier podbox binary, timed beside (empty: none)
	pause  string
	runc   string
	work   string
	rootfs string // busybox root filesystem for runc (the same image tarball)
	runcRt string // runc --root
	cgroup string // cgroup parent, podbox's and runc's
	one    string // manifest files
	three  string
	large  string         // the pod of -large containers
	spec   map[string]any // `runc spec` default config
	// peers (empty: left out)
	podmanBin, podmanSubnet, busyboxTar string
	containerd                          string // containerd's socket
	pauseRoot                           string // a root holding podbox's pause, for containerd
	devNull                             *os.File
}

type samples = stats.Samples

func main() {
	if sandbox.IsInit() {
		sandbox.Init() // never used for containers here, but the package asks for it
	}
	n := flag.Int("n", 30, "measured runs of each timed case")
	warmup := flag.Int("warmup", 2, "runs of each case made first and not counted")
	density := flag.Int("density", 250, "idle pods started for the density figures (one after another, then -parallel at a time)")
	parallel := flag.Int("parallel", 8, "pods started (and removed) at a time in the second density run")
	large := flag.Int("large", 20, "containers of the large pod")
	memPods := flag.Int("mem-pods", 10, "idle pods of each runtime for the per-pod memory comparison")
	before := flag.String("before", "", "an earlier podbox binary whose pod starts are timed beside (before/after)")
	podmanBin := flag.String("podman", "", "podman binary (empty: podman left out)")
	busyboxTar := flag.String("busybox-tar", "testdata/images/busybox.tar", "the busybox image tarball (for podman)")
	containerd := flag.String("containerd", "", "socket of a containerd for the bench (empty: containerd left out)")
	knobs := flag.Bool("knobs", true, "also measure the monitor under the Go runtime's settings")
	podbox := flag.String("podbox", "bin/podbox", "the podbox binary")
	pause := flag.String("pause", "bin/pause", "the pause binary (for the network cleanup)")
	runc := flag.String("runc", "runc", "the runc binary")
	work := flag.String("work", "/tmp/"+benchName, "work directory (runc root, bundles, rootfs), removed at the end")
	rootfs := flag.String("rootfs", "", "busybox root filesystem for runc (default WORK/rootfs)")
	cleanupOnly := flag.Bool("cleanup", false, "only remove what a run (perhaps crashed) left")
	monitor := flag.String("monitor", "", "internal: run pod NAME's lifecycle, as `podbox __monitor` does, from a binary that links only the sandbox library")
	freeAfter := flag.Duration("free-after", 0, "internal, with -monitor: debug.FreeOSMemory this long after start (0: never)")
	flag.Parse()
	if *monitor != "" {
		if err := runMonitor(*monitor, *pause, *freeAfter); err != nil {
			fmt.Fprintln(os.Stderr, "podsbench -monitor:", err)
			os.Exit(1)
		}
		return
	}
	o := options{density: *density, parallel: *parallel, large: *large, memPods: *memPods, before: *before,
		podman: *podmanBin, busyboxTar: *busyboxTar, containerd: *containerd, knobs: *knobs}
	if err := run(*n, *warmup, o, *podbox, *pause, *runc, *work, *rootfs, *cleanupOnly); err != nil {
		fmt.Fprintln(os.Stderr, "podsbench:", err)
		os.Exit(1)
	}
}

type options struct {
	density, parallel, large, memPods int
	before, podman, busyboxTar        string
	containerd                        string
	knobs                             bool
}

func run(n, warmup int, o options, podbox, pause, runc, work, rootfs string, cleanupOnly bool) (retErr error) {
	if os.Geteuid() != 0 {
		return errors.New("run as root")
	}
	for _, k := range []string{"PODBOX_ROOT", "PODBOX_CGROUP_PARENT", "PODBOX_NFT_TABLE"} {
		if !strings.Contains(os.Getenv(k), benchName) {
			return fmt.Errorf("%s=%q: must name %s (what it names is removed)", k, os.Getenv(k), benchName)
		}
	}
	if !strings.Contains(filepath.Base(work), benchName) {
		return fmt.Errorf("work directory %q: its name must contain %s (it is removed)", work, benchName)
	}
	var err error
	if podbox, err = filepath.Abs(podbox); err != nil {
		return err
	}
	if pause, err = filepath.Abs(pause); err != nil {
		return err
	}
	if rootfs == "" {
		rootfs = filepath.Join(work, "rootfs")
	}
	b := &bench{podbox: podbox, pause: pause, runc: runc, work: work, rootfs: rootfs,
		runcRt: filepath.Join(work, "runc-root"), cgroup: os.Getenv("PODBOX_CGROUP_PARENT"),
		podmanBin: o.podman, podmanSubnet: "10.92.0.0/24", containerd: o.containerd,
		pauseRoot: filepath.Join(work, "pause-root")}
	if o.before != "" {
		if b.before, err = filepath.Abs(o.before); err != nil {
			return err
		}
	}
	if b.busyboxTar, err = filepath.Abs(o.busyboxTar); err != nil {
		return err
	}
	defer func() {
		if err := b.cleanup(pause); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("cleanup: %w", err))
		}
	}()
	if cleanupOnly {
		return nil
	}
	if err := b.setUp(o.large); err != nil {
		return err
	}
	defer b.devNull.Close()

	if err := b.timed(n, warmup); err != nil {
		return err
	}
	if o.memPods > 0 {
		if err := b.memPeers(o.memPods); err != nil {
			return err
		}
	}
	if o.density > 0 {
		if err := b.density(o.density, 1, pause); err != nil {
			return err
		}
	}
	if o.density > 0 && o.parallel > 1 {
		if err := b.density(o.density, o.parallel, pause); err != nil {
			return err
		}
	}
	if !o.knobs {
		return nil
	}
	return b.monitorKnobs()
}

// largePod is a pod of n app containers running sleep.
func largePod(n int) string {
	var sb strings.Builder
	sb.WriteString("apiVersion: v1\nkind: Pod\nmetadata: {name: large}\nspec:\n  containers:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "  - {name: c%02d, image: busybox, command: [sleep, \"3600\"]}\n", i)
	}
	return sb.String()
}

func (b *bench) setUp(large int) error {
	var err error
	if b.devNull, err = os.OpenFile(os.DevNull, os.O_RDWR, 0); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(b.rootfs, "bin", "busybox")); err != nil {
		return fmt.Errorf("runc root filesystem: %w", err)
	}
	b.one, b.three = filepath.Join(b.work, "one.yaml"), filepath.Join(b.work, "three.yaml")
	if err := os.WriteFile(b.one, []byte(onePod), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(b.three, []byte(threePod), 0o644); err != nil {
		return err
	}
	b.large = filepath.Join(b.work, "large.yaml")
	if err := os.WriteFile(b.large, []byte(largePod(large)), 0o644); err != nil {
		return err
	}
	if b.podmanBin != "" {
		if err := b.podmanSetUp(); err != nil {
			return err
		}
	}
	if b.containerd != "" {
		if err := os.MkdirAll(b.pauseRoot, 0o755); err != nil {
			return err
		}
		data, err := os.ReadFile(b.pause)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(b.pauseRoot, "pause"), data, 0o755); err != nil {
			return err
		}
	}
	tmp := filepath.Join(b.work, "spec")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		return err
	}
	if out, err := exec.Command(b.runc, "spec", "--bundle", tmp).CombinedOutput(); err != nil {
		return fmt.Errorf("runc spec: %w: %s", err, out)
	}
	data, err := os.ReadFile(filepath.Join(tmp, "config.json"))
	if err != nil {
		return err
	}
	return json.Unmarshal(data, &b.spec)
}

// ---------------------------------------------------------------- timed cases

func (b *bench) timed(n, warmup int) error {
	// Each case is a name and one run of it; the cases take turns within
	// each round, so that a drift of the machine falls on all of them
	// alike.
	type tcase struct {
		name string
		run  func(r int) (time.Duration, error)
		s    samples
	}
	var cases []*tcase
	add := func(name string, run func(r int) (time.Duration, error)) *tcase {
		c := &tcase{name: name, run: run}
		cases = append(cases, c)
		return c
	}
	// podboxPod times `podbox run` of manifest with binary bin, then
	// removes the pod (timed into rm when not nil).
	podboxPod := func(bin, prefix, manifest string, rm *tcase) func(int) (time.Duration, error) {
		return func(r int) (time.Duration, error) {
			name := fmt.Sprintf("%s-%d", prefix, r)
			d, err := b.podboxRunWith(bin, name, manifest, nil)
			if err != nil {
				return 0, err
			}
			dr, err := b.podboxRm(name)
			if rm != nil && r >= 0 {
				rm.s = append(rm.s, dr)
			}
			return d, err
		}
	}
	rm := &tcase{name: "podbox rm -f: running one-container pod"}
	one := add("podbox run: one-container pod (sleep), until exec'd", podboxPod(b.podbox, "one", b.one, rm))
	rc1 := add("runc run --detach: one container (sleep), until exec'd", func(r int) (time.Duration, error) {
		return b.runcSingle(fmt.Sprintf("runc-s%d", r+100), false)
	})
	rcSec := add("runc run --detach, with podbox's RuntimeDefault seccomp", func(r int) (time.Duration, error) {
		return b.runcSingle(fmt.Sprintf("runc-sc%d", r+100), true)
	})
	three := add("podbox run: 3-container pod (init true, sidecar, app)", podboxPod(b.podbox, "three", b.three, nil))
	rc3 := add("3x runc run --detach, sequential, joining net/ipc/uts", func(r int) (time.Duration, error) {
		return b.runcThree(fmt.Sprintf("runc-t%d", r+100))
	})
	large := add("podbox run: large pod (every container sleep)", podboxPod(b.podbox, "large", b.large, nil))
	var before []*tcase
	if b.before != "" {
		before = append(before,
			add("  before: podbox run, one-container pod", podboxPod(b.before, "b-one", b.one, nil)),
			add("  before: podbox run, 3-container pod", podboxPod(b.before, "b-three", b.three, nil)),
			add("  before: podbox run, large pod", podboxPod(b.before, "b-large", b.large, nil)))
	}
	var pmRun, pmRm *tcase
	if b.podmanBin != "" {
		pmRm = &tcase{name: "podman pod rm -f -t 0: running one-container pod"}
		pmRun = add("podman kube play: one-container pod (sleep)", func(r int) (time.Duration, error) {
			name := fmt.Sprintf("pm-%d", r+100)
			d, err := b.podmanPlay(name)
			if err != nil {
				return 0, err
			}
			dr, err := b.podmanRm(name)
			if r >= 0 {
				pmRm.s = append(pmRm.s, dr)
			}
			return d, err
		})
	}
	for i := -warmup; i < n; i++ {
		for _, c := range cases {
			d, err := c.run(i)
			if err != nil {
				return err
			}
			if i >= 0 {
				c.s = append(c.s, d)
			}
		}
	}
	rows := append(cases, rm)
	if pmRm != nil {
		rows = append(rows, pmRm)
	}
	fmt.Printf("\n== start and remove: %d runs of each case (after %d warm-up runs), interleaved; times in ms\n", n, warmup)
	fmt.Printf("%-62s %8s %8s %10s %10s\n", "case", "median", "p90", "/runc -d", "/3x runc")
	for _, c := range rows {
		fmt.Printf("%-62s %8s %8s %9.2fx %9.2fx\n", c.name, stats.Ms(c.s.Median()), stats.Ms(c.s.Quantile(0.9)),
			ratio(c.s.Median(), rc1.s.Median()), ratio(c.s.Median(), rc3.s.Median()))
	}
	fmt.Printf("one-container pod / runc run -d: median %.2fx, p90 %.2fx (target <= 1.0)\n",
		ratio(one.s.Median(), rc1.s.Median()), ratio(one.s.Quantile(0.9), rc1.s.Quantile(0.9)))
	fmt.Printf("one-container pod / runc run -d with the same seccomp profile: median %.2fx, p90 %.2fx\n",
		ratio(one.s.Median(), rcSec.s.Median()), ratio(one.s.Quantile(0.9), rcSec.s.Quantile(0.9)))
	fmt.Printf("3-container pod / 3x runc run -d: median %.2fx, p90 %.2fx (target <= 1.1); / one runc run -d: median %.2fx\n",
		ratio(three.s.Median(), rc3.s.Median()), ratio(three.s.Quantile(0.9), rc3.s.Quantile(0.9)), ratio(three.s.Median(), rc1.s.Median()))
	fmt.Printf("large pod: median %s ms for its containers, %.2fx one runc run -d\n", stats.Ms(large.s.Median()), ratio(large.s.Median(), rc1.s.Median()))
	if pmRun != nil {
		fmt.Printf("podbox / podman: one-container pod start median %.2fx, rm -f median %.2fx\n",
			ratio(one.s.Median(), pmRun.s.Median()), ratio(rm.s.Median(), pmRm.s.Median()))
	}
	for i, c := range before {
		now := []*tcase{one, three, large}[i]
		fmt.Printf("after / before, %s: median %.2fx (%s -> %s ms), p90 %.2fx\n", strings.TrimPrefix(c.name, "  before: podbox run, "),
			ratio(now.s.Median(), c.s.Median()), stats.Ms(c.s.Median()), stats.Ms(now.s.Median()), ratio(now.s.Quantile(0.9), c.s.Quantile(0.9)))
	}
	return nil
}

// podboxRun times `podbox run --name NAME FILE` with env added to podbox's.
func (b *bench) podboxRun(name, manifest string, env []string) (time.Duration, error) {
	return b.podboxRunWith(b.podbox, name, manifest, env)
}

func (b *bench) podboxRunWith(bin, name, manifest string, env []string) (time.Duration, error) {
	cmd := exec.Command(bin, "run", "--name", name, manifest)
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	t0 := time.Now()
	err := cmd.Run()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("podbox run %s: %w: %s", name, err, out.Bytes())
	}
	return d, nil
}

func (b *bench) podboxRm(name string) (time.Duration, error) {
	cmd := exec.Command(b.podbox, "rm", "-f", name)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("podbox rm -f %s: %w: %s", name, err, out)
	}
	return d, nil
}

// writeBundle writes a bundle for container id: runc's default spec (its
// hardening, read-only root, new pid, net, ipc, uts and mount namespaces),
// sleep 3600 without a terminal, the busybox root, an absolute cgroup path
// under the bench's parent, and join (kind -> path) replacing the new
// namespaces of those kinds.
func (b *bench) writeBundle(id string, join map[string]string) (string, error) {
	return b.writeBundleWith(id, join, false)
}

// writeBundleWith is writeBundle, with seccomp the RuntimeDefault profile
// podbox gives a container (moby's, for the bundle's capabilities).
func (b *bench) writeBundleWith(id string, join map[string]string, seccomp bool) (string, error) {
	dir := filepath.Join(b.work, "bundles", id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	spec := map[string]any{}
	for k, v := range b.spec {
		spec[k] = v
	}
	proc := map[string]any{}
	for k, v := range b.spec["process"].(map[string]any) {
		proc[k] = v
	}
	proc["terminal"] = false
	proc["args"] = []string{"sleep", "3600"}
	spec["process"] = proc
	spec["root"] = map[string]any{"path": b.rootfs, "readonly": true}
	linux := map[string]any{}
	for k, v := range b.spec["linux"].(map[string]any) {
		linux[k] = v
	}
	linux["cgroupsPath"] = b.cgroup + "/" + id
	var nss []any
	for _, ns := range b.spec["linux"].(map[string]any)["namespaces"].([]any) {
		t := ns.(map[string]any)["type"].(string)
		if p, ok := join[t]; ok {
			nss = append(nss, map[string]any{"type": t, "path": p})
		} else {
			nss = append(nss, ns)
		}
	}
	linux["namespaces"] = nss
	if seccomp {
		var caps []string
		if c, ok := proc["capabilities"].(map[string]any); ok {
			for _, v := range c["bounding"].([]any) {
				caps = append(caps, v.(string))
			}
		}
		prof, err := profiles.GetDefaultProfile(&specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}})
		if err != nil {
			return "", err
		}
		linux["seccomp"] = prof
	}
	spec["linux"] = linux
	data, err := json.Marshal(spec)
	if err != nil {
		return "", err
	}
	return dir, os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600)
}

// runcDetach runs `runc run --detach` of bundle as id, stdio on /dev/null
// (the container keeps it), and returns its PID.
func (b *bench) runcDetach(id, bundle string) (int, error) {
	pidFile := filepath.Join(bundle, "pid")
	errf, err := os.Create(filepath.Join(bundle, "stderr"))
	if err != nil {
		return 0, err
	}
	defer errf.Close()
	cmd := exec.Command(b.runc, "--root", b.runcRt, "run", "--detach", "--pid-file", pidFile, "--bundle", bundle, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = b.devNull, b.devNull, errf
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(errf.Name())
		return 0, fmt.Errorf("runc run %s: %w: %s", id, err, msg)
	}
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(data)))
}

func (b *bench) runcDelete(ids ...string) error {
	var errs []error
	for _, id := range ids {
		if out, err := exec.Command(b.runc, "--root", b.runcRt, "delete", "--force", id).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("runc delete %s: %w: %s", id, err, out))
		}
	}
	return errors.Join(errs...)
}

func (b *bench) runcSingle(id string, seccomp bool) (time.Duration, error) {
	bundle, err := b.writeBundleWith(id, nil, seccomp)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	_, err = b.runcDetach(id, bundle)
	d := time.Since(t0)
	return d, errors.Join(err, b.runcDelete(id))
}

// runcThree times three sequential `runc run --detach`; the second and
// third bundles are written (inside the timed section: it is part of the
// job) once the first container's PID is known.
func (b *bench) runcThree(id string) (time.Duration, error) {
	ids := []string{id + "a", id + "b", id + "c"}
	first, err := b.writeBundle(ids[0], nil)
	if err != nil {
		return 0, err
	}
	t0 := time.Now()
	pid, err := b.runcDetach(ids[0], first)
	if err == nil {
		join := map[string]string{}
		for _, k := range []string{"network", "ipc", "uts"} {
			f := map[string]string{"network": "net"}[k]
			if f == "" {
				f = k
			}
			join[k] = fmt.Sprintf("/proc/%d/ns/%s", pid, f)
		}
		for _, jid := range ids[1:] {
			var bundle string
			if bundle, err = b.writeBundle(jid, join); err != nil {
				break
			}
			if _, err = b.runcDetach(jid, bundle); err != nil {
				break
			}
		}
	}
	d := time.Since(t0)
	// Joiners first, then the holder of the namespaces.
	return d, errors.Join(err, b.runcDelete(ids[2], ids[1], ids[0]))
}

// ---------------------------------------------------------------- density

type procMem struct {
	vmRSS, rssAnon, rssFile, pss, threads int64 // kB, threads a count
}

func readProc(pid int) (procMem, error) {
	var m procMem
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			m.vmRSS = v
		case "RssAnon:":
			m.rssAnon = v
		case "RssFile:":
			m.rssFile = v
		case "Threads:":
			m.threads = v
		}
	}
	rollup, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return m, err
	}
	for _, line := range strings.Split(string(rollup), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Pss:" {
			m.pss, _ = strconv.ParseInt(f[1], 10, 64)
		}
	}
	return m, nil
}

// monitorPIDs are a pod's monitor processes: its monitor (podbox-shim,
// or podbox-monitor where there is no shim) and the lifecycle the shim
// runs at the time, if any (an idle pod has none).
func monitorPIDs(monitor int) []int {
	pids := []int{monitor}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", monitor))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			pid, err := strconv.Atoi(f)
			if err != nil {
				continue
			}
			if comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); strings.TrimSpace(string(comm)) == "podbox-monitor" {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func (m *procMem) add(o procMem) {
	m.vmRSS += o.vmRSS
	m.rssAnon += o.rssAnon
	m.rssFile += o.rssFile
	m.pss += o.pss
	m.threads += o.threads
}

type inspectOut struct {
	PausePID   int `json:"pausePid"`
	MonitorPID int `json:"monitorPid"`
}

func (b *bench) inspect(name string) (inspectOut, error) {
	var out inspectOut
	data, err := exec.Command(b.podbox, "inspect", name).Output()
	if err != nil {
		return out, fmt.Errorf("podbox inspect %s: %w", name, err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, err
	}
	if out.PausePID == 0 || out.MonitorPID == 0 {
		return out, fmt.Errorf("podbox inspect %s: pausePid %d, monitorPid %d", name, out.PausePID, out.MonitorPID)
	}
	return out, nil
}

func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if f := strings.Fields(s.Text()); len(f) >= 2 && f[0] == "MemAvailable:" {
			return strconv.ParseInt(f[1], 10, 64)
		}
	}
	return 0, errors.New("no MemAvailable in /proc/meminfo")
}

// eachAtOnce runs fn for every name, k at a time, and returns each one's
// duration (in names' order), the whole time and the first error.
func eachAtOnce(names []string, k int, fn func(string) (time.Duration, error)) (samples, time.Duration, error) {
	ds := make(samples, len(names))
	errs := make([]error, len(names))
	slots := make(chan struct{}, k)
	done := make(chan struct{})
	t0 := time.Now()
	for i, name := range names {
		slots <- struct{}{}
		go func() {
			defer func() { <-slots; done <- struct{}{} }()
			ds[i], errs[i] = fn(name)
		}()
	}
	for range names {
		<-done
	}
	return ds, time.Since(t0), errors.Join(errs...)
}

func (b *bench) density(n, parallel int, pause string) error {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("dens%d-%03d", parallel, i)
	}
	settle()
	before, err := memAvailable()
	if err != nil {
		return err
	}
	each, total, err := eachAtOnce(names, parallel, func(name string) (time.Duration, error) {
		return b.podboxRun(name, b.one, nil)
	})
	if err != nil {
		return err
	}
	time.Sleep(2 * time.Second) // monitors idle: their runtimes settled
	settle()
	after, err := memAvailable()
	if err != nil {
		return err
	}
	var pauses, monitors procMem
	var pausePID, monitorPID int
	for _, name := range names {
		in, err := b.inspect(name)
		if err != nil {
			return err
		}
		p, err := readProc(in.PausePID)
		if err != nil {
			return fmt.Errorf("pod %s pause %d: %w", name, in.PausePID, err)
		}
		for i, pid := range monitorPIDs(in.MonitorPID) {
			m, err := readProc(pid)
			if err != nil && i == 0 {
				return fmt.Errorf("pod %s monitor %d: %w", name, pid, err)
			}
			monitors.add(m) // a lifecycle gone meanwhile counts nothing
		}
		pauses.add(p)
		pausePID, monitorPID = in.PausePID, in.MonitorPID
	}
	breakdown := smapsByMapping(monitorPID)
	pauseThreads, _ := readProc(pausePID)

	rm, rmTotal, err := eachAtOnce(names, parallel, b.podboxRm)
	if err != nil {
		return err
	}
	ps, err := exec.Command(b.podbox, "ps").CombinedOutput()
	if err != nil {
		return fmt.Errorf("podbox ps: %w: %s", err, ps)
	}

	k := float64(n)
	mb := func(kb int64) string { return fmt.Sprintf("%.2f MB", float64(kb)/k/1024) }
	how := "one after another"
	if parallel > 1 {
		how = fmt.Sprintf("%d at a time (and removed %d at a time)", parallel, parallel)
	}
	fmt.Printf("\n== density: %d idle one-container pods (sleep 3600), started %s\n", n, how)
	fmt.Printf("start all: %.2f s total, %.1f ms per pod (podbox run median %s ms, p90 %s ms, first %s ms, last %s ms)\n",
		total.Seconds(), float64(total.Milliseconds())/k, stats.Ms(each.Median()), stats.Ms(each.Quantile(0.9)), stats.Ms(each[0]), stats.Ms(each[n-1]))
	fmt.Printf("%-34s %12s %12s %12s %12s %8s\n", "per pod (average of all pods)", "VmRSS", "Pss", "RssAnon", "RssFile", "threads")
	prow := func(name string, m procMem) {
		fmt.Printf("%-34s %12s %12s %12s %12s %8.1f\n", name, mb(m.vmRSS), mb(m.pss), mb(m.rssAnon), mb(m.rssFile), float64(m.threads)/k)
	}
	both := pauses
	both.add(monitors)
	prow("pause", pauses)
	prow("monitor (podbox-shim + lifecycle)", monitors)
	prow("pause + monitor", both)
	fmt.Printf("resident overhead per pod (target <= 1 MB Pss, <= 5 MB VmRSS): VmRSS %s, Pss %s\n", mb(both.vmRSS), mb(both.pss))
	fmt.Printf("host MemAvailable: %d MB before, %d MB after: %.2f MB per pod (everything: processes incl. sleep, kernel objects, page cache)\n",
		before/1024, after/1024, float64(before-after)/k/1024)
	fmt.Printf("remove all: %.2f s total (podbox rm -f median %s ms, p90 %s ms)\n", rmTotal.Seconds(), stats.Ms(rm.Median()), stats.Ms(rm.Quantile(0.9)))
	lines := strings.Split(strings.TrimSpace(string(ps)), "\n")
	if len(lines) != 1 {
		return fmt.Errorf("podbox ps after removing every pod:\n%s", ps)
	}
	fmt.Printf("podbox ps after removal: header only (%q)\n", strings.Join(strings.Fields(lines[0]), " "))
	if parallel > 1 {
		return nil
	}

	st, err := os.Stat(pause)
	if err != nil {
		return err
	}
	fmt.Printf("\n== pause (running instance in density pod %s)\n", names[n-1])
	fmt.Printf("bin/pause: %d bytes; threads %d, VmRSS %d kB, RssAnon %d kB, Pss %d kB\n",
		st.Size(), pauseThreads.threads, pauseThreads.vmRSS, pauseThreads.rssAnon, pauseThreads.pss)

	fmt.Printf("\n== monitor (pod %s, pid %d, with %d monitors alive): resident by mapping\n", names[n-1], monitorPID, n)
	for _, r := range breakdown {
		fmt.Printf("  %-44s Rss %7d kB  Pss %7d kB\n", r.name, r.rss, r.pss)
	}
	return nil
}

// settle lets the page cache and the kernel's deferred frees catch up a
// little before MemAvailable is read.
func settle() {
	exec.Command("sync").Run()
	time.Sleep(500 * time.Millisecond)
}

type mapping struct {
	name     string
	rss, pss int64
}

// smapsByMapping sums Rss and Pss of pid by mapped file ([anon] for
// anonymous memory), largest first.
func smapsByMapping(pid int) []mapping {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return nil
	}
	sums := map[string]*mapping{}
	cur := "[anon]"
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if strings.Contains(f[0], "-") && len(f) >= 5 {
			cur = "[anon]"
			if len(f) >= 6 {
				cur = f[5]
			}
			continue
		}
		if len(f) < 2 || (f[0] != "Rss:" && f[0] != "Pss:") {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		m := sums[cur]
		if m == nil {
			m = &mapping{name: cur}
			sums[cur] = m
		}
		if f[0] == "Rss:" {
			m.rss += v
		} else {
			m.pss += v
		}
	}
	var out []mapping
	for _, m := range sums {
		if m.rss > 0 {
			out = append(out, *m)
		}
	}
	slices.SortFunc(out, func(a, b mapping) int { return int(b.rss - a.rss) })
	return out
}

// monitorKnobs starts a few pods per Go runtime setting, given to `podbox
// run` in its environment (the monitor inherits it), and reports the
// monitors' memory once idle.
func (b *bench) monitorKnobs() error {
	const per = 3
	variants := []struct {
		name, env string
		slim      bool
		free      time.Duration
	}{
		{name: "default", env: ""},
		{name: "GOMAXPROCS=1", env: "GOMAXPROCS=1"},
		{name: "GOGC=25", env: "GOGC=25"},
		{name: "GOMEMLIMIT=2MiB", env: "GOMEMLIMIT=2MiB"},
		{name: "GOMAXPROCS=1 GOGC=25", env: "GOMAXPROCS=1 GOGC=25"},
		{name: "slim monitor: sandbox library only", slim: true},
		{name: "slim + debug.FreeOSMemory at 1 s", slim: true, free: time.Second},
	}
	var pods [][]string
	for vi, v := range variants {
		var names []string
		for j := 0; j < per; j++ {
			name := fmt.Sprintf("knob-%d-%d", vi, j)
			if v.slim {
				if err := b.slimPod(name, v.free); err != nil {
					return fmt.Errorf("pod %s with a slim monitor: %w", name, err)
				}
			} else if _, err := b.podboxRun(name, b.one, strings.Fields(v.env)); err != nil {
				return err
			}
			names = append(names, name)
		}
		pods = append(pods, names)
	}
	time.Sleep(3 * time.Second)
	fmt.Printf("\n== monitor and the Go runtime's settings (in podbox run's environment; %d pods each, idle 3 s, average)\n", per)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	st, err := os.Stat(exe)
	if err != nil {
		return err
	}
	fmt.Printf("(slim: bench/podsbench -monitor, %d bytes, linking sandbox/netns/cgroups/image but no CLI, k8s.io/api or yaml)\n", st.Size())
	fmt.Printf("%-40s %10s %10s %10s %10s %8s\n", "setting", "VmRSS kB", "RssAnon kB", "RssFile kB", "Pss kB", "threads")
	for vi, v := range variants {
		var sum procMem
		for _, name := range pods[vi] {
			in, err := b.inspect(name)
			if err != nil {
				return err
			}
			m, err := readProc(in.MonitorPID)
			if err != nil {
				return err
			}
			sum.add(m)
		}
		fmt.Printf("%-40s %10d %10d %10d %10d %8.1f\n", v.name, sum.vmRSS/per, sum.rssAnon/per, sum.rssFile/per, sum.pss/per, float64(sum.threads)/per)
	}
	// The slim monitor's own account of its memory (runtime/metrics).
	for vi, v := range variants {
		if !v.slim {
			continue
		}
		data, _ := os.ReadFile(filepath.Join(b.work, pods[vi][0]+".monitor.log"))
		var parts []string
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) != 3 || f[0] != "metric" {
				continue
			}
			v, _ := strconv.ParseUint(f[2], 10, 64)
			name := strings.TrimPrefix(strings.TrimSuffix(strings.TrimSuffix(f[1], ":bytes"), ":gc-cycles"), "/memory/classes/")
			if strings.HasSuffix(f[1], ":bytes") {
				if v < 4096 {
					continue
				}
				parts = append(parts, fmt.Sprintf("%s %d kB", name, v/1024))
			} else {
				parts = append(parts, fmt.Sprintf("%s %d", name, v))
			}
		}
		fmt.Printf("%s, runtime/metrics of %s: %s\n", v.name, pods[vi][0], strings.Join(parts, ", "))
	}
	for _, names := range pods {
		for _, name := range names {
			if _, err := b.podboxRm(name); err != nil {
				return err
			}
		}
	}

	// What the binary's package initialisers allocate, in every process of it.
	cmd := exec.Command(b.podbox, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, _ := cmd.CombinedOutput()
	type pkgInit struct {
		pkg   string
		bytes int64
	}
	var inits []pkgInit
	var totalBytes, totalAllocs int64
	for _, line := range strings.Split(string(out), "\n") {
		// init PKG @T ms, C ms clock, B bytes, A allocs
		f := strings.Fields(line)
		if len(f) < 10 || f[0] != "init" {
			continue
		}
		by, _ := strconv.ParseInt(f[7], 10, 64)
		al, _ := strconv.ParseInt(f[9], 10, 64)
		totalBytes += by
		totalAllocs += al
		inits = append(inits, pkgInit{f[1], by})
	}
	slices.SortFunc(inits, func(a, b pkgInit) int { return int(b.bytes - a.bytes) })
	fmt.Printf("\npackage initialisers of bin/podbox (GODEBUG=inittrace=1): %d packages, %d kB in %d allocations; largest:\n",
		len(inits), totalBytes/1024, totalAllocs)
	for _, p := range inits[:min(8, len(inits))] {
		fmt.Printf("  %-60s %6d kB\n", p.pkg, p.bytes/1024)
	}
	return nil
}

// ---------------------------------------------------------------- cleanup

// cleanup removes every pod, runc container, the bench network, the cgroup
// parent and the work directory. It is idempotent.
func (b *bench) cleanup(pause string) error {
	var errs []error
	if out, err := exec.Command(b.podbox, "ps", "-o", "json").Output(); err == nil {
		var rows []struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(out, &rows); err != nil {
			errs = append(errs, fmt.Errorf("podbox ps -o json: %w", err))
		}
		for _, r := range rows {
			if _, err := b.podboxRm(r.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if ents, err := os.ReadDir(b.runcRt); err == nil {
		var ids []string
		for _, e := range ents {
			ids = append(ids, e.Name())
		}
		// Joiners (b, c) before the holder of their namespaces (a).
		slices.SortFunc(ids, func(x, y string) int { return strings.Compare(y, x) })
		errs = append(errs, b.runcDelete(ids...))
	}
	errs = append(errs, b.podmanCleanup(), b.containerdCleanup())
	m, err := manager(pause)
	if err != nil {
		errs = append(errs, err)
	} else {
		// The pods are gone, whatever remains is removed by the library too.
		if pods, err := m.List(context.Background()); err == nil {
			for _, p := range pods {
				errs = append(errs, m.Remove(context.Background(), p.Name, true))
			}
		}
		errs = append(errs, m.RemoveNetwork())
	}
	errs = append(errs, cgroups.LoadPod(b.cgroup).Destroy())
	for _, d := range []string{os.Getenv("PODBOX_ROOT"), os.Getenv("PODBOX_LOG_ROOT"), os.Getenv("PODBOX_IMAGE_ROOT"), b.work} {
		if strings.Contains(d, benchName) {
			errs = append(errs, os.RemoveAll(d))
		}
	}
	return errors.Join(errs...)
}

// manager is the sandbox Manager the PODBOX_* environment describes, as
// podbox's global flags make it.
func manager(pause string) (*sandbox.Manager, error) {
	return sandbox.New(sandbox.Options{
		Root: os.Getenv("PODBOX_ROOT"), LogRoot: os.Getenv("PODBOX_LOG_ROOT"), CgroupParent: os.Getenv("PODBOX_CGROUP_PARENT"), PauseBinary: pause,
		Network: netns.Config{
			Bridge:     os.Getenv("PODBOX_BRIDGE"),
			Subnet:     os.Getenv("PODBOX_SUBNET"),
			VethPrefix: os.Getenv("PODBOX_VETH_PREFIX"),
			Table:      os.Getenv("PODBOX_NFT_TABLE"),
		},
	})
}

// slimPod does what `podbox run` does for the one-container pod (Create,
// a monitor in its own session, WaitStarted), but the monitor is this
// binary (-monitor), which links the sandbox library without the CLI's
// dependencies (urfave/cli, k8s.io/api, yaml).
func (b *bench) slimPod(name string, free time.Duration) error {
	m, err := manager(b.pause)
	if err != nil {
		return err
	}
	store, err := image.Open(os.Getenv("PODBOX_IMAGE_ROOT"))
	if err != nil {
		return err
	}
	img, err := store.Get("busybox")
	if err != nil {
		return err
	}
	ctx := context.Background()
	cfg := &sandbox.PodConfig{Name: name, RestartPolicy: sandbox.RestartAlways, Containers: []sandbox.ContainerConfig{
		{Name: "main", Image: "busybox", Rootfs: img.Rootfs, Command: []string{"sleep", "3600"}},
	}}
	if _, err := m.Create(ctx, cfg); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(b.work, name+".monitor.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(exe, "-pause", b.pause, "-monitor", name, "-free-after", free.String())
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait() // reap it when podbox rm kills it
	return m.WaitStarted(ctx, name, nil)
}

// runMonitor is `podbox __monitor NAME` from this binary.
func runMonitor(name, pause string, freeAfter time.Duration) error {
	m, err := manager(pause)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	if freeAfter > 0 {
		time.AfterFunc(freeAfter, debug.FreeOSMemory)
	}
	// What the Go runtime holds, once idle, for the bench to print.
	time.AfterFunc(freeAfter+2*time.Second, func() {
		var ss []metrics.Sample
		for _, d := range metrics.All() {
			if strings.HasPrefix(d.Name, "/memory/classes/") || d.Name == "/gc/cycles/total:gc-cycles" {
				ss = append(ss, metrics.Sample{Name: d.Name})
			}
		}
		metrics.Read(ss)
		for _, s := range ss {
			if s.Value.Kind() == metrics.KindUint64 {
				fmt.Fprintf(os.Stderr, "metric %s %d\n", s.Name, s.Value.Uint64())
			}
		}
	})
	return m.Run(ctx, name, sandbox.RunOptions{BackoffBase: 10 * time.Second, BackoffMax: 300 * time.Second})
}

// ---------------------------------------------------------------- figures

func ratio(a, b time.Duration) float64 { return float64(a) / float64(b) }
