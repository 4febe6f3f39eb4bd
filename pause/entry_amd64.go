//go:build !purego

package pause

//lint:file-ignore U1000 these are reached only from the linker (-E) and from entry_amd64.s

// Implemented in entry_amd64.s. None of them may be called from Go: they run
// without the Go runtime, with no g and on the kernel's stack.

// asmentry is the program's entry point when linked with
// -ldflags=-E=github.com/podbox/podbox/pause.asmentry.
func asmentry()

// onterm is the SIGINT and SIGTERM handler: exit_group(0).
func onterm()

// onchld is the SIGCHLD handler: reap every zombie child.
func onchld()

// sigreturn is the handlers' SA_RESTORER: rt_sigreturn().
func sigreturn()
