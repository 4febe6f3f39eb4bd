package cgroups

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	occg "github.com/opencontainers/cgroups"
)

// fakeKernel plays the v2 kernel over a temporary directory: mkdir makes a
// cgroup with its interface files, rmdir removes one, kill empties the
// cgroup.procs it was asked to signal.
type fakeKernel struct {
	t           *testing.T
	root        string
	controllers string   // cgroup.controllers of a new cgroup
	withKill    bool     // whether a new cgroup has cgroup.kill (Linux 5.14+)
	lacks       []string // interface files a new cgroup does not have (an older or smaller kernel)

	mkdirs   []*occg.Resources
	removed  []string          // cgroups removed, relative to root
	killFile map[string]string // cgroup.kill content of a removed cgroup
	killed   map[string][]int  // pids signalled, by cgroup relative to root
}

func newFakeV2(t *testing.T, controllers string, withKill bool) (*unified, *fakeKernel) {
	t.Helper()
	occg.TestMode = true
	t.Cleanup(func() { occg.TestMode = false })
	k := &fakeKernel{t: t, root: t.TempDir(), controllers: controllers, withKill: withKill,
		killFile: map[string]string{}, killed: map[string][]int{}}
	k.write("/", "cgroup.controllers", controllers)
	k.write("/", "cgroup.procs", "1\n") // the host's processes: never to be touched
	return &unified{root: k.root, mkdir: k.mkdir, rmdir: k.rmdir, kill: k.kill}, k
}

func (k *fakeKernel) rel(dir string) string {
	r, err := filepath.Rel(k.root, dir)
	if err != nil || strings.HasPrefix(r, "..") {
		k.t.Fatalf("%s is outside the fake cgroup tree %s", dir, k.root)
	}
	return "/" + filepath.ToSlash(r)
}

func (k *fakeKernel) mkdir(dir string, cg *occg.Cgroup) error {
	if cg.Path != k.rel(dir) {
		k.t.Errorf("mkdir %s with Cgroup.Path %q", dir, cg.Path)
	}
	k.mkdirs = append(k.mkdirs, cg.Resources)
	var missing []string
	for d := dir; d != k.root; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append([]string{d}, missing...)
	}
	for _, d := range missing {
		if err := os.Mkdir(d, 0o755); err != nil {
			return err
		}
		files := map[string]string{
			"cgroup.controllers":     k.controllers,
			"cgroup.subtree_control": "",
			"cgroup.procs":           "",
			"memory.max":             "max",
			"memory.current":         "0",
			"memory.events":          "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\noom_group_kill 0\n",
			"memory.swap.max":        "max",
			"memory.oom.group":       "0",
			"memory.pressure":        "some avg10=0.00 avg60=0.00 avg300=0.00 total=0\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		}
		if k.withKill {
			files["cgroup.kill"] = ""
		}
		for _, f := range k.lacks {
			delete(files, f)
		}
		for f, c := range files {
			k.write(k.rel(d), f, c)
		}
	}
	return nil
}

func (k *fakeKernel) rmdir(dir string) error {
	rel := k.rel(dir)
	if b, err := os.ReadFile(filepath.Join(dir, "cgroup.kill")); err == nil {
		k.killFile[rel] = string(b)
	}
	k.removed = append(k.removed, rel)
	return os.RemoveAll(dir)
}

func (k *fakeKernel) kill(dir string, pids []int) error {
	rel := k.rel(dir)
	k.killed[rel] = append(k.killed[rel], pids...)
	k.write(rel, "cgroup.procs", "") // they die
	return nil
}

func (k *fakeKernel) write(cgroup, file, content string) {
	k.t.Helper()
	if err := os.WriteFile(filepath.Join(k.root, cgroup, file), []byte(content), 0o644); err != nil {
		k.t.Fatal(err)
	}
}

