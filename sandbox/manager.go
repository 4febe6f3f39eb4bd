package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/mounts"
	"github.com/podbox/podbox/netns"
)

// Options say where a Manager keeps its pods. Every host-visible name
// derives from them, so that two Managers with different options (tests,
// several embedders) never see each other's pods.
type Options struct {
	// Root is the state root; default /run/podbox.
	Root string
	// CgroupParent is the absolute cgroup path under which pod cgroups are
	// made; default /podbox.
	CgroupParent string
	// PauseBinary is the path of the pause program; default "pause" beside
	// the running executable, else "podbox-pause" or "pause" on PATH.
	PauseBinary string
}

// Manager creates, starts, stops and removes pods under one state root. A
// Manager is safe for concurrent use; several processes may use Managers on
// the same root at once (each pod's state is guarded by a lock).
type Manager struct {
	opts Options

	subreaper sync.Once
	mu        sync.Mutex
	// watched holds the containers this process started, keyed "pod/ctr".
	watched map[string]*watcher
}

// watcher follows one container process that this process started.
type watcher struct {
	exited   chan struct{} // closed when the process has been waited for
	recorded chan struct{} // closed when its exit is in the pod's state
}

// New returns a Manager for opts.
func New(opts Options) (*Manager, error) {
	if opts.Root == "" {
		opts.Root = "/run/podbox"
	}
	if opts.CgroupParent == "" {
		opts.CgroupParent = "/podbox"
	}
	if !filepath.IsAbs(opts.Root) {
		return nil, fmt.Errorf("state root %q is not an absolute path", opts.Root)
	}
	if !filepath.IsAbs(opts.CgroupParent) {
		return nil, fmt.Errorf("cgroup parent %q is not an absolute path (a relative one would nest under the caller's own cgroup)", opts.CgroupParent)
	}
	opts.CgroupParent = filepath.Clean(opts.CgroupParent)
	if opts.PauseBinary == "" {
		p, err := findPause()
		if err != nil {
			return nil, err
		}
		opts.PauseBinary = p
	}
	return &Manager{opts: opts, watched: map[string]*watcher{}}, nil
}

func findPause() (string, error) {
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "pause")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	for _, name := range []string{"podbox-pause", "pause"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("pause binary not found beside the executable nor on PATH: set Options.PauseBinary")
}

func (m *Manager) podDir(name string) string { return filepath.Join(m.opts.Root, "pods", name) }
func (m *Manager) cgroupPath(name string) string {
	return m.opts.CgroupParent + "/" + name
}

// runcRoot is libcontainer's state root for the pod's containers.
func runcRoot(dir string) string { return filepath.Join(dir, "runc") }

// pauseArgv0 names the pod's directory in the pause's argv[0], so the pause
// of a pod is found (and attributed, e.g. by leak checks) even when its PID
// was never written down.
func pauseArgv0(dir string) string { return "podbox-pause:" + dir }

const (
	pauseCgroup = "pause"
	shmSize     = "65536k" // 64 MiB, as containerd
)

// namespaceKinds are the namespaces a pod holds, with the clone flag that
// makes each and libcontainer's name for it.
var namespaceKinds = []struct {
	kind string
	flag uintptr
	typ  configs.NamespaceType
}{
	{"net", unix.CLONE_NEWNET, configs.NEWNET},
	{"ipc", unix.CLONE_NEWIPC, configs.NEWIPC},
	{"uts", unix.CLONE_NEWUTS, configs.NEWUTS},
	{"pid", unix.CLONE_NEWPID, configs.NEWPID},
}

