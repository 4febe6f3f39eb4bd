// Package gopause is the pure-Go pause (see package pause for what a pause
// does): bin/pause on other architectures than amd64 or with -tags purego,
// and the pause that package sandbox runs inside the embedder's own program
// when no pause program is found (Options.PauseBinary in sandbox). It is a
// package of its own because the assembly pause must not link os/signal.
package gopause

import (
	"os"
	"os/signal"
	"syscall"

	"github.com/podbox/podbox/pause"
)

// Run is the pure-Go pause. args is the whole argv (args[0] is ignored). It
// returns the exit status: 0 after SIGINT or SIGTERM, or after printing the
// version for "-v".
func Run(args []string) int {
	if len(args) > 1 && args[1] == "-v" {
		if _, err := os.Stdout.WriteString("pause " + pause.Version + "\n"); err != nil {
			return 1
		}
		return 0
	}

	// Separate channels, so that a burst of SIGCHLD never crowds out a
	// SIGTERM. One pending SIGCHLD is enough: reap collects every zombie.
	stop := make(chan os.Signal, 1)
	child := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(child, syscall.SIGCHLD)
	// Last, so that SigIgn in /proc/<pid>/status says the handlers are set.
	signal.Ignore(syscall.SIGHUP, syscall.SIGUSR1)

	reap() // children that exited before the handler was in place
	for {
		select {
		case <-stop:
			return 0
		case <-child:
			reap()
		}
	}
}

// reap collects every child that has exited, without blocking.
// Equivalent to: while (waitpid(-1, NULL, WNOHANG|__WALL) > 0);
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG|syscall.WALL, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
