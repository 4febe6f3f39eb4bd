// Package testutil holds the helpers that podbox's root and end-to-end tests
// share: the root-test gate, the path of the built binaries, and per-test
// names that make every host resource a test creates attributable.
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// RootRequiredEnv, when set to "1", turns a skipped root test into a failed
// one. `make test` and CI set it: a green run that skipped the real tests is a
// defect.
const RootRequiredEnv = "PODBOX_TEST_ROOT"

// RequiresRoot skips t when the process is not root, unless the run demands
// root tests (PODBOX_TEST_ROOT=1), in which case t fails. With -short (the
// unit tier) it always skips.
func RequiresRoot(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("root tier: not run with -short (make unit)")
	}
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv(RootRequiredEnv) == "1" {
		t.Fatalf("this test needs root and %s=1 demands it: run it as root", RootRequiredEnv)
	}
	t.Skip("needs root (set " + RootRequiredEnv + "=1 to make this a failure)")
}

// Cgroup2RequiredEnv, when set to "1", turns a skipped cgroup v2 test into a
// failed one. `make test-v2` sets it in its pure cgroup v2 VM, so that the
// tests written for v2 cannot pass there by skipping.
const Cgroup2RequiredEnv = "PODBOX_TEST_CGROUP2"

// RequiresCgroup2 skips t unless the host runs the pure cgroup v2 layout; when
// the run demands v2 (PODBOX_TEST_CGROUP2=1) it fails instead. Call it after
// RequiresRoot.
func RequiresCgroup2(t testing.TB) {
	t.Helper()
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
		return
	}
	if os.Getenv(Cgroup2RequiredEnv) == "1" {
		t.Fatalf("this test needs pure cgroup v2 at /sys/fs/cgroup and %s=1 demands it", Cgroup2RequiredEnv)
	}
	t.Skip("cgroup v2 only: /sys/fs/cgroup is not cgroup2 here (make test-v2 runs it)")
}

// TimeScaleEnv multiplies every wait a test allows for something to happen
// (Wait): an emulated VM (make test-v2) runs several times slower than the
// host. Waits are bounds on a hang, never what a test asserts.
const TimeScaleEnv = "PODBOX_TEST_TIME_SCALE"

// Wait scales d, the longest a test waits for an event, by
// PODBOX_TEST_TIME_SCALE (a number, default 1).
func Wait(d time.Duration) time.Duration {
	if f, err := strconv.ParseFloat(os.Getenv(TimeScaleEnv), 64); err == nil && f > 1 {
		return time.Duration(float64(d) * f)
	}
	return d
}

// Prefix returns a short name prefix unique to this test run, such as
// "podbox-t3fa9c1". Every host-visible resource a test creates (cgroups,
// links, state directories) carries it, so a leak is attributable and
// `leakcheck podbox-t3fa9c1` finds exactly what this test left behind.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [3]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return "podbox-t" + hex.EncodeToString(b[:])
}

var (
	subnetMu sync.Mutex
	// subnetUsed: the bytes b of 10.89.b.0/24 taken by tests of this
	// process, and those fixed tests use.
	subnetUsed = map[int]bool{250: true, 253: true, 254: true}
)

// NetPrefix is Prefix for a test that makes a pod network: the prefix's
// first hex byte b picks its subnet, 10.89.b.0/24, which no other test of
// this process took and no address of the host is in. (Two tests whose
// prefixes began alike made overlapping networks, and one failed.)
func NetPrefix(t testing.TB) (string, int) {
	t.Helper()
	subnetMu.Lock()
	defer subnetMu.Unlock()
	for range 1000 {
		p := Prefix(t)
		b, _ := strconv.ParseUint(strings.TrimPrefix(p, "podbox-t")[:2], 16, 8)
		if subnetUsed[int(b)] || hostHasSubnet(int(b)) {
			continue
		}
		subnetUsed[int(b)] = true
		return p, int(b)
	}
	t.Fatal("no free 10.89.x.0/24 subnet")
	return "", 0
}

func hostHasSubnet(b int) bool {
	_, want, _ := net.ParseCIDR(fmt.Sprintf("10.89.%d.0/24", b))
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && want.Contains(ipn.IP) {
			return true
		}
	}
	return false
}

// Children lists the children of pid, from /proc.
func Children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces and parentheses.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// ModuleRoot returns the directory that holds go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

var (
	buildOnce sync.Map // target -> *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of a binary that `make` builds, such as "pause" or
// "podbox". PODBOX_BIN_DIR names a directory of prebuilt binaries (the
// device machine has no Go toolchain); otherwise the binary is built once per
// test process with `make bin/NAME`, so tests use exactly what users get.
func Binary(t testing.TB, name string) string {
	t.Helper()
	p, err := BinaryPath(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// BinaryPath is Binary for callers without a testing.TB (TestMain).
func BinaryPath(name string) (string, error) {
	if dir := os.Getenv("PODBOX_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PODBOX_BIN_DIR: %w", err)
		}
		return p, nil
	}
	v, _ := buildOnce.LoadOrStore(name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			r.err = err
			return
		}
		out, err := exec.Command("make", "-s", "-C", root, "bin/"+name).CombinedOutput()
		if err != nil {
			r.err = fmt.Errorf("build bin/%s: %w\n%s", name, err, strings.TrimSpace(string(out)))
			return
		}
		r.path = filepath.Join(root, "bin", name)
	})
	return r.path, r.err
}