// Create makes the pod's sandbox: its state directory, pod cgroup (with the
// memory quota), the pause process in new network, IPC and UTS namespaces
// (and PID when shared), the pinned namespaces, hostname and /dev/shm. No
// container runs yet. On failure everything made so far is taken apart and
// the first error is returned.
func (m *Manager) Create(ctx context.Context, cfg *PodConfig) (_ *PodStatus, retErr error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dir := m.podDir(cfg.Name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, ErrExist)
		}
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	defer func() {
		if retErr != nil {
			// Undo with a context of its own: the caller's may be cancelled.
			if err := m.teardown(context.Background(), cfg.Name); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("undo: %w", err))
			}
		}
	}()
	l, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	defer l.unlock()

	st := &PodStatus{
		Name:       cfg.Name,
		Phase:      PhaseUnknown,
		Created:    time.Now().UTC(),
		CgroupPath: m.cgroupPath(cfg.Name),
		Config:     *cfg,
		Namespaces: map[string]string{},
	}
	for _, c := range cfg.Containers {
		st.Containers = append(st.Containers, ContainerStatus{
			Name: c.Name, State: StateWaiting, Reason: "ContainerCreating",
			CgroupPath: st.CgroupPath + "/" + c.Name,
		})
	}
	if err := writeState(dir, st); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	crashPoint("state-written")
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	pod, err := cgroups.CreatePod(st.CgroupPath, cfg.MemoryLimit)
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	crashPoint("cgroup-created")
	shm := mounts.Mount{Type: "tmpfs", Source: "shm", Target: filepath.Join(dir, "shm"),
		Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=" + shmSize}}
	if err := shm.Mount(); err != nil {
		return nil, fmt.Errorf("create pod %q: /dev/shm: %w", cfg.Name, err)
	}

	pid, start, err := m.startPause(dir, cfg.ShareProcessNamespace)
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	st.PausePID, st.PauseStart = pid, start
	crashPoint("pause-started")
	if err := pod.Join(pauseCgroup, pid); err != nil {
		return nil, fmt.Errorf("create pod %q: move pause into its cgroup: %w", cfg.Name, err)
	}
	for _, ns := range namespaceKinds {
		if ns.kind == "pid" && !cfg.ShareProcessNamespace {
			continue
		}
		p := filepath.Join(dir, "ns", ns.kind)
		if err := netns.Pin(pid, ns.kind, p); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
		st.Namespaces[ns.kind] = p
	}
	crashPoint("namespaces-pinned")
	if err := netns.LoopbackUp(st.Namespaces["net"]); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	if err := setHostname(st.Namespaces["uts"], cfg.hostname()); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	st.Phase = PhaseCreated
	if err := writeState(dir, st); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	return st, nil
}

// startPause starts the pause program in the pod's new namespaces, in a
// session of its own so that no terminal signal reaches it.
func (m *Manager) startPause(dir string, sharePID bool) (int, uint64, error) {
	var flags uintptr
	for _, ns := range namespaceKinds {
		if ns.kind != "pid" || sharePID {
			flags |= ns.flag
		}
	}
	cmd := &exec.Cmd{
		Path:        m.opts.PauseBinary,
		Args:        []string{pauseArgv0(dir)},
		SysProcAttr: &syscall.SysProcAttr{Cloneflags: flags, Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		return 0, 0, fmt.Errorf("start pause %q: %w", m.opts.PauseBinary, err)
	}
	// This process is the pause's parent for as long as it lives: reap it.
	go cmd.Wait()
	start, err := processStart(cmd.Process.Pid)
	if err != nil {
		return 0, 0, fmt.Errorf("start pause: %w", err)
	}
	return cmd.Process.Pid, start, nil
}

// Start starts the pod's containers in order. The calling process becomes a
// child subreaper (as `runc run` does) and the parent of the containers: it
// records their exit status while it lives. If a container fails to start,
// the ones started before it are killed and the pod is left Created.
func (m *Manager) Start(ctx context.Context, name string) (retErr error) {
	dir := m.podDir(name)
	l, err := m.lockPod(name)
	if err != nil {
		return fmt.Errorf("start pod %q: %w", name, err)
	}
	defer l.unlock()
	st, err := readState(dir)
	if err != nil {
		return fmt.Errorf("start pod %q: %w", name, err)
	}
	switch {
	case st.Phase == PhaseRunning:
		return fmt.Errorf("start pod %q: %w", name, ErrRunning)
	case st.Phase != PhaseCreated:
		return fmt.Errorf("start pod %q: pod is %s", name, st.Phase)
	case !alive(st.PausePID, st.PauseStart):
		return fmt.Errorf("start pod %q: pause process %d is gone", name, st.PausePID)
	}
	m.becomeSubreaper()

	var started []*libcontainer.Container
	defer func() {
		if retErr == nil {
			return
		}
		for _, c := range started {
			c.Signal(unix.SIGKILL)
		}
		// Holding the pod lock: wait for the exits, not for their record.
		m.waitWatched(context.Background(), name, 2*time.Second, false)
		for i := range st.Containers {
			cs := &st.Containers[i]
			os.RemoveAll(filepath.Join(runcRoot(dir), cs.Name))
			mounts.RemoveOverlay(filepath.Join(dir, "containers", cs.Name))
			*cs = ContainerStatus{Name: cs.Name, State: StateWaiting, Reason: "ContainerCreating", CgroupPath: cs.CgroupPath}
		}
		writeState(dir, st)
	}()
	for i := range st.Config.Containers {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("start pod %q: %w", name, err)
		}
		c, err := m.startContainer(dir, st, &st.Config.Containers[i], &st.Containers[i])
		if err != nil {
			return fmt.Errorf("start pod %q: %w", name, err)
		}
		started = append(started, c)
	}
	st.Phase = PhaseRunning
	return writeState(dir, st)
}

