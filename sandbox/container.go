package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/mounts"
)

// instance is one run of a container: its libcontainer container, its
// process, and the goroutines that copy its output into the log.
type instance struct {
	name    string
	c       *libcontainer.Container
	p       *libcontainer.Process
	pid     int
	started time.Time
	logs    sync.WaitGroup
}

// exitEvent says that an instance's process ended, and how.
type exitEvent struct {
	name string
	pid  int
	term Termination
}

// containerDir is where a container's writable layer and root live.
func containerDir(dir, name string) string { return filepath.Join(dir, "containers", name) }

// LogPath is the log file of a container instance: one file per restart, so
// that the previous instance's log is kept (as the kubelet keeps
// /var/log/pods/.../CTR/N.log).
func LogPath(podDir, ctr string, restart int) string {
	return filepath.Join(podDir, "logs", ctr, strconv.Itoa(restart)+".log")
}

// removeInstance removes what a previous instance of a container left: its
// libcontainer state and its root filesystem overlay. Its cgroup goes with
// the libcontainer state when the container is destroyed, or with the pod.
func removeInstance(dir, name string) error {
	if c, err := libcontainer.Load(runcRoot(dir), name); err == nil {
		c.Destroy()
	}
	if err := os.RemoveAll(filepath.Join(runcRoot(dir), name)); err != nil {
		return err
	}
	return mounts.RemoveOverlay(containerDir(dir, name))
}

// startInstance mounts a container's root, creates it through libcontainer
// and runs its process with stdout and stderr going to the log file at
// logPath in the CRI format; it returns once the process has been exec'd.
// The instance's exit is sent on exits.
func startInstance(dir string, st *PodStatus, cfg *ContainerConfig, cgroupPath, logPath string, exits chan<- exitEvent) (_ *instance, retErr error) {
	if err := removeInstance(dir, cfg.Name); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			removeInstance(dir, cfg.Name)
		}
	}()
	rootfs, err := mounts.CreateOverlay(cfg.Rootfs, containerDir(dir, cfg.Name))
	if err != nil {
		return nil, err
	}
	podNS := map[configs.NamespaceType]string{}
	for _, ns := range namespaceKinds {
		if p, ok := st.Namespaces[ns.kind]; ok {
			podNS[ns.typ] = p
		}
	}
	files := map[string]string{}
	for _, target := range podFiles {
		if _, err := os.Stat(podFile(dir, target)); err == nil {
			files[target] = podFile(dir, target)
		}
	}
	vols, err := volumeMounts(dir, st, cfg)
	if err != nil {
		return nil, err
	}
	lcfg := libcontainerConfig(containerSpec{
		ctr: cfg, rootfs: rootfs, cgroupPath: cgroupPath, podNS: podNS, shm: filepath.Join(dir, "shm"), files: files,
		volumes: vols,
	})
	c, err := libcontainer.Create(runcRoot(dir), cfg.Name, lcfg)
	if err != nil {
		return nil, err
	}
	crashPoint("container-created")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		logf.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	p := &libcontainer.Process{
		Args:   cfg.argv(),
		Env:    withDefaultPath(envList(cfg.Env, st)),
		Cwd:    cfg.WorkingDir,
		UID:    cfg.UID,
		GID:    cfg.GID,
		Stdout: outW,
		Stderr: errW,
		Init:   true,
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	err = c.Run(p)
	// The container holds its own copies of the write ends.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		logf.Close()
		return nil, err
	}
	in := &instance{name: cfg.Name, c: c, p: p, started: time.Now().UTC()}
	in.pid, _ = p.Pid()
	oomBase, _ := cgroups.OOMKillCount(cgroupPath)
	lw := &criWriter{f: logf}
	in.logs.Add(2)
	go func() { defer in.logs.Done(); lw.copyLines("stdout", outR) }()
	go func() { defer in.logs.Done(); lw.copyLines("stderr", errR) }()
	go func() {
		ps, _ := p.Wait()
		finished := time.Now().UTC()
		code, reason := exitStatus(ps)
		if n, err := cgroups.OOMKillCount(cgroupPath); err == nil && n > oomBase && code == 128+int(unix.SIGKILL) {
			reason = ReasonOOMKilled
		}
		// The init is gone; with a shared PID namespace its children are
		// not: end them too, so that the log pipes close.
		c.Signal(unix.SIGKILL)
		in.logs.Wait()
		logf.Close()
		exits <- exitEvent{name: cfg.Name, pid: in.pid, term: Termination{
			ExitCode: code, Reason: reason, StartedAt: in.started, FinishedAt: finished,
		}}
	}()
	return in, nil
}

func exitStatus(ps *os.ProcessState) (int, string) {
	if ps == nil {
		return -1, ReasonUnknown
	}
	ws, ok := ps.Sys().(syscall.WaitStatus)
	code := ps.ExitCode()
	if ok && ws.Signaled() {
		code = 128 + int(ws.Signal())
	}
	if code == 0 {
		return 0, ReasonCompleted
	}
	return code, ReasonError
}

// criWriter writes a container's output in the CRI log format the kubelet
// uses: "<RFC3339Nano time> <stream> <F|P> <line>", P for a part of a line
// longer than the buffer.
type criWriter struct {
	mu sync.Mutex
	f  *os.File
}

const maxLogLine = 16 * 1024

func (w *criWriter) copyLines(stream string, r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLogLine)
	for {
		line, isPrefix, err := br.ReadLine()
		if len(line) > 0 || (err == nil && !isPrefix) {
			tag := "F"
			if isPrefix {
				tag = "P"
			}
			w.mu.Lock()
			fmt.Fprintf(w.f, "%s %s %s %s\n", time.Now().UTC().Format(time.RFC3339Nano), stream, tag, line)
			w.mu.Unlock()
		}
		if err != nil {
			return
		}
	}
}

// envList renders a container's variables as KEY=value, resolving field
// references against the pod.
func envList(vars []EnvVar, st *PodStatus) []string {
	env := make([]string, 0, len(vars))
	for _, v := range vars {
		val := v.Value
		switch v.FieldPath {
		case "metadata.name":
			val = st.Name
		case "metadata.namespace":
			val = st.Config.Namespace
		case "status.podIP":
			val = st.PodIP
		}
		env = append(env, v.Name+"="+val)
	}
	return env
}

// withDefaultPath adds a PATH when env has none.
func withDefaultPath(env []string) []string {
	for _, e := range env {
		if strings.HasPrefix(e, "PATH=") {
			return env
		}
	}
	return append([]string{defaultPath}, env...)
}
