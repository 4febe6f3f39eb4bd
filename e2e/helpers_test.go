// Package e2e drives the built podbox binary as a user would: every test
// runs `bin/podbox` with an environment of its own (state root, image store,
// cgroup parent, bridge, veth prefix, subnet and nftables table, all named
// after a prefix unique to the test), asserts on exit codes and output, and
// leaves nothing behind on the host (checked with hack/leakcheck-gate).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

// TestMain raises the default test parallelism: the tests mostly wait on
// pods (sleeps, backoffs, polls), so on a 2-core machine the default of
// GOMAXPROCS would serialise them for nothing. An explicit -parallel wins.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "8")
	}
	os.Exit(m.Run())
}

// cmdTimeout bounds every podbox invocation, so that a hang fails one test
// instead of the whole run.
var cmdTimeout = testutil.Wait(90 * time.Second)

// env is one test's isolated podbox: every variable the binary reads that
// names a host resource carries the test's prefix.
type env struct {
	t      *testing.T
	prefix string // podbox-t3fa9c1
	hex    string // 3fa9c1
	bin    string
	root   string // /tmp/<prefix>
	bridge string
	veth   string
	subnet string
	vars   []string // KEY=VALUE, appended to the environment of every invocation

	mu         sync.Mutex
	transcript strings.Builder
}

// pickPrefix returns a prefix whose first hex byte picks the test's
// subnet 10.89.<byte>.0/24 (testutil.NetPrefix).
func pickPrefix(t *testing.T) (string, int) { return testutil.NetPrefix(t) }

// newEnv makes the test's environment and registers its cleanup: every pod
// removed, the network, cgroup parent and state removed, then a leak check.
func newEnv(t *testing.T) *env {
	t.Helper()
	testutil.RequiresRoot(t)
	prefix, b := pickPrefix(t)
	hex := strings.TrimPrefix(prefix, "podbox-t")
	e := &env{
		t: t, prefix: prefix, hex: hex,
		bin:    testutil.Binary(t, "podbox"),
		root:   filepath.Join("/tmp", prefix),
		bridge: "pb" + hex,
		veth:   "pv" + hex,
		subnet: fmt.Sprintf("10.89.%d.0/24", b),
	}
	e.vars = []string{
		"PODBOX_ROOT=" + filepath.Join(e.root, "root"),
		"PODBOX_LOG_ROOT=" + filepath.Join(e.root, "logs"),
		"PODBOX_IMAGE_ROOT=" + filepath.Join(e.root, "images"),
		"PODBOX_VOLUME_ROOT=" + filepath.Join(e.root, "volumes"),
		"PODBOX_CGROUP_PARENT=/" + prefix,
		"PODBOX_BRIDGE=" + e.bridge,
		"PODBOX_VETH_PREFIX=" + e.veth,
		"PODBOX_SUBNET=" + e.subnet,
		"PODBOX_NFT_TABLE=" + prefix,
		"PODBOX_BACKOFF_BASE=200ms",
		// Offline: an image missing from the store is never asked of
		// docker.io (the default registry of "busybox").
		"PODBOX_REGISTRIES_CONFIG=" + filepath.Join(e.root, "registries.yaml"),
	}
	t.Cleanup(e.cleanup)
	if err := os.MkdirAll(e.root, 0o700); err != nil {
		t.Fatal(err)
	}
	e.writeRegistries(t, "")
	return e
}

// writeRegistries writes the env's registries config: docker.io blocked,
// then more (YAML, indented as entries under registries:).
func (e *env) writeRegistries(t *testing.T, more string) {
	t.Helper()
	data := "registries:\n  docker.io:\n    blocked: true\n" + more
	if err := os.WriteFile(filepath.Join(e.root, "registries.yaml"), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// environ is the process environment without any PODBOX_ variable of the
// caller's, plus the test's.
func (e *env) environ() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PODBOX_") && !strings.HasPrefix(kv, "PODBOX_TEST_ROOT=") {
			continue
		}
		out = append(out, kv)
	}
	return append(out, e.vars...)
}

