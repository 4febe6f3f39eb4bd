package sandbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/shim"
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
	// log is the instance's log file (ReopenLog opens it anew).
	log *logWriter
	// done is closed when the process has ended.
	done chan struct{}
	// The lifecycle's own (only its goroutine touches them): stopping is
	// set once a stop began; hookPending while postStart runs; killMsg says
	// why the lifecycle killed it; gate is closed once the startup probe
	// passed; cancelProbes ends the probe workers.
	stopping     bool
	hookPending  bool
	killMsg      string
	gate         chan struct{}
	cancelProbes func()
	// killed: the grace period ran out and it was sent SIGKILL.
	killed atomic.Bool
	// hub is a managed container's attach socket (AttachContainer).
	hub *attachHub
	// shim copies its output (log is nil then); oomBase is its cgroup's
	// OOM kill count before it started.
	shim    *shim.Conn
	oomBase uint64
}

// exitEvent says that an instance's process ended, and how; reap, when
// set, collects the process (onExit calls it).
type exitEvent struct {
	name string
	pid  int
	term Termination
	reap func()
}

// containerDir is where a container's writable layer and root live.
func containerDir(dir, name string) string { return filepath.Join(dir, "containers", name) }

// removeInstance removes what a previous instance of a container left: its
// libcontainer state and its root filesystem overlay. Its cgroup goes with
// the libcontainer state when the container is destroyed, or with the pod.
func removeInstance(dir string, st *PodStatus, name string) error {
	if c, err := libcontainer.Load(runcRoot(dir), name); err == nil {
		c.Destroy()
	}
	if err := os.RemoveAll(filepath.Join(runcRoot(dir), name)); err != nil {
		return err
	}
	if u := st.UserNamespace; u != nil {
		// Its root is mounted outside the pod's directory (userNSRootfs).
		if err := mounts.Unmount(filepath.Join(u.RootfsDir, name)); err != nil {
			return err
		}
	}
	if err := mounts.UnmountUnder(imageMountsDir(dir, name)); err != nil {
		return err
	}
	return mounts.RemoveOverlay(containerDir(dir, name))
}

// imageMountsDir is where a container's image mounts are mounted on the
// host, one directory each, before they are bound into it.
func imageMountsDir(dir, name string) string {
	return filepath.Join(containerDir(dir, name), "image-mounts")
}

// mountImages mounts the container's image mounts (BindMount.ImageLayers)
// under imageMountsDir and returns its config with their Source set to
// them (or to their SubPath inside, which must exist: an image is never
// written). removeInstance unmounts them.
func mountImages(dir string, cfg *ContainerConfig) (*ContainerConfig, error) {
	has := false
	for _, m := range cfg.Mounts {
		has = has || len(m.ImageLayers) > 0
	}
	if !has {
		return cfg, nil
	}
	c := *cfg
	c.Mounts = slices.Clone(cfg.Mounts)
	for i := range c.Mounts {
		m := &c.Mounts[i]
		if len(m.ImageLayers) == 0 {
			continue
		}
		target := filepath.Join(imageMountsDir(dir, cfg.Name), strconv.Itoa(i))
		if err := mounts.MountImageVolume(m.ImageLayers, target); err != nil {
			return nil, fmt.Errorf("image mount %s: %w", m.Target, err)
		}
		m.Source = target
		if m.SubPath != "" {
			p, err := mounts.ResolveSubPath(target, m.SubPath)
			if err != nil {
				return nil, fmt.Errorf("image mount %s: %w", m.Target, err)
			}
			m.Source = p
		}
	}
	return &c, nil
}

