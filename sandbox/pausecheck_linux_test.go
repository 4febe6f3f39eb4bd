package sandbox

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/testutil"
)

// A pause built wrong, or another program, is refused by New with what it
// said; a pause that dies on start makes Create say what it wrote.
func TestPauseBuiltWrong(t *testing.T) {
	e := newTestEnv(t)
	dir := t.TempDir()
	refused := func(what, pause, want string) {
		t.Helper()
		opts := e.opts
		opts.PauseBinary = pause
		_, err := New(opts)
		if !errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), pause) {
			t.Errorf("New with %s: %v; want an invalid argument naming %q and saying %q", what, err, pause, want)
		}
	}
	refused("a missing pause", filepath.Join(dir, "nosuch"), "no such file")
	refused("a program that is no pause", "/bin/true", `printed ""`)
	if runtime.GOARCH == "amd64" {
		// go build ./cmd/pause without the Makefile's linker entry.
		wrong := filepath.Join(dir, "pause-wrong")
		cmd := exec.Command("go", "build", "-o", wrong, "./cmd/pause")
		cmd.Dir = testutil.ModuleRoot(t)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build ./cmd/pause: %v\n%s", err, out)
		}
		refused("a pause built without its linker entry", wrong, "pause.asmentry")
	}

	// A pause that passes -v but dies at once: Create says what it wrote.
	dying := filepath.Join(dir, "pause-dying")
	script := "#!/bin/sh\n[ \"$1\" = -v ] && { echo 'pause fake'; exit 0; }\necho 'the fake pause gives up' >&2\nexit 3\n"
	if err := os.WriteFile(dying, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	opts := e.opts
	opts.PauseBinary = dying
	m, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	// Where the pause outlives Create (a slow machine), Start says it.
	ctx := context.Background()
	_, err = m.Create(ctx, &PodConfig{Name: "dying", Containers: []ContainerConfig{e.container("c", "true")}})
	if err == nil {
		err = m.Start(ctx, "dying", RunOptions{})
	} else if _, serr := os.Stat(e.m.podDir("dying")); !os.IsNotExist(serr) {
		t.Errorf("the failed Create left its directory: %v", serr)
	}
	if err == nil || !strings.Contains(err.Error(), "the fake pause gives up") {
		t.Errorf("Create and Start with a pause that dies: %v; want what it wrote", err)
	}
}