// command returns an *exec.Cmd running podbox with the test's environment.
func (e *env) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = e.environ()
	return cmd
}

func (e *env) record(format string, a ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	fmt.Fprintf(&e.transcript, format, a...)
}

// podbox runs the binary with args and returns its stdout, stderr and exit
// code; it fails the test only when the binary could not run at all.
func podbox(t *testing.T, e *env, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return podboxIn(t, e, "", args...)
}

// podboxIn is podbox with stdin.
func podboxIn(t *testing.T, e *env, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := e.command(ctx, args...)
	var o, er bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &o, &er
	start := time.Now()
	err := cmd.Run()
	code = cmd.ProcessState.ExitCode()
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("podbox %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		code = -1
	}
	e.record("$ podbox %s   # exit %d, %s\n%s%s", shellJoin(args), code, time.Since(start).Round(time.Millisecond), indent("stdout", o.String()), indent("stderr", er.String()))
	return o.String(), er.String(), code
}

// mustPodbox is podbox that fails the test on a non-zero exit, showing the
// command and its output.
func mustPodbox(t *testing.T, e *env, args ...string) string {
	t.Helper()
	out, errOut, code := podbox(t, e, args...)
	if code != 0 {
		t.Fatalf("podbox %s: exit %d\nstdout:\n%s\nstderr:\n%s", shellJoin(args), code, out, errOut)
	}
	return out
}

// failPodbox runs podbox expecting exit code want and stderr holding every
// one of msgs; it returns stderr.
func failPodbox(t *testing.T, e *env, want int, msgs []string, args ...string) string {
	t.Helper()
	out, errOut, code := podbox(t, e, args...)
	if code != want {
		t.Fatalf("podbox %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", shellJoin(args), code, want, out, errOut)
	}
	for _, m := range msgs {
		if !strings.Contains(errOut, m) {
			t.Errorf("podbox %s: stderr lacks %q\nstderr:\n%s", shellJoin(args), m, errOut)
		}
	}
	return errOut
}

func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n'\"$;&|<>()*?") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		q[i] = a
	}
	return strings.Join(q, " ")
}

func indent(label, s string) string {
	if s == "" {
		return ""
	}
	return "  " + label + ":\n    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ") + "\n"
}

var (
	busyboxOnce sync.Once
	busyboxPath string
	busyboxErr  error
)

// busyboxTar is PODBOX_BUSYBOX_TAR, or the image make builds.
func busyboxTar(t *testing.T) string {
	t.Helper()
	busyboxOnce.Do(func() {
		if p := os.Getenv("PODBOX_BUSYBOX_TAR"); p != "" {
			busyboxPath = p
			return
		}
		root := testutil.ModuleRoot(t)
		out, err := exec.Command("make", "-s", "-C", root, "testdata/images/busybox.tar").CombinedOutput()
		if err != nil {
			busyboxErr = fmt.Errorf("make testdata/images/busybox.tar: %v\n%s", err, out)
			return
		}
		busyboxPath = filepath.Join(root, "testdata", "images", "busybox.tar")
	})
	if busyboxErr != nil {
		t.Fatal(busyboxErr)
	}
	return busyboxPath
}

// newEnvWithBusybox is newEnv with the busybox image imported.
func newEnvWithBusybox(t *testing.T) *env {
	t.Helper()
	e := newEnv(t)
	out := mustPodbox(t, e, "image", "import", "busybox", busyboxTar(t))
	if !strings.HasPrefix(out, "busybox:latest sha256:") {
		t.Fatalf("image import printed %q, want \"busybox:latest sha256:...\"", out)
	}
	return e
}

