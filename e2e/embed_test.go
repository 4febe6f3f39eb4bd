package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

// examples/embed, a program of its own module that embeds the sandbox
// package from outside podbox's, builds and does everything a runtime
// needs of the library, and leaves nothing on the host.
func TestEmbedExample(t *testing.T) {
	e := newEnv(t)
	// Built from a copy, its replace pointing here, and -mod=mod: a
	// dependency podbox gained since its go.sum was written does not fail
	// the build, and the tree is not written to.
	root := testutil.ModuleRoot(t)
	dir := t.TempDir()
	for _, f := range []string{"main.go", "go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "embed", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "embed")
	for _, args := range [][]string{
		{"mod", "edit", "-replace", "github.com/podbox/podbox=" + root},
		{"build", "-mod=mod", "-tags", "seccomp", "-o", bin, "."},
	} {
		build := exec.Command("go", args...)
		build.Dir = dir
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("go %s (examples/embed): %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	cmd := exec.Command(bin, busyboxTar(t))
	// The pause inside the example's own program: nothing built or
	// shipped beside it, and its detached monitors run the same.
	cmd.Env = append(e.environ(), "PODBOX_PAUSE=builtin")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasSuffix(string(out), "ok uninstalled\n") {
		t.Fatalf("examples/embed: %v\n%s", err, out)
	}
	for _, want := range []string{"ok pod created and run by a detached monitor", "ok exec: the reader reads", "ok signal: the writer was killed (exit code 137", "ok recover: a new monitor adopted the running containers", "ok stop and wait: the pod is Stopped", "ok in-process pod run, stopped and removed"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("examples/embed did not say %q:\n%s", want, out)
		}
	}
	e.assertNoLeaks(e.prefix, e.veth, e.bridge)
}
