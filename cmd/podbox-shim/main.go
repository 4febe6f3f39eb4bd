// Command podbox-shim is what stays with each pod for its whole life: the
// containers' subreaper and log copier, which starts the pod's lifecycle
// (podbox-monitor) whenever there is work (see package internal/shim). It
// links neither libcontainer nor the sandbox library, so that what every
// pod keeps resident is small. podbox starts it; it is not a command of
// its own.
package main

import (
	"os"

	"github.com/podbox/podbox/internal/shim"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != shim.Arg {
		os.Exit(shim.Main(nil))
	}
	os.Exit(shim.Main(os.Args[2:]))
}