func (e *env) cleanup() {
	t := e.t
	if t.Failed() {
		e.mu.Lock()
		t.Logf("podbox commands of this test (env: %s):\n%s", strings.Join(e.vars, " "), e.transcript.String())
		e.mu.Unlock()
		logs, _ := filepath.Glob(filepath.Join(e.root, "root", "pods", "*", "monitor.log"))
		for _, l := range logs {
			b, _ := os.ReadFile(l)
			t.Logf("%s:\n%s", l, b)
		}
	}
	if out, _, code := podbox(t, e, "ps", "-o", "json"); code == 0 {
		var rows []psRow
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Errorf("cleanup: ps -o json: %v\n%s", err, out)
		}
		for _, r := range rows {
			if o, er, code := podbox(t, e, "rm", "-f", r.Name); code != 0 {
				t.Errorf("cleanup: podbox rm -f %s: exit %d\n%s%s", r.Name, code, o, er)
			}
		}
	}
	m, err := sandbox.New(sandbox.Options{
		Root:         filepath.Join(e.root, "root"),
		CgroupParent: "/" + e.prefix,
		PauseBinary:  testutil.Binary(t, "pause"),
		Network:      netns.Config{Bridge: e.bridge, Subnet: e.subnet, VethPrefix: e.veth, Table: e.prefix},
	})
	if err != nil {
		t.Errorf("cleanup: %v", err)
	} else if err := m.RemoveNetwork(); err != nil {
		t.Errorf("cleanup: remove network: %v", err)
	}
	if err := cgroups.LoadPod("/" + e.prefix).Destroy(); err != nil {
		t.Errorf("cleanup: cgroup parent: %v", err)
	}
	if err := os.RemoveAll(e.root); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	e.assertNoLeaks(e.prefix, e.veth, e.bridge)
}

// assertNoLeaks runs hack/leakcheck-gate for each pattern.
func (e *env) assertNoLeaks(patterns ...string) {
	e.t.Helper()
	gate := filepath.Join(testutil.ModuleRoot(e.t), "hack", "leakcheck-gate")
	for _, p := range patterns {
		if out, err := exec.Command(gate, p).CombinedOutput(); err != nil {
			e.t.Errorf("leakcheck-gate %s: %v\n%s", p, err, out)
		}
	}
}

// assertNothingLeft checks, while the test's bridge and cgroup parent still
// exist, that no pod left anything: no child of the cgroup parent, and no
// veth, mount or process named after the test.
func (e *env) assertNothingLeft(t *testing.T) {
	t.Helper()
	parents, _ := filepath.Glob("/sys/fs/cgroup/*/" + e.prefix)
	parents = append(parents, "/sys/fs/cgroup/"+e.prefix)
	for _, p := range parents {
		ents, _ := os.ReadDir(p)
		for _, d := range ents {
			if d.IsDir() {
				t.Errorf("leak: cgroup %s/%s", p, d.Name())
			}
		}
	}
	e.assertNoLeaks(e.veth, e.root)
}

// psRow is a row of `podbox ps -o json`.
type psRow struct {
	Namespace  string `json:"namespace"`
	Name       string `json:"name"`
	Phase      string `json:"phase"`
	IP         string `json:"ip"`
	Ready      int    `json:"ready"`
	Containers int    `json:"containers"`
	Restarts   int    `json:"restarts"`
	Message    string `json:"message"`
}

func (e *env) ps(t *testing.T) []psRow {
	t.Helper()
	out := mustPodbox(t, e, "ps", "-o", "json")
	var rows []psRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("podbox ps -o json: %v\n%s", err, out)
	}
	return rows
}

// getPod is `podbox get pod NAME -o json` as a v1.Pod.
func (e *env) getPod(t *testing.T, name string) *v1.Pod {
	t.Helper()
	out := mustPodbox(t, e, "get", "pod", name, "-o", "json")
	pod := &v1.Pod{}
	if err := json.Unmarshal([]byte(out), pod); err != nil {
		t.Fatalf("podbox get pod %s -o json: %v\n%s", name, err, out)
	}
	return pod
}

