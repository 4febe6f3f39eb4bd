// Command podbox-monitor is the process podbox run leaves behind as a
// pod's monitor (the library's RunMonitor). It links the sandbox library
// and nothing of the CLI (urfave/cli, the Kubernetes API types, the CRI
// server), so that what every pod keeps resident is small.
package main

import (
	"fmt"
	"os"

	"github.com/podbox/podbox/sandbox"
)

func main() {
	// Started as a pod's monitor (or a container's init), the sandbox
	// package's init has run it and exited before main.
	if sandbox.IsInit() {
		sandbox.Init()
	}
	fmt.Fprintln(os.Stderr, "podbox-monitor: podbox run starts it as a pod's monitor; it is not a command of its own")
	os.Exit(2)
}
