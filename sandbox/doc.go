// Package sandbox is podbox's library API: it turns a pod configuration into
// running processes and takes them apart again without a trace.
//
// A pod is a pause process holding new network, IPC and UTS namespaces (and
// a PID namespace when the pod shares one), pinned by bind mounts under the
// state root so they outlive it; a pod cgroup carrying the pod's memory
// quota; and containers, created through runc's libcontainer, that join
// those namespaces by path while each gets its own mount namespace and root
// filesystem (an overlay over the read-only image directory, or over an
// image's layer directories).
//
// # Images
//
// With Options.Images set to an image store, Create resolves each
// container's Image itself (ResolveImages: layers, USER, entrypoint and
// cmd, env, workingDir, the Kubernetes way) and holds a lease on the
// images until Remove, so the store never deletes what a pod runs from.
// PullImages fetches them first, by each container's ImagePullPolicy.
// Without a store the caller fills Rootfs (or RootfsLayers) and the rest;
// image.Store.Merge completes a container from an image the same way.
//
// # Embedding
//
// libcontainer starts a container by re-executing the current binary as
// "<self> init" (runc's "runc init"), in which the C constructor of
// libcontainer's nsenter package joins the namespaces before the Go runtime
// starts; a detached monitor (RunDetached) is the current binary too,
// "<self> podbox-monitor POD". A program that uses this package therefore
// must:
//
//   - be built with cgo (CGO_ENABLED=1, the default with a C compiler) and
//     the build tag seccomp (go build -tags seccomp, with libseccomp-dev
//     installed), which links libcontainer's seccomp support: every
//     container gets the RuntimeDefault profile unless it says Unconfined,
//     and without the tag such a container fails to start with
//     [ErrNoSeccomp];
//   - let the re-executed binary be what it is asked to be: this package's
//     init function calls [Init] when [IsInit] holds, before main runs, so
//     nothing is to be done; a main that calls it first thing as well, as
//     podbox's does, says so to its reader;
//   - link the nsenter and cgroups devices packages. This package imports
//     both (github.com/opencontainers/runc/libcontainer/nsenter and
//     github.com/opencontainers/cgroups/devices), so importing sandbox is
//     enough; they are named here so that nobody removes them;
//   - nothing for the pause that holds each pod's namespaces: New takes
//     podbox's pause program where it finds one that answers -v as podbox's
//     ("pause" beside the executable, in ../libexec/podbox, or
//     "podbox-pause" or "pause" on PATH), else [BuiltinPause]: the program
//     itself re-executed, which this package's init function turns into
//     the pure-Go pause of package gopause. The built-in pause costs each
//     pod ~3 MB of anonymous memory and 6 threads (counted in the pod's
//     pids limit) where bin/pause costs 16 kB and 1 (docs/benchmarks.md).
//     To ship bin/pause, build it with make build (on amd64 it must be
//     linked with its assembly entry,
//     -ldflags=-E=github.com/podbox/podbox/pause.asmentry, or built with
//     -tags purego) and name it in Options.PauseBinary: New runs it with
//     -v and refuses one that does not answer as podbox's pause, with what
//     it said, rather than fall back.
//
// The process that starts containers becomes a child subreaper (as `runc
// run` does), because the containers' processes are its grandchildren. It
// must run as root. Being a subreaper is process-wide: orphans of the
// program's own children come to it too; [Reap] collects those that
// nobody waits for.
//
// # Starting
//
// A pod is a [PodConfig] (spec.Parse makes one from a v1.Pod manifest),
// made by [Manager.Create] and run by a lifecycle: in this process with
// [Manager.Run] (blocking) or [Manager.Start] (in the background), or in a
// detached monitor that outlives this process with [Manager.RunDetached].
// Whoever runs it, the pod has one lifecycle: [Manager.Stop] and
// [Manager.Remove] from any process ask it to stop. After a restart,
// [Manager.Recover] takes on the pods whose in-process lifecycle died with
// the previous process (those of detached monitors run on).
//
//	m, err := sandbox.New(sandbox.Options{Images: store}) // defaults: /run/podbox, /podbox, podbox0
//	_, err = m.Create(ctx, cfg)
//	ref := sandbox.PodRef(cfg.Namespace, cfg.Name) // "NAMESPACE/NAME"; every method takes it
//	err = m.RunDetached(ctx, ref, sandbox.RunOptions{})
//	err = m.WaitStarted(ctx, ref, nil)
//	events, err := m.Events(ctx)      // starts, exits (code, reason), phases, removals
//	logs, err := m.Logs(ctx, ref, "app", sandbox.LogOptions{Follow: true})
//	code, err := m.Exec(ctx, ref, "app", &sandbox.ExecProcess{Args: []string{"ls"}, Stdout: os.Stdout})
//	stats, err := m.Stats(ctx, ref)   // CPU, memory, pids of the pod and each container
//	err = m.Update(ctx, ref, "app", sandbox.Resources{MemoryLimit: &limit})
//	err = m.Stop(ctx, ref, -1)        // the pod's grace period
//	err = m.Remove(ctx, ref, false)
//
// Errors match the classes of package errdefs with errors.Is (a pod that
// does not exist is errdefs.ErrNotFound, one that runs when it should not
// errdefs.ErrFailedPrecondition, ...), whichever package they come from.
// examples/embed in podbox's repository is a whole program, with its own
// go.mod.
package sandbox