// inspectOut is what `podbox inspect` prints.
type inspectOut struct {
	Name          string `json:"name"`
	UID           string `json:"uid"`
	LogDir        string `json:"logDir"`
	Phase         string `json:"phase"`
	PodIP         string `json:"podIP"`
	Veth          string `json:"veth"`
	PausePID      int    `json:"pausePid"`
	MonitorPID    int    `json:"monitorPid"`
	UserNamespace *struct {
		HostID uint32 `json:"hostID"`
		Size   uint32 `json:"size"`
		UIDMap string `json:"uidMap"`
	} `json:"userNamespace"`
	Namespaces map[string]struct {
		Path  string `json:"path"`
		Inode uint64 `json:"inode"`
	} `json:"namespaces"`
	Cgroup struct {
		Path        string `json:"path"`
		MemoryLimit int64  `json:"memoryLimit"`
	} `json:"cgroup"`
	Containers []struct {
		Name         string            `json:"name"`
		Kind         string            `json:"kind"`
		State        string            `json:"state"`
		PID          int               `json:"pid"`
		RestartCount int               `json:"restartCount"`
		Namespaces   map[string]uint64 `json:"namespaces"`
	} `json:"containers"`
	Volumes []struct {
		Name, Kind, Path string
		Claim            string `json:"claimName"`
		Image, ImageID   string
		ReadOnly         bool
	} `json:"volumes"`
}

func (e *env) inspect(t *testing.T, name string) *inspectOut {
	t.Helper()
	out := mustPodbox(t, e, "inspect", name)
	var in inspectOut
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatalf("podbox inspect %s: %v\n%s", name, err, out)
	}
	return &in
}

// containerStatus finds a container's status, init containers included.
func containerStatus(t *testing.T, pod *v1.Pod, name string) v1.ContainerStatus {
	t.Helper()
	for _, list := range [][]v1.ContainerStatus{pod.Status.InitContainerStatuses, pod.Status.ContainerStatuses} {
		for _, cs := range list {
			if cs.Name == name {
				return cs
			}
		}
	}
	b, _ := json.MarshalIndent(pod.Status, "", "  ")
	t.Fatalf("pod %s has no status for container %q:\n%s", pod.Name, name, b)
	return v1.ContainerStatus{}
}

// eventually polls cond every 100 ms until it holds or d passes; then it
// fails with what, and the last reason cond gave.
func eventually(t *testing.T, d time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	d = testutil.Wait(d)
	deadline := time.Now().Add(d)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s; last: %s", d, what, why)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// manifest writes a manifest to the test's temp dir and returns its path.
func manifest(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// podsManifest is the path of a manifest in the module's testdata/pods.
func podsManifest(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(testutil.ModuleRoot(t), "testdata", "pods", name)
}

// localManifest is the path of a manifest in e2e/testdata.
func localManifest(t *testing.T, name string) string {
	t.Helper()
	return filepath.Join(testutil.ModuleRoot(t), "e2e", "testdata", name)
}

// freePort returns a TCP port that nothing listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		// The kernel may give a port it gave a moment ago, closed since
		// but meant for another pod of this run: never the same twice.
		if _, taken := portsGiven.LoadOrStore(port, true); !taken {
			return port
		}
	}
}

// portsGiven are the ports freePort gave in this run.
var portsGiven sync.Map

// httpClient never uses a proxy: tests talk only to loopback and pod IPs.
var httpClient = &http.Client{
	Timeout:   2 * time.Second,
	Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
}

// fetch GETs url and returns the status code and body.
func fetch(url string) (int, string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// fetchEventually polls url until it answers 200 with a body holding want.
func fetchEventually(t *testing.T, d time.Duration, url, want string) string {
	t.Helper()
	var body string
	eventually(t, d, "GET "+url+" holding "+strconv.Quote(want), func() (bool, string) {
		code, b, err := fetch(url)
		if err != nil {
			return false, err.Error()
		}
		body = b
		return code == 200 && strings.Contains(b, want), fmt.Sprintf("%d %q", code, b)
	})
	return body
}

// childrenNamed lists the children of pid whose command (comm) is name.
func childrenNamed(pid int, name string) []int {
	var kids []int
	for _, p := range testutil.Children(pid) {
		if comm, _ := os.ReadFile("/proc/" + strconv.Itoa(p) + "/comm"); strings.TrimSpace(string(comm)) == name {
			kids = append(kids, p)
		}
	}
	return kids
}