// startInstance mounts a container's root, creates it through libcontainer
// and runs its process with stdout and stderr going to the log file at
// logPath in the CRI format; it returns once the process has been exec'd.
// The instance's exit is sent on exits.
func startInstance(dir string, st *PodStatus, cfg *ContainerConfig, cgroupPath, logPath string, ex instanceExtras, exits chan<- exitEvent) (_ *instance, retErr error) {
	if err := removeInstance(dir, st, cfg.Name); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			removeInstance(dir, st, cfg.Name)
		}
	}()
	lowers := cfg.RootfsLayers
	if len(lowers) == 0 {
		lowers = []string{cfg.Rootfs}
	}
	var rootfs string
	var err error
	if st.UserNamespace != nil {
		rootfs, err = userNSRootfs(dir, st, cfg, lowers)
	} else {
		rootfs, err = mounts.CreateOverlayLayers(lowers, containerDir(dir, cfg.Name))
	}
	if err != nil {
		return nil, err
	}
	podNS := map[configs.NamespaceType]string{}
	for _, ns := range namespaceKinds {
		if p, ok := st.Namespaces[ns.kind]; ok {
			podNS[ns.typ] = p
		}
	}
	if ex.pidNS != "" {
		podNS[configs.NEWPID] = ex.pidNS
	}
	files := map[string]string{}
	for _, target := range podFiles {
		if _, err := os.Stat(podFile(dir, target)); err == nil {
			files[target] = podFile(dir, target)
		}
	}
	if cfg, err = mountImages(dir, cfg); err != nil {
		return nil, err
	}
	vols, err := volumeMounts(dir, st, cfg)
	if err != nil {
		return nil, err
	}
	sc, err := seccompConfig(dir, cfg, capabilities(cfg))
	if err != nil {
		return nil, err
	}
	lcfg := libcontainerConfig(containerSpec{
		ctr: cfg, rootfs: rootfs, cgroupPath: cgroupPath, podNS: podNS, shm: filepath.Join(dir, "shm"), files: files,
		volumes: vols, seccomp: sc, cgroupns: cgroups.IsV2(), userns: st.UserNamespace,
		hostPID: st.Config.HostPID && ex.pidNS == "",
	})
	cgroups.LoadPod(st.CgroupPath).ContainerResources(lcfg.Cgroups.Resources, st.AllowSwap)
	tm, err := terminationMount(dir, cfg)
	if err != nil {
		return nil, err
	}
	if tm != nil {
		lcfg.Mounts = append(lcfg.Mounts, tm)
	}
	c, err := libcontainer.Create(runcRoot(dir), cfg.Name, lcfg)
	if err != nil {
		return nil, err
	}
	crashPoint("container-created")
	maxSize := st.LogMaxSize
	if cfg.LogPath != "" {
		maxSize = -1 // rotated by whoever set it
	}
	logf, err := openLog(logPath, maxSize, st.LogMaxFiles)
	if err != nil {
		return nil, err
	}
	uid, gid := cfg.ids()
	p := &libcontainer.Process{
		Args: cfg.expandedArgv(st),
		Env:  withDefaultPath(envList(cfg.Env, st)),
		Cwd:  cfg.WorkingDir,
		UID:  uid,
		GID:  gid,
		Init: true,
	}
	p.AdditionalGroups = cfg.groups(&st.Config)
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	streams, err := containerStdio(p, cfg)
	if err != nil {
		logf.Close()
		return nil, err
	}
	if ex.attach != nil {
		p.ConsoleWidth, p.ConsoleHeight = ex.attach.width, ex.attach.height
	}
	// The count before the start: an OOM kill during it is this instance's.
	// A cgroup that does not exist yet has counted none.
	oomBase, _ := cgroups.OOMKillCount(cgroupPath)
	err = c.Run(p)
	if err == nil {
		err = streams.started()
	}
	if err != nil {
		streams.close()
		logf.Close()
		return nil, err
	}
	in := &instance{name: cfg.Name, c: c, p: p, started: time.Now().UTC(), done: make(chan struct{}), log: logf, oomBase: oomBase}
	in.pid, _ = p.Pid()
	if a := ex.attach; a != nil {
		// The attached client's input goes to the terminal, or to stdin
		// until the client closes it (Kubernetes' stdinOnce).
		if master := streams.out["stdout"]; cfg.TTY && master != nil {
			go io.Copy(master.(io.Writer), a.in)
		} else if streams.stdin != nil {
			go func(w *os.File) { io.Copy(w, a.in); w.Close() }(streams.stdin)
		}
		for stream, r := range streams.out {
			streams.out[stream] = teeReader{r, a.conn}
		}
	}
	if cs := st.container(cfg.Name); st.Config.Managed && cs != nil && cs.Kind == KindApp {
		// Clients may attach to it while it runs (AttachContainer).
		var stdin io.WriteCloser
		if master := streams.out["stdout"]; cfg.TTY && master != nil {
			stdin = master.(*os.File)
		} else if streams.stdin != nil {
			stdin = streams.stdin
		}
		hub, err := listenAttach(dir, cfg.Name, stdin, cfg.StdinOnce)
		if err != nil {
			c.Signal(unix.SIGKILL)
			streams.close()
			logf.Close()
			return nil, err
		}
		in.hub = hub
		frames := map[string]byte{"stdout": frameStdout, "stderr": frameStderr}
		for stream, r := range streams.out {
			streams.out[stream] = teeReader{r, hub.writer(frames[stream])}
		}
	}
	// Under a shim, the plain pipes' output is the shim's to copy, so that
	// the lifecycle may exit while the container runs; a terminal, stdin
	// or an attached client keep it here.
	if sc := ex.shim; sc != nil && ex.attach == nil && in.hub == nil && !cfg.TTY && !cfg.Stdin {
		names := []string{"stdout", "stderr"}
		files := []*os.File{streams.out["stdout"].(*os.File), streams.out["stderr"].(*os.File)}
		size, n := logLimits(maxSize, st.LogMaxFiles)
		if err := sc.Logs(in.pid, cfg.Name, logPath, size, n, names, files); err == nil {
			streams.out = map[string]io.ReadCloser{}
			logf.Close()
			in.log, in.shim = nil, sc
		}
	}
	for stream, r := range streams.out {
		in.logs.Add(1)
		go func() { defer in.logs.Done(); in.log.CopyLines(stream, r) }()
	}
	go func() {
		// Seen, not collected: the lifecycle may exit (idle, under a
		// shim) before it handles this end; its zombie then goes to the
		// shim, which tells the next lifecycle how it ended.
		code, reason := waitExit(in.pid)
		finished := time.Now().UTC()
		if n, err := cgroups.OOMKillCount(cgroupPath); err == nil && n > oomBase && code == 128+int(unix.SIGKILL) {
			reason = ReasonOOMKilled
		}
		// The init is gone; with a shared PID namespace its children are
		// not: end them too, so that the log pipes close.
		c.Signal(unix.SIGKILL)
		in.logs.Wait()
		if in.shim != nil {
			if err := in.shim.Drain(in.pid, 10*time.Second); err != nil {
				fmt.Fprintf(os.Stderr, "podbox: log of container %q: %v\n", cfg.Name, err)
			}
		}
		if in.hub != nil {
			in.hub.close()
		}
		streams.close()
		logf.Close()
		close(in.done)
		if ex.attach != nil {
			ex.attach.conn.Close() // the client sees the end of the output
		}
		ev := exitEvent{name: cfg.Name, pid: in.pid, term: Termination{
			ExitCode: code, Reason: reason, StartedAt: in.started, FinishedAt: finished,
		}}
		if in.shim == nil {
			exits <- ev
			p.Wait() // collected now that the lifecycle has its end
			return
		}
		// Under a shim, collected once the lifecycle handled the end
		// (onExit): one that leaves the pod to the shim before leaves the
		// zombie to the shim too, which tells the next lifecycle.
		ev.reap = func() { p.Wait() }
		exits <- ev
	}()
	return in, nil
}

