// Package pause is the pause program: the tiny process that holds a pod's
// namespaces for as long as the pod lives.
//
// It does what Kubernetes' pause does:
//   - it exits 0 on SIGINT and SIGTERM, from outside its PID namespace or
//     from inside (a PID 1 ignores signals it has no handler for, so the
//     handlers are real ones);
//   - when it is PID 1 of a PID namespace it reaps every child that becomes a
//     zombie (on SIGCHLD, wait4(-1, WNOHANG) until none is left);
//   - SIGHUP and SIGUSR1 are ignored;
//   - "-v" as argv[1] prints "pause <Version>" and exits 0; argv[0] is never
//     looked at (the sandbox sets it to "podbox-pause:<podid>"), other
//     arguments are ignored;
//   - otherwise it never exits and uses no CPU: it blocks in the kernel.
//
// Readiness can be read from /proc/<pid>/status: SIGHUP and SIGUSR1 are set
// to ignored last, so once SigIgn shows them, the INT, TERM and CHLD handlers
// are in place.
//
// There are two implementations of the same behaviour. On linux/amd64,
// bin/pause is linked with -ldflags=-E=github.com/podbox/podbox/pause.asmentry
// (see the Makefile): the program starts in entry_amd64.s, which does raw
// system calls and never starts the Go runtime (one thread, a few pages
// resident). Everywhere else, and on amd64 with the build tag purego,
// cmd/pause calls gopause.Run, the pure-Go implementation (package
// gopause), which package sandbox also runs inside its embedder's own
// program when it finds no pause program.
//
// The two are kept apart by build tags because the linker keeps the init
// functions of every package in the program even when it starts at -E: the
// assembly build must not import os/signal, or it grows by ~0.3 MB. On amd64
// without purego, cmd/pause therefore refuses to run if linked without -E.
package pause

// Version is printed by "pause -v". The Makefile sets it with
// -X github.com/podbox/podbox/pause.Version=...; the assembly entry reads the
// same string.
var Version = "dev"
