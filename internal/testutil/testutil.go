// Package testutil holds the helpers that podbox's root and end-to-end tests
// share: the root-test gate, the path of the built binaries, and per-test
// names that make every host resource a test creates attributable.
package testutil

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
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

// ModuleRoot returns the directory that holds go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
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
	if dir := os.Getenv("PODBOX_BIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("PODBOX_BIN_DIR: %v", err)
		}
		return p
	}
	root := ModuleRoot(t)
	v, _ := buildOnce.LoadOrStore(name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		cmd := exec.Command("make", "-s", "-C", root, "bin/"+name)
		out, err := cmd.CombinedOutput()
		if err != nil {
			r.err = &buildError{name: name, out: strings.TrimSpace(string(out)), err: err}
			return
		}
		r.path = filepath.Join(root, "bin", name)
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

type buildError struct {
	name string
	out  string
	err  error
}

func (e *buildError) Error() string {
	return "build bin/" + e.name + ": " + e.err.Error() + "\n" + e.out
}
