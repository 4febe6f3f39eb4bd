package sandbox

import (
	"os"
	"strings"

	// Device rules for containers' cgroups (v1 devices controller, v2 eBPF).
	_ "github.com/opencontainers/cgroups/devices"
	"github.com/opencontainers/runc/libcontainer"
	// nsexec: joins the container's namespaces before the Go runtime starts
	// in "<self> init".
	_ "github.com/opencontainers/runc/libcontainer/nsenter"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/pause/gopause"
)

// init runs the hook before the embedder's main, as runc's main package
// does in its own init: a container's init and a pod's detached monitor
// are this program re-executed, and must never run the embedder's main.
// So the hook can not be forgotten; a main that calls Init too is fine.
func init() {
	if IsInit() {
		Init()
	}
}

// monitorEnv marks a process that StartMonitor started as a pod's monitor.
const monitorEnv = "_PODBOX_MONITOR"

// pauseEnv marks a process that the Manager started as a pod's built-in
// pause (its argv[0] is "podbox-pause:<pod dir>", see pauseArgv0).
const pauseEnv = "_PODBOX_PAUSE"

// isPause reports whether this process is a pod's built-in pause.
func isPause() bool {
	return len(os.Args) > 0 && strings.HasPrefix(os.Args[0], "podbox-pause:") && os.Getenv(pauseEnv) == "1"
}

// IsInit reports whether this process was started by podbox as something
// else than the program itself: by libcontainer as a container's init
// ("<self> init", with libcontainer's init pipe in its environment), by
// RunDetached as a pod's detached monitor ("<self> podbox-monitor POD"),
// or by Create as a pod's built-in pause (see Options.PauseBinary). A
// program's own "init" verb is not taken for one.
func IsInit() bool {
	if isPause() {
		return true
	}
	if len(os.Args) < 2 {
		return false
	}
	switch os.Args[1] {
	case "init":
		return os.Getenv("_LIBCONTAINER_INITPIPE") != ""
	case MonitorArg:
		return os.Getenv(monitorEnv) == "1"
	}
	return false
}

// Init runs what IsInit says this process is: libcontainer's container
// init, a pod's detached monitor (RunMonitor) or a pod's built-in pause
// (package gopause), then exits; it never returns. The package's own init function calls it, before the program's
// main runs; calling it first thing in main as well, when IsInit is true,
// is harmless and says what happens:
//
//	func main() {
//		if sandbox.IsInit() {
//			sandbox.Init()
//		}
//		...
//	}
func Init() {
	if isPause() {
		// Not dumpable: a container sharing the pod's PID namespace, which
		// sees this process, can not open its /proc/<pid>/exe (this very
		// program) or its memory without CAP_SYS_PTRACE.
		unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
		os.Exit(gopause.Run(os.Args))
	}
	if len(os.Args) > 1 && os.Args[1] == MonitorArg {
		if err := RunMonitor(); err != nil {
			os.Exit(1)
		}
		os.Exit(0)
	}
	libcontainer.Init()
}