func (k *fakeKernel) read(cgroup, file string) string {
	k.t.Helper()
	b, err := os.ReadFile(filepath.Join(k.root, cgroup, file))
	if err != nil {
		k.t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func (k *fakeKernel) exists(cgroup string) bool {
	_, err := os.Stat(filepath.Join(k.root, cgroup))
	return err == nil
}

const allControllers = "cpuset cpu io memory hugetlb pids rdma misc"

func TestV2CreatePod(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	p, err := createPod(u, "/podbox/web", 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/web", "memory.max"); got != "33554432" {
		t.Errorf("memory.max = %q, want 33554432", got)
	}
	if got := k.read("/podbox/web", "cgroup.subtree_control"); got != "+cpu +memory +pids" {
		t.Errorf("cgroup.subtree_control = %q, want +cpu +memory +pids", got)
	}
	if got := k.read("/podbox/web", "cgroup.procs"); got != "" {
		t.Errorf("the pod cgroup holds processes: %q", got)
	}
	for _, r := range k.mkdirs {
		if !r.SkipDevices {
			t.Errorf("a cgroup made with device rules: %+v (an empty rule list denies every device on v2)", r)
		}
	}

	k.write("/podbox/web", "memory.current", "4096\n")
	limit, usage, err := p.Memory()
	if err != nil || limit != 32*Mi || usage != 4096 {
		t.Errorf("Memory() = %d, %d, %v; want %d, 4096", limit, usage, err, 32*Mi)
	}

	// Again: idempotent, it updates the limit; 0 lifts it.
	if _, err := createPod(u, "/podbox/web", 64*Mi); err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/web", "memory.max"); got != "67108864" {
		t.Errorf("memory.max = %q after update, want 67108864", got)
	}
	if _, err := createPod(u, "/podbox/web", 0); err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/web", "memory.max"); got != "max" {
		t.Errorf("memory.max = %q with no quota, want max", got)
	}
	if limit, _, err := p.Memory(); err != nil || limit != 0 {
		t.Errorf("Memory() limit = %d, %v with no quota; want 0", limit, err)
	}
}

func TestV2SubtreeControl(t *testing.T) {
	for _, tc := range []struct{ controllers, want string }{
		{allControllers, "+cpu +memory +pids"},
		{"memory pids", "+memory +pids"},
		{"cpuset io", ""},
	} {
		u, k := newFakeV2(t, tc.controllers, false)
		if _, err := createPod(u, "/podbox/web", 0); err != nil {
			t.Fatal(err)
		}
		if got := k.read("/podbox/web", "cgroup.subtree_control"); got != tc.want {
			t.Errorf("controllers %q: cgroup.subtree_control = %q, want %q", tc.controllers, got, tc.want)
		}
	}
}

func TestV2CreateUndo(t *testing.T) {
	u, k := newFakeV2(t, allControllers, false)
	mkdir := u.mkdir
	u.mkdir = func(dir string, cg *occg.Cgroup) error {
		if err := mkdir(dir, cg); err != nil {
			return err
		}
		return os.Remove(filepath.Join(dir, "cgroup.controllers")) // enabling controllers fails
	}
	_, err := createPod(u, "/podbox/web", 32*Mi)
	if err == nil || !strings.HasPrefix(err.Error(), `create pod cgroup "/podbox/web": `) {
		t.Fatalf("err = %v", err)
	}
	if k.exists("/podbox/web") {
		t.Error("a pod cgroup that failed to be made is left behind")
	}
	if !k.exists("/podbox") {
		t.Error("the parent was removed")
	}
}

func TestV2Join(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	p, err := createPod(u, "/podbox/web", 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join("pause", 4242); err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/web/pause", "cgroup.procs"); got != "4242" {
		t.Errorf("pause/cgroup.procs = %q, want 4242", got)
	}
	if got := k.read("/podbox/web/pause", "memory.max"); got != "max" {
		t.Errorf("pause/memory.max = %q: Join set a limit", got)
	}
	for _, name := range []string{"", ".", "..", "a/b"} {
		if err := p.Join(name, 4242); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Join(%q): err = %v, want ErrInvalidPath", name, err)
		}
	}
}

