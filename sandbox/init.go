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

// IsInit reports whether this process was started by libcontainer as a
// container's init ("<self> init").
func IsInit() bool { return len(os.Args) > 1 && os.Args[1] == "init" }

// Init runs libcontainer's container init. Call it first thing in main when
// IsInit is true; it never returns.
func Init() { libcontainer.Init() }