func (m *Manager) becomeSubreaper() {
	m.subreaper.Do(func() {
		// Containers' processes are our grandchildren (libcontainer's
		// nsexec forks twice): only a subreaper can wait for them.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
}

func (m *Manager) lockPod(name string) (*podLock, error) {
	if err := ValidateName("pod name", name); err != nil {
		return nil, err
	}
	l, err := lockDir(m.podDir(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	return l, err
}

// startContainer mounts the container's root, creates it through
// libcontainer and runs its process; it returns once the process has been
// exec'd. The caller holds the pod lock and writes the state.
func (m *Manager) startContainer(dir string, st *PodStatus, cfg *ContainerConfig, cs *ContainerStatus) (*libcontainer.Container, error) {
	cdir := filepath.Join(dir, "containers", cfg.Name)
	rootfs, err := mounts.CreateOverlay(cfg.Rootfs, cdir)
	if err != nil {
		return nil, fmt.Errorf("start container %q: %w", cfg.Name, err)
	}
	podNS := map[configs.NamespaceType]string{}
	for _, ns := range namespaceKinds {
		if p, ok := st.Namespaces[ns.kind]; ok {
			podNS[ns.typ] = p
		}
	}
	lcfg := libcontainerConfig(containerSpec{
		ctr: cfg, rootfs: rootfs, cgroupPath: cs.CgroupPath, podNS: podNS, shm: filepath.Join(dir, "shm"),
	})
	c, err := libcontainer.Create(runcRoot(dir), cfg.Name, lcfg)
	if err != nil {
		return nil, fmt.Errorf("start container %q: %w", cfg.Name, err)
	}
	crashPoint("container-created")
	logPath := filepath.Join(dir, "logs", cfg.Name+".log")
	if err := os.MkdirAll(filepath.Dir(logPath), 0o700); err != nil {
		return nil, fmt.Errorf("start container %q: %w", cfg.Name, err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start container %q: %w", cfg.Name, err)
	}
	defer logf.Close()
	p := &libcontainer.Process{
		Args:   cfg.argv(),
		Env:    withDefaultPath(envList(cfg.Env, st)),
		Cwd:    cfg.WorkingDir,
		UID:    cfg.UID,
		GID:    cfg.GID,
		Stdout: logf,
		Stderr: logf,
		Init:   true,
	}
	if p.Cwd == "" {
		p.Cwd = "/"
	}
	if err := c.Run(p); err != nil {
		c.Destroy()
		return nil, fmt.Errorf("start container %q: %w", cfg.Name, err)
	}
	pid, _ := p.Pid()
	oomBase, _ := cgroups.OOMKillCount(cs.CgroupPath)
	*cs = ContainerStatus{
		Name: cfg.Name, State: StateRunning, PID: pid, StartedAt: time.Now().UTC(),
		CgroupPath: cs.CgroupPath, OOMBase: oomBase,
	}
	m.watch(dir, st.Name, c, p, *cs)
	crashPoint("container-started")
	return c, nil
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
		}
		env = append(env, v.Name+"="+val)
	}
	return env
}

func withDefaultPath(env []string) []string {
	for _, e := range env {
		if len(e) > 5 && e[:5] == "PATH=" {
			return env
		}
	}
	return append([]string{defaultPath}, env...)
}

// watch waits for the container's process in the background and records
// how it ended: its exit code, and the reason (Completed, Error, or
// OOMKilled when the kernel's OOM killer ended it, whether the container's
// own limit or the pod's quota was hit).
func (m *Manager) watch(dir, pod string, c *libcontainer.Container, p *libcontainer.Process, cs ContainerStatus) {
	w := &watcher{exited: make(chan struct{}), recorded: make(chan struct{})}
	key := pod + "/" + cs.Name
	m.mu.Lock()
	m.watched[key] = w
	m.mu.Unlock()
	go func() {
		defer close(w.recorded)
		ps, _ := p.Wait()
		close(w.exited)
		finished := time.Now().UTC()
		code, reason := exitStatus(ps)
		if n, err := cgroups.OOMKillCount(cs.CgroupPath); err == nil && n > cs.OOMBase && code == 128+int(unix.SIGKILL) {
			reason = ReasonOOMKilled
		}
		// The init is gone; with a shared PID namespace its children are
		// not: end them too.
		c.Signal(unix.SIGKILL)
		updateState(dir, func(s *PodStatus) error {
			if r := s.container(cs.Name); r != nil && r.PID == cs.PID {
				r.State, r.ExitCode, r.Reason, r.FinishedAt = StateTerminated, code, reason, finished
			}
			return nil
		})
		m.mu.Lock()
		if m.watched[key] == w {
			delete(m.watched, key)
		}
		m.mu.Unlock()
	}()
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

// waitWatched waits, at most d, for the pod's containers that this process
// watches to exit and, when recorded is true, for their exit to be written
// to the pod's state. A caller that holds the pod lock must not wait for the
// record: the watcher needs the lock to write it.
func (m *Manager) waitWatched(ctx context.Context, pod string, d time.Duration, recorded bool) {
	m.mu.Lock()
	var chans []chan struct{}
	for k, w := range m.watched {
		if filepath.Dir(k) == pod {
			if recorded {
				chans = append(chans, w.recorded)
			} else {
				chans = append(chans, w.exited)
			}
		}
	}
	m.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	for _, ch := range chans {
		select {
		case <-ch:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// Stop stops the pod: SIGTERM to every container, up to grace (the pod's
// terminationGracePeriod when grace < 0) for them to exit, SIGKILL to what
// is left, then the pause. The sandbox (namespaces, cgroup, files) stays
// until Remove.
func (m *Manager) Stop(ctx context.Context, name string, grace time.Duration) error {
	dir := m.podDir(name)
	st, err := m.readPod(name)
	if err != nil {
		return fmt.Errorf("stop pod %q: %w", name, err)
	}
	if grace < 0 {
		grace = st.Config.gracePeriod()
	}
	var running []*libcontainer.Container
	for _, cs := range st.Containers {
		if cs.State != StateRunning {
			continue
		}
		c, err := libcontainer.Load(runcRoot(dir), cs.Name)
		if err != nil {
			continue
		}
		if err := c.Signal(unix.SIGTERM); err == nil {
			running = append(running, c)
		}
	}
	deadline := time.Now().Add(grace)
	for len(running) > 0 && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
		running = stillRunning(running)
	}
	for _, c := range running {
		c.Signal(unix.SIGKILL)
	}
	m.killPause(dir, st)
	m.waitWatched(ctx, name, 2*time.Second, true)
	return updateState(dir, func(s *PodStatus) error {
		now := time.Now().UTC()
		for i := range s.Containers {
			if cs := &s.Containers[i]; cs.State == StateRunning {
				// Its parent was another process: the status is lost.
				cs.State, cs.Reason, cs.ExitCode, cs.FinishedAt = StateTerminated, ReasonUnknown, -1, now
			}
		}
		s.Phase = PhaseStopped
		return nil
	})
}

func stillRunning(cs []*libcontainer.Container) []*libcontainer.Container {
	var left []*libcontainer.Container
	for _, c := range cs {
		if s, err := c.Status(); err == nil && s != libcontainer.Stopped {
			left = append(left, c)
		}
	}
	return left
}

// killPause ends the pod's pause process: the recorded PID when it is still
// the same process, and any process carrying the pod's pause argv[0].
func (m *Manager) killPause(dir string, st *PodStatus) {
	if st != nil && alive(st.PausePID, st.PauseStart) {
		unix.Kill(st.PausePID, unix.SIGKILL)
	}
	for _, pid := range findByArgv0(pauseArgv0(dir)) {
		unix.Kill(pid, unix.SIGKILL)
	}
}

// Remove releases every host resource of the pod: processes, pinned
// namespaces, mounts, overlays, cgroups (in every v1 hierarchy or in v2) and
// state files. A running pod is refused unless force. Remove also finishes
// the removal of a pod whose creation or removal was interrupted at any
// point, and removing a pod that does not exist with force is not an error.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	if err := ValidateName("pod name", name); err != nil {
		return fmt.Errorf("remove pod: %w", err)
	}
	dir := m.podDir(name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if force {
			return nil
		}
		return fmt.Errorf("remove pod %q: %w", name, ErrNotExist)
	}
	if !force {
		if st, err := m.Status(ctx, name); err == nil && (st.Phase == PhaseRunning || st.Phase == PhaseCreated) {
			return fmt.Errorf("remove pod %q: %w (stop it first, or force)", name, ErrRunning)
		}
	}
	if err := m.teardown(ctx, name); err != nil {
		return fmt.Errorf("remove pod %q: %w", name, err)
	}
	return nil
}

// teardown takes the pod apart from what is on the host, needing no state
// file: everything it removes is named from the pod's directory and cgroup
// path. The order matters: processes first, then mounts, cgroups and files.
func (m *Manager) teardown(ctx context.Context, name string) error {
	dir := m.podDir(name)
	st, _ := readState(dir)
	m.killPause(dir, st)
	// Kills whatever is left in the pod's cgroups and removes them.
	var errs []error
	if err := cgroups.LoadPod(m.cgroupPath(name)).Destroy(); err != nil {
		errs = append(errs, err)
	}
	// Containers this process started: let their watchers record the end
	// before the state goes (they need the lock taken below).
	m.waitWatched(ctx, name, 2*time.Second, true)
	l, err := lockDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return errors.Join(append(errs, err)...)
	}
	if l != nil {
		defer l.unlock()
	}
	if err := mounts.UnmountUnder(dir); err != nil {
		// Never remove files under a live mount.
		return errors.Join(append(errs, err)...)
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (m *Manager) readPod(name string) (*PodStatus, error) {
	if err := ValidateName("pod name", name); err != nil {
		return nil, err
	}
	st, err := readState(m.podDir(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	return st, err
}

// Status returns the pod's state, checked against the live processes: a
// container recorded as running whose process is gone is reported
// terminated with reason Unknown, and a running pod whose pause is gone is
// Unknown.
func (m *Manager) Status(ctx context.Context, name string) (*PodStatus, error) {
	st, err := m.readPod(name)
	if err != nil {
		return nil, fmt.Errorf("pod %q: %w", name, err)
	}
	if (st.Phase == PhaseRunning || st.Phase == PhaseCreated) && !alive(st.PausePID, st.PauseStart) {
		st.Phase = PhaseUnknown
	}
	for i := range st.Containers {
		cs := &st.Containers[i]
		if cs.State == StateRunning && !alive(cs.PID, 0) {
			cs.State, cs.Reason = StateTerminated, ReasonUnknown
		}
	}
	return st, nil
}

// List returns the status of every pod under the state root, by name.
func (m *Manager) List(ctx context.Context) ([]*PodStatus, error) {
	ents, err := os.ReadDir(filepath.Join(m.opts.Root, "pods"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var pods []*PodStatus
	for _, e := range ents {
		st, err := m.Status(ctx, e.Name())
		if err != nil {
			// A pod whose creation was interrupted before its state was
			// written: show it so that it can be removed.
			st = &PodStatus{Name: e.Name(), Phase: PhaseUnknown}
		}
		pods = append(pods, st)
	}
	sort.Slice(pods, func(i, j int) bool { return pods[i].Name < pods[j].Name })
	return pods, nil
}

// testHookCrash, when set by a test, is called at each point of creation
// named in crashPoints; the crash tests kill the process there.
var testHookCrash func(point string)

var crashPoints = []string{"state-written", "cgroup-created", "pause-started", "namespaces-pinned", "container-created", "container-started"}

func crashPoint(p string) {
	if testHookCrash != nil {
		testHookCrash(p)
	}
}