func TestV2DestroyWithCgroupKill(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	p, err := createPod(u, "/podbox/web", 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join("pause", 4242); err != nil {
		t.Fatal(err)
	}
	k.write("/podbox/web/pause", "cgroup.procs", "") // the fake kernel obeys cgroup.kill
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	if got := k.killFile["/podbox/web"]; got != "1" {
		t.Errorf("cgroup.kill of the pod = %q, want 1", got)
	}
	if len(k.killed) != 0 {
		t.Errorf("signalled %v though nothing was left", k.killed)
	}
	if !reflect.DeepEqual(k.removed, []string{"/podbox/web"}) || k.exists("/podbox/web") {
		t.Errorf("removed %v, want [/podbox/web]", k.removed)
	}
	if !k.exists("/podbox") {
		t.Error("the parent was removed")
	}
	if err := p.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := (&Pod{path: "/podbox/never", be: u}).Destroy(); err != nil {
		t.Errorf("Destroy of a pod never made: %v", err)
	}
}

func TestV2DestroyBySignals(t *testing.T) {
	u, k := newFakeV2(t, allControllers, false)
	p, err := createPod(u, "/podbox/web", 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	other, err := createPod(u, "/podbox/webx", 0) // a name sharing the prefix
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"pause", "app"} {
		if err := p.Join(c, 100); err != nil {
			t.Fatal(err)
		}
	}
	if err := other.Join("pause", 999); err != nil {
		t.Fatal(err)
	}
	k.write("/podbox/web/pause", "cgroup.procs", "4242\n")
	k.write("/podbox/web/app", "cgroup.procs", "4300\n4301\n")
	if err := p.Destroy(); err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{"/podbox/web/pause": {4242}, "/podbox/web/app": {4300, 4301}}
	if !reflect.DeepEqual(k.killed, want) {
		t.Errorf("signalled %v, want %v", k.killed, want)
	}
	if k.exists("/podbox/web") {
		t.Error("pod cgroup left")
	}
	if got := k.read("/podbox/webx/pause", "cgroup.procs"); got != "999" || !k.exists("/podbox/webx") {
		t.Errorf("another pod was touched: cgroup.procs %q", got)
	}
	if got := k.read("/", "cgroup.procs"); got != "1" {
		t.Errorf("root cgroup.procs = %q", got)
	}
}

func TestV2DestroyTimeout(t *testing.T) {
	u, k := newFakeV2(t, allControllers, false)
	u.kill = func(string, []int) error { return nil } // a process that does not die
	old := killTimeout
	killTimeout = 50 * time.Millisecond
	t.Cleanup(func() { killTimeout = old })
	p, err := createPod(u, "/podbox/web", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join("pause", 4242); err != nil {
		t.Fatal(err)
	}
	err = p.Destroy()
	if err == nil || !strings.Contains(err.Error(), `destroy pod cgroup "/podbox/web": processes [4242] still there`) {
		t.Fatalf("err = %v", err)
	}
	if !k.exists("/podbox/web") {
		t.Error("removed a cgroup that still holds a process")
	}
}

func TestV2OOMKillCount(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	p, err := createPod(u, "/podbox/web", 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Join("app", 4242); err != nil {
		t.Fatal(err)
	}
	k.write("/podbox/web/app", "memory.events", "low 0\nhigh 0\nmax 3\noom 0\noom_kill 2\noom_group_kill 0\n")
	n, err := oomKillCount(u, "/podbox/web/app")
	if err != nil || n != 2 {
		t.Errorf("oomKillCount = %d, %v; want 2", n, err)
	}
	if _, err := oomKillCount(u, "/podbox/web/gone"); err == nil || !strings.HasPrefix(err.Error(), `read oom kills of cgroup "/podbox/web/gone": `) {
		t.Errorf("missing cgroup: err = %v", err)
	}
}

func TestV2SwapFenced(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	if _, err := createPod(u, "/podbox/fenced", 32*Mi); err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/fenced", "memory.swap.max"); got != "0" {
		t.Errorf("memory.swap.max = %q by default, want 0 (the kubelet's NoSwap)", got)
	}
	if _, err := createPod(u, "/podbox/swapping", 32*Mi, AllowSwap(true)); err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/swapping", "memory.swap.max"); got != "max" {
		t.Errorf("memory.swap.max = %q with AllowSwap, want it left at max", got)
	}
	// A kernel without swap accounting has no memory.swap.max: nothing to
	// fence, and no error.
	k.lacks = []string{"memory.swap.max"}
	if _, err := createPod(u, "/podbox/noswap", 32*Mi); err != nil {
		t.Fatal(err)
	}
	if k.exists("/podbox/noswap/memory.swap.max") {
		t.Error("memory.swap.max written where the kernel has none")
	}
}

func TestV2ContainerResources(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	p, err := createPod(u, "/podbox/web", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		allowSwap bool
		want      map[string]string
	}{
		{false, map[string]string{"memory.oom.group": "1", "memory.swap.max": "0"}},
		{true, map[string]string{"memory.oom.group": "1"}},
	} {
		r := &occg.Resources{Unified: map[string]string{"memory.high": "max"}}
		p.ContainerResources(r, tc.allowSwap)
		tc.want["memory.high"] = "max" // what was there stays
		if !reflect.DeepEqual(r.Unified, tc.want) {
			t.Errorf("allowSwap %v: Unified = %v, want %v", tc.allowSwap, r.Unified, tc.want)
		}
	}
	// An older kernel: no memory.oom.group (before 4.19), no swap accounting.
	k.lacks = []string{"memory.oom.group", "memory.swap.max"}
	old, err := createPod(u, "/podbox/old", 0)
	if err != nil {
		t.Fatal(err)
	}
	// (The library's own memory.swap.max "max", which the fake keeps as a
	// new file and a kernel refuses, goes.)
	os.Remove(filepath.Join(k.root, "podbox", "old", "memory.swap.max"))
	r := &occg.Resources{}
	old.ContainerResources(r, false)
	if r.Unified != nil {
		t.Errorf("Unified = %v where the kernel has neither file", r.Unified)
	}
}

func TestV2MemoryEventsAndPressure(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	p, err := createPod(u, "/podbox/web", 32*Mi)
	if err != nil {
		t.Fatal(err)
	}
	k.write("/podbox/web", "memory.events", "low 0\nhigh 0\nmax 7\noom 2\noom_kill 3\noom_group_kill 1\n")
	ev, err := p.MemoryEvents()
	want := map[string]uint64{"low": 0, "high": 0, "max": 7, "oom": 2, "oom_kill": 3, "oom_group_kill": 1}
	if err != nil || !reflect.DeepEqual(ev, want) {
		t.Errorf("MemoryEvents() = %v, %v; want %v", ev, err, want)
	}
	k.write("/podbox/web", "memory.pressure", "some avg10=1.50 avg60=0.25 avg300=0.00 total=123456\nfull avg10=0.75 avg60=0.00 avg300=0.00 total=42\n")
	k.write("/podbox/web", "cpu.pressure", "some avg10=0.00 avg60=0.00 avg300=0.00 total=9\n")
	psi, err := p.Pressure()
	if err != nil {
		t.Fatal(err)
	}
	if len(psi) != 2 || psi["io"] != nil {
		t.Errorf("Pressure() has %v; want cpu and memory (no io.pressure here)", psi)
	}
	if m := psi["memory"]; m == nil || m.Some.Avg10 != 1.5 || m.Some.Avg60 != 0.25 || m.Some.Total != 123456 || m.Full.Avg10 != 0.75 || m.Full.Total != 42 {
		t.Errorf("memory pressure = %+v", m)
	}
	if c := psi["cpu"]; c == nil || c.Some.Total != 9 {
		t.Errorf("cpu pressure = %+v", c)
	}
	k.write("/podbox/web", "io.pressure", "some avg10=x\n")
	if _, err := p.Pressure(); err == nil || !strings.Contains(err.Error(), "io.pressure") {
		t.Errorf("a malformed io.pressure: err = %v, want one naming the file", err)
	}
	k.write("/podbox/web", "memory.events", "oom_kill three\n")
	if _, err := p.MemoryEvents(); err == nil || !strings.Contains(err.Error(), "memory.events") {
		t.Errorf("a malformed memory.events: err = %v, want one naming the file", err)
	}
}

func TestPaths(t *testing.T) {
	u, _ := newFakeV2(t, allControllers, true)
	for _, path := range []string{"", "/", "podbox/web", "/podbox/../web", "/podbox/web/", "//podbox"} {
		if _, err := createPod(u, path, 0); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("createPod(%q): err = %v, want ErrInvalidPath", path, err)
		}
		if err := (&Pod{path: path, be: u}).Destroy(); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Destroy(%q): err = %v, want ErrInvalidPath", path, err)
		}
	}
	p := LoadPod("/podbox/web")
	if p.Path() != "/podbox/web" || p.Child("app") != "/podbox/web/app" {
		t.Errorf("Path %q Child %q", p.Path(), p.Child("app"))
	}
}

// Pod-level cpu: the quota in cpu.max, the shares as cpu.weight (the v2
// manager writes no cpu.shares).
func TestV2PodCPU(t *testing.T) {
	u, k := newFakeV2(t, allControllers, true)
	if _, err := createPod(u, "/podbox/cpu", 32*Mi, CPU(50000, 100000, 256)); err != nil {
		t.Fatal(err)
	}
	if got := k.read("/podbox/cpu", "cpu.max"); got != "50000 100000" {
		t.Errorf("cpu.max = %q, want 50000 100000", got)
	}
	want := strconv.FormatUint(occg.ConvertCPUSharesToCgroupV2Value(256), 10)
	if got := k.read("/podbox/cpu", "cpu.weight"); got != want {
		t.Errorf("cpu.weight = %q, want %s", got, want)
	}
}
