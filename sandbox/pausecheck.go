package sandbox

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/podbox/podbox/errdefs"
)

// pauseLog is where a pod's pause writes its stderr, in the pod's
// directory: a pause that dies says why there.
const pauseLog = "pause.log"

// openPauseLog opens the pod's pause log for a pause to write to; nil when
// it can not (the pause's stderr then goes nowhere, as before).
func openPauseLog(dir string) *os.File {
	f, err := os.OpenFile(filepath.Join(dir, pauseLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil
	}
	return f
}

// pauseOutput is what the pod's pause wrote to stderr, for an error
// message: "" when nothing.
func pauseOutput(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, pauseLog))
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	if len(b) > 1024 {
		b = b[:1024]
	}
	return " (the pause said: " + string(b) + ")"
}

// pauseChecked are the pause programs found working in this process, by
// path, size and time: checked once.
var pauseChecked sync.Map

// checkPause runs the pause program with -v, which a podbox pause answers
// with "pause <version>" and exit 0, so that a pause built wrong (for
// amd64 without its linker entry, say), or another program, is refused at
// New with what it said rather than failing each pod's creation. It is run
// once per program (path, size and modification time) in a process, and
// once per program on a state root: the answer is kept in root/pause-ok.
func checkPause(root, path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("pause binary: %w", errdefs.With(errdefs.ErrInvalidArgument, err))
	}
	stamp := fmt.Sprintf("%s %d %d\n", path, fi.Size(), fi.ModTime().UnixNano())
	if _, ok := pauseChecked.Load(stamp); ok {
		return nil
	}
	okFile := filepath.Join(root, "pause-ok")
	if b, err := os.ReadFile(okFile); err == nil && string(b) == stamp {
		pauseChecked.Store(stamp, true)
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "-v")
	cmd.Args[0] = "podbox-pause-check"
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	if err == nil && !strings.HasPrefix(stdout.String(), "pause ") {
		err = fmt.Errorf("it printed %q, not \"pause <version>\"", firstLine(stdout.String()))
	}
	if err != nil {
		msg := fmt.Sprintf("pause binary %q does not work as podbox's pause: %s -v: %v", path, path, err)
		if s := strings.TrimSpace(stderr.String()); s != "" {
			msg += ": " + firstLine(s)
		}
		return errdefs.With(errdefs.ErrInvalidArgument, fmt.Errorf("%s (build it with make build, which links bin/pause as it must be; or set Options.PauseBinary to BuiltinPause, or leave it empty)", msg))
	}
	pauseChecked.Store(stamp, true)
	if os.MkdirAll(root, 0o700) == nil {
		writeFileAtomic(okFile, []byte(stamp))
	}
	return nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