// waitExit waits for the end of pid, a child of this process, without
// collecting it, and returns its exit code (128+signal for a signal) and
// reason.
func waitExit(pid int) (int, string) {
	for {
		var si unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &si, unix.WEXITED|unix.WNOWAIT, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return -1, ReasonUnknown
		}
		return siginfoStatus(&si)
	}
}

// siginfoStatus reads waitid's answer: si_code (CLD_EXITED, CLD_KILLED,
// CLD_DUMPED) and si_status, at their offsets in the kernel's siginfo.
func siginfoStatus(si *unix.Siginfo) (int, string) {
	b := (*[128]byte)(unsafe.Pointer(si))
	code := int32(binary.NativeEndian.Uint32(b[8:]))
	status := int(int32(binary.NativeEndian.Uint32(b[24:])))
	const cldExited = 1
	return statusCode(code != cldExited, status)
}

// statusCode turns an exit (signaled: the signal's number) into the
// container's exit code and reason.
func statusCode(signaled bool, n int) (int, string) {
	if signaled {
		n += 128
	}
	if n == 0 {
		return 0, ReasonCompleted
	}
	return n, ReasonError
}

// waitStatusCode is statusCode of a wait status.
func waitStatusCode(ws unix.WaitStatus) (int, string) {
	if ws.Signaled() {
		return statusCode(true, int(ws.Signal()))
	}
	return statusCode(false, ws.ExitStatus())
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

// envList renders a container's variables as KEY=value, resolving field
// references against the pod.
func envList(vars []EnvVar, st *PodStatus) []string {
	env := make([]string, 0, len(vars))
	index := map[string]int{}
	defined := map[string]string{}
	for _, v := range vars {
		val := envValue(v, st)
		if v.Expand {
			val = expandRefs(val, defined)
		}
		defined[v.Name] = val
		kv := v.Name + "=" + val
		// A later variable of the same name wins, in the first one's place.
		if i, ok := index[v.Name]; ok {
			env[i] = kv
			continue
		}
		index[v.Name] = len(env)
		env = append(env, kv)
	}
	return env
}

// expandedArgv is the container's process, with ExpandCommand its
// $(NAME) references to its variables expanded, as the kubelet expands
// command and args.
func (c *ContainerConfig) expandedArgv(st *PodStatus) []string {
	argv := c.argv()
	if !c.ExpandCommand {
		return argv
	}
	vars := map[string]string{}
	for _, kv := range envList(c.Env, st) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	for i := range argv {
		argv[i] = expandRefs(argv[i], vars)
	}
	return argv
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

// stdio is a container's standard streams on our side: what it writes, by
// stream name, and what keeps its stdin open.
type stdio struct {
	out     map[string]io.ReadCloser
	keep    []io.Closer // our ends the container must not see closed
	child   []io.Closer // its ends, closed here once it runs
	console *os.File    // where libcontainer sends a TTY's master
	stdin   *os.File    // our end of the stdin pipe, with Stdin
}

// instanceExtras are what an ephemeral container's instance takes besides
// its configuration: the PID namespace of its target container, and the
// client attached to it from its start.
type instanceExtras struct {
	pidNS  string
	attach *attachment
	// shim: the lifecycle runs under a shim, which may copy the output.
	shim *shim.Conn
}

// teeReader copies what the container writes to an attached client as the
// log reads it; a client that went away costs the log nothing.
type teeReader struct {
	io.ReadCloser
	w io.Writer
}

func (t teeReader) Read(p []byte) (int, error) {
	n, err := t.ReadCloser.Read(p)
	if n > 0 {
		t.w.Write(p[:n])
	}
	return n, err
}

// containerStdio gives the container its streams: pipes for stdout and
// stderr into the log; with Stdin, a pipe held open (nothing is attached:
// the process waits for input instead of reading end-of-file); with TTY, a
// terminal whose output goes to the log as stdout.
func containerStdio(p *libcontainer.Process, cfg *ContainerConfig) (_ *stdio, retErr error) {
	s := &stdio{out: map[string]io.ReadCloser{}}
	defer func() {
		if retErr != nil {
			s.close()
		}
	}()
	if cfg.TTY {
		parent, child, err := utils.NewSockPair("console")
		if err != nil {
			return nil, err
		}
		s.console = parent
		s.child = append(s.child, child)
		p.ConsoleSocket = child
		return s, nil
	}
	for _, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		s.out[stream] = r
		s.child = append(s.child, w)
		if stream == "stdout" {
			p.Stdout = w
		} else {
			p.Stderr = w
		}
	}
	if cfg.Stdin {
		r, w, err := os.Pipe()
		if err != nil {
			return nil, err
		}
		p.Stdin = r
		s.child = append(s.child, r)
		s.keep = append(s.keep, w)
		s.stdin = w
	}
	return s, nil
}

// started closes the container's ends of the streams (it holds its own
// copies) and, for a TTY, receives the terminal's master.
func (s *stdio) started() error {
	for _, c := range s.child {
		c.Close()
	}
	s.child = nil
	if s.console != nil {
		master, err := recvFile(s.console)
		s.console.Close()
		s.console = nil
		if err != nil {
			return fmt.Errorf("container terminal: %w", err)
		}
		s.out["stdout"] = master
	}
	return nil
}

func (s *stdio) close() {
	for _, list := range [][]io.Closer{s.child, s.keep} {
		for _, c := range list {
			c.Close()
		}
	}
	for _, r := range s.out {
		r.Close()
	}
	if s.console != nil {
		s.console.Close()
	}
}
