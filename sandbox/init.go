package sandbox

import (
	"os"

	// Device rules for containers' cgroups (v1 devices controller, v2 eBPF).
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// nsexec: joins the container's namespaces before the Go runtime starts
	// in "<self> init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
)

// IsInit reports whether this process was started by podbox as something
// else than the program itself: by libcontainer as a container's init
// ("<self> init"), or by RunDetached as a pod's detached monitor ("<self>
// podbox-monitor POD").
func IsInit() bool {
	return len(os.Args) > 1 && (os.Args[1] == "init" || os.Args[1] == MonitorArg)
}

// Init runs what IsInit says this process is: libcontainer's container
// init, or a pod's detached monitor (RunMonitor), then exits. Call it
// first thing in main when IsInit is true; it never returns.
//
//	func main() {
//		if sandbox.IsInit() {
//			sandbox.Init()
//		}
//		...
//	}
func Init() {
	if len(os.Args) > 1 && os.Args[1] == MonitorArg {
		if err := RunMonitor(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	libcontainer.Init()
}
