package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/mounts"
	"github.com/podbox/podbox/namespaces"
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
	// MonitorBinary is the program RunDetached starts as a pod's detached
	// monitor ("<binary> podbox-monitor POD"); default this program
	// (os.Executable), whose main must call Init when IsInit. A small
	// program of its own does as well if its main does the same.
	MonitorBinary string
	// ShimBinary, when set, is podbox-shim (cmd/podbox-shim): RunDetached
	// starts it as the pod's monitor instead, and it starts MonitorBinary
	// as the pod's lifecycle whenever there is work, so that what stays
	// resident per pod is the small shim (see package internal/shim).
	// Managed pods (the CRI's) keep their lifecycle running.
	ShimBinary string
	// PauseBinary is the path of the pause program, or BuiltinPause. A
	// path given is run with -v by New, which refuses it, with what it
	// said, unless it answers as podbox's pause. Default: "pause" beside
	// the running executable, else <exe dir>/../libexec/podbox/pause (where
	// make install puts it), else "podbox-pause" or "pause" on PATH, the
	// first of those that answers as podbox's pause; else BuiltinPause.
	PauseBinary string
	// Network is the pod network, each field defaulting to podbox's:
	// Bridge (podbox0), the bridge carrying the gateway; Subnet
	// (10.87.0.0/16), the pods' IPv4 subnet, refused when it overlaps a
	// route of the host; VethPrefix (pbx), the start of the pods' host
	// veth names; Table (podbox), the nftables table of masquerade,
	// hostPorts and anti-spoofing rules; StateDir, the leases, shared by
	// every podbox using the bridge (netns.NetworksDir/<bridge>); MTU (0:
	// the kernel's). The network is made on first use and kept
	// (RemoveNetwork, Uninstall).
	Network netns.Config
	// AllocatableMemory is the memory pods may be admitted against; 0
	// means MemTotal minus a reserve (cgroups.DefaultAllocatable).
	AllocatableMemory int64
	// LogRoot is where containers' logs are kept, as the kubelet keeps
	// them: LogRoot/<namespace>_<pod>_<uid>/<container>/<restart>.log, on
	// disk rather than under the state root's tmpfs. Default
	// /var/log/podbox/pods.
	LogRoot string
	// ContainerLogMaxSize is the size at which a container's log file is
	// rotated (kubelet's containerLogMaxSize, default 10 MiB), and
	// ContainerLogMaxFiles how many files of one container instance are
	// kept, the one being written included (containerLogMaxFiles, default
	// 5, at least 2).
	ContainerLogMaxSize  int64
	ContainerLogMaxFiles int
	// Images, when set, resolves each container's Image in this store at
	// Create (see ResolveImages; it pulls nothing: PullImages does) and
	// holds a lease on the images until the pod is removed, so that they
	// are not removed under it.
	Images *image.Store
	// AllowSwap lets pods use the node's swap. By default swap is fenced
	// as the kubelet's NoSwap does (memory.swap.max 0 on the pod and
	// container cgroups on cgroup v2; see cgroups.Pod.ContainerResources).
	AllowSwap bool
	// SeccompRoot is the directory of Localhost seccomp profiles (a
	// container's localhostProfile is relative to it); default
	// DefaultSeccompRoot, /var/lib/podbox/seccomp.
	SeccompRoot string
	// VolumeRoot is where the named volumes that pods' persistentVolumeClaims
	// name are kept (mounts.NamedVolumes); default
	// mounts.DefaultNamedVolumeRoot, /var/lib/podbox/volumes.
	VolumeRoot string
	// PodPidsLimit caps the processes (and threads) of each pod, on its
	// pod cgroup (pids.max), as the kubelet's podPidsLimit: 0 means
	// cgroups.DefaultPidsLimit (4096), a negative number no limit.
	PodPidsLimit int64
	// IDRangeDir records which pod holds which range of host IDs for its
	// user namespace (hostUsers: false); default DefaultIDRangeDir, one for
	// the whole host: every podbox on a host must use the same.
	IDRangeDir string
}

// Manager creates, starts, stops and removes pods under one state root. A
// Manager is safe for concurrent use; several processes may use Managers on
// the same root at once (each pod's state is guarded by a lock).
type Manager struct {
	opts Options
	net  *netns.Network

	subreaper sync.Once
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
	if opts.PodPidsLimit == 0 {
		opts.PodPidsLimit = cgroups.DefaultPidsLimit
	}
	if opts.IDRangeDir == "" {
		opts.IDRangeDir = DefaultIDRangeDir
	}
	if !filepath.IsAbs(opts.IDRangeDir) {
		return nil, fmt.Errorf("ID range directory %q is not an absolute path", opts.IDRangeDir)
	}
	if opts.SeccompRoot == "" {
		opts.SeccompRoot = DefaultSeccompRoot
	}
	if opts.VolumeRoot == "" {
		opts.VolumeRoot = mounts.DefaultNamedVolumeRoot
	}
	if opts.LogRoot == "" {
		opts.LogRoot = DefaultLogRoot
	}
	if !filepath.IsAbs(opts.LogRoot) {
		return nil, fmt.Errorf("log root %q is not an absolute path", opts.LogRoot)
	}
	opts.LogRoot = filepath.Clean(opts.LogRoot)
	if opts.ContainerLogMaxSize == 0 {
		opts.ContainerLogMaxSize = DefaultContainerLogMaxSize
	}
	if opts.ContainerLogMaxFiles == 0 {
		opts.ContainerLogMaxFiles = DefaultContainerLogMaxFiles
	}
	if opts.ContainerLogMaxSize < minLogMaxSize {
		return nil, fmt.Errorf("container log max size %d: want at least %d bytes", opts.ContainerLogMaxSize, minLogMaxSize)
	}
	if opts.ContainerLogMaxFiles < 2 {
		return nil, fmt.Errorf("container log max files %d: want at least 2 (the file being written and one rotated)", opts.ContainerLogMaxFiles)
	}
	switch opts.PauseBinary {
	case "":
		opts.PauseBinary = BuiltinPause
		for _, p := range lookPause() {
			if checkPause(opts.Root, p) == nil {
				opts.PauseBinary = p
				break
			}
		}
	case BuiltinPause:
	default:
		if err := checkPause(opts.Root, opts.PauseBinary); err != nil {
			return nil, err
		}
	}
	n, err := netns.New(opts.Network)
	if err != nil {
		return nil, err
	}
	return &Manager{opts: opts, net: n}, nil
}

// BuiltinPause as Options.PauseBinary runs each pod's pause inside this
// program: it is started again ("/proc/self/exe", argv[0]
// "podbox-pause:<pod dir>", _PODBOX_PAUSE=1 in its environment) and this
// package's init function runs the pure-Go pause of package gopause in it
// instead of main. Nothing is to be built or shipped, but each pod's pause
// then costs a Go runtime (see the package documentation), and the
// program's file must be executable by others for pods with a user
// namespace (their pause runs as an unprivileged host ID).
const BuiltinPause = "builtin"

// lookPause lists the pause programs found, in order of preference: a
// variable, so that a test can take them away.
var lookPause = findPause

// findPause lists the pause programs near the running executable (see
// pauseNear), then on PATH.
func findPause() []string {
	var found []string
	if exe, err := os.Executable(); err == nil {
		found = append(found, pauseNear(filepath.Dir(exe))...)
	}
	for _, name := range []string{"podbox-pause", "pause"} {
		if p, err := exec.LookPath(name); err == nil {
			found = append(found, p)
		}
	}
	return found
}

// pauseNear returns the pause programs in dir, the executable's directory,
// and in the libexec directory of the prefix dir is the bin of
// ($PREFIX/bin/podbox finds $PREFIX/libexec/podbox/pause).
func pauseNear(dir string) []string {
	var found []string
	for _, p := range []string{
		filepath.Join(dir, "pause"),
		filepath.Join(dir, "..", "libexec", "podbox", "pause"),
	} {
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	return found
}

// pauseCmd is the command that starts the pod's pause: Options.PauseBinary,
// or this program as the built-in pause, with its stderr in the pod's pause
// log (the caller closes the returned file, nil when there is none).
func (m *Manager) pauseCmd(dir string, attr *syscall.SysProcAttr, held []*os.File) (*exec.Cmd, *os.File) {
	cmd := &exec.Cmd{
		Path:        m.opts.PauseBinary,
		Args:        []string{pauseArgv0(dir)},
		SysProcAttr: attr,
		ExtraFiles:  held, // the hostPorts' sockets: the pause holds them
	}
	if m.opts.PauseBinary == BuiltinPause {
		// The running program's own file, even where it was replaced
		// since. One thread for Go code: the pause's threads count in
		// the pod's pids limit.
		cmd.Path = "/proc/self/exe"
		cmd.Env = []string{pauseEnv + "=1", "GOMAXPROCS=1"}
	}
	f := openPauseLog(dir)
	if f != nil {
		cmd.Stderr = f
	}
	return cmd, f
}

// Images is the image store of Options.Images (nil without one).
func (m *Manager) Images() *image.Store { return m.opts.Images }

// cgroupPath is the pod's cgroup, named from its UID as the kubelet names
// pod cgroups (pod<uid>), so that pods of the same name in two state roots
// or namespaces never share one; a pod recorded before UIDs has its name.
func (m *Manager) cgroupPath(st *PodStatus) string {
	if st.UID == "" {
		return m.opts.CgroupParent + "/" + st.Name
	}
	return m.opts.CgroupParent + "/pod" + st.UID
}

// podCgroup is the pod cgroup a state file names, once it is sure of it: a
// state file is not trusted to name what Remove kills, so the UID must be
// one podbox makes and the name valid.
func (m *Manager) podCgroup(st *PodStatus) (string, error) {
	if (st.UID != "" && !uidPattern.MatchString(st.UID)) || ValidateName("pod name", st.Name) != nil || ValidateName("namespace", st.Config.namespace()) != nil {
		return "", fmt.Errorf("pod %q: state names uid %q, not one podbox makes", st.Name, st.UID)
	}
	return m.cgroupPath(st), nil
}

// runcRoot is libcontainer's state root for the pod's containers.
func runcRoot(dir string) string { return filepath.Join(dir, "runc") }

// pauseArgv0 names the pod's directory in the pause's argv[0], so the pause
// of a pod is found (and attributed, e.g. by leak checks) even when its PID
// was never written down.
func pauseArgv0(dir string) string { return "podbox-pause:" + dir }

const (
	// pauseCgroup is the pause's child of the pod cgroup: a name no
	// container can have (a container's is a DNS-1123 label, without '_'),
	// so that a container may be named pause, as Kubernetes allows.
	pauseCgroup = "_pause"
	shmSize     = "65536k" // 64 MiB, as containerd
)

// namespaceKinds are the namespaces a pod holds, with the clone flag that
// makes each and libcontainer's name for it.
var namespaceKinds = []struct {
	kind string
	flag uintptr
	typ  configs.NamespaceType
}{
	// The user namespace first: made in the same clone, it owns the others.
	{"user", unix.CLONE_NEWUSER, configs.NEWUSER},
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
	var imgs []*image.Image
	if m.opts.Images != nil {
		var err error
		if imgs, err = ResolveImages(ctx, m.opts.Images, cfg); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
		vimgs, err := resolveImageVolumes(m.opts.Images, cfg)
		if err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
		imgs = append(imgs, vimgs...)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkRootfs(cfg); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	profiles, err := readSeccompProfiles(m.opts.SeccompRoot, cfg)
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	dir := m.podDir(cfg.ref())
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	// The hostPorts first, held by sockets that the pause inherits: a port
	// in use refuses the pod before anything is made.
	var held []*os.File
	if !cfg.HostNetwork {
		var err error
		if held, err = netns.HoldPorts(hostPorts(cfg)); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
		defer closeAll(held)
	}
	quota := cfg.quota()
	uid, err := newUID()
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	st := &PodStatus{
		Name:        cfg.Name,
		UID:         uid,
		CgroupPath:  m.opts.CgroupParent + "/pod" + uid,
		LogDir:      m.logDir(cfg.namespace(), cfg.Name, uid),
		LogMaxSize:  m.opts.ContainerLogMaxSize,
		LogMaxFiles: m.opts.ContainerLogMaxFiles,
		MemoryQuota: quota,
		AllowSwap:   m.opts.AllowSwap,
		Phase:       PhaseUnknown,
		Created:     time.Now().UTC(),
		Config:      *cfg,
		Namespaces:  map[string]string{},
	}
	podCgroup := cgroups.LoadPod(st.CgroupPath)
	for _, c := range cfg.InitContainers {
		kind := KindInit
		if c.RestartPolicy == RestartAlways {
			kind = KindSidecar
		}
		st.InitContainers = append(st.InitContainers, ContainerStatus{
			Name: c.Name, Kind: kind, State: StateWaiting, Reason: ReasonCreating,
			CgroupPath: podCgroup.Child(c.Name),
		})
	}
	appReason := ReasonCreating
	if len(cfg.InitContainers) > 0 {
		appReason = ReasonPodInitializing
	}
	for _, c := range cfg.Containers {
		st.Containers = append(st.Containers, ContainerStatus{
			Name: c.Name, Kind: KindApp, State: StateWaiting, Reason: appReason,
			CgroupPath: podCgroup.Child(c.Name),
		})
	}
	// Admission, the pod's directory and its first state, which carries
	// its quota, under one lock: pods created at once are admitted one
	// after the other, each counting those admitted before it.
	if err := m.admit(ctx, cfg, quota, func() error {
		err := os.Mkdir(dir, 0o700)
		if errors.Is(err, os.ErrExist) {
			return ErrExist
		}
		if err != nil {
			return err
		}
		if err := writeState(dir, st); err != nil {
			os.RemoveAll(dir)
			return err
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	defer func() {
		if retErr != nil {
			// A pause that died says why in its log, which goes with
			// the pod: keep its word.
			if st.PausePID != 0 && !alive(st.PausePID, st.PauseStart) {
				retErr = fmt.Errorf("%w%s", retErr, pauseOutput(dir))
			}
			// Undo with a context of its own: the caller's may be cancelled.
			if err := m.teardown(context.Background(), cfg.ref()); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("undo: %w", err))
			}
		}
	}()
	l, err := lockDir(dir)
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	defer l.unlock()
	if err := m.leaseImages(dir, cfg, imgs); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	crashPoint("state-written")
	if cfg.UserNamespace {
		// Recorded before the pause maps it; written down in the state
		// before anything else, so that a Remove gives it back.
		if err := m.allocateUserNamespace(dir, st); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
		if err := writeState(dir, st); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
	}
	if err := writeSeccompProfiles(dir, profiles); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	pod, err := cgroups.CreatePod(st.CgroupPath, quota, cgroups.AllowSwap(st.AllowSwap), cgroups.PidsLimit(m.opts.PodPidsLimit),
		cgroups.CPU(cpuQuota(cfg.CPULimitMillis), cpuPeriod, cpuShares(cfg.CPURequestMillis)))
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	crashPoint("cgroup-created")
	shm := mounts.Mount{Type: "tmpfs", Source: "shm", Target: filepath.Join(dir, "shm"),
		Options: []string{"nosuid", "nodev", "noexec", "mode=1777", "size=" + shmSize}}
	if err := shm.Mount(); err != nil {
		return nil, fmt.Errorf("create pod %q: /dev/shm: %w", cfg.Name, err)
	}

	pid, start, err := m.startPause(dir, st, held)
	if err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	st.PausePID, st.PauseStart = pid, start
	crashPoint("pause-started")
	// Moving the pause into its cgroup waits on the kernel (the first move
	// of a process takes an RCU grace period, ~10 ms): it runs beside the
	// pinning and the network's set-up, which do not need it, and is
	// waited for before anything returns (an undo included).
	joined := make(chan error, 1)
	go func() { joined <- pod.Join(pauseCgroup, pid) }()
	waitJoined := func() error {
		if joined == nil {
			return nil
		}
		err := <-joined
		joined = nil
		return err
	}
	defer waitJoined()
	for _, ns := range namespaceKinds {
		if !podHas(cfg, ns.kind) {
			continue
		}
		p := filepath.Join(dir, "ns", ns.kind)
		if err := namespaces.Pin(pid, ns.kind, p); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
		st.Namespaces[ns.kind] = p
	}
	crashPoint("namespaces-pinned")
	if uts, ok := st.Namespaces["uts"]; ok {
		if err := setHostname(uts, cfg.hostname()); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
	}
	if err := m.setUpNetwork(ctx, dir, st); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	if st.VolumePaths, err = m.prepareVolumes(dir, st); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	if st.UserNamespace != nil {
		if err := checkIDMapped(st); err != nil {
			return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
		}
	}
	if err := waitJoined(); err != nil {
		return nil, fmt.Errorf("create pod %q: move pause into its cgroup: %w", cfg.Name, err)
	}
	if !alive(st.PausePID, st.PauseStart) {
		return nil, fmt.Errorf("create pod %q: the pause process %d exited: %w", cfg.Name, st.PausePID, errdefs.ErrUnavailable)
	}
	st.Phase = PhasePending
	if err := writeState(dir, st); err != nil {
		return nil, fmt.Errorf("create pod %q: %w", cfg.Name, err)
	}
	return st, nil
}

// checkRootfs checks that every container's root filesystem (Rootfs, or
// each of RootfsLayers) is a directory, so that a missing one refuses the
// pod at Create, naming the field, rather than failing its start.
func checkRootfs(cfg *PodConfig) error {
	var errs []error
	check := func(field, dir string) {
		fi, err := os.Stat(dir)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", field, err))
		case !fi.IsDir():
			errs = append(errs, fmt.Errorf("%s: %q is not a directory", field, dir))
		}
	}
	for _, l := range []struct {
		field string
		ctrs  []ContainerConfig
	}{{"spec.initContainers", cfg.InitContainers}, {"spec.containers", cfg.Containers}, {"spec.ephemeralContainers", cfg.EphemeralContainers}} {
		for i, c := range l.ctrs {
			f := fmt.Sprintf("%s[%d]", l.field, i)
			if len(c.RootfsLayers) == 0 {
				check(f+".rootfs", c.Rootfs)
			}
			for j, layer := range c.RootfsLayers {
				check(fmt.Sprintf("%s.rootfsLayers[%d]", f, j), layer)
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}

// podHas reports whether the pod has a namespace of its own of kind: net
// unless hostNetwork, pid only when shared.
func podHas(cfg *PodConfig, kind string) bool {
	switch kind {
	case "net":
		return !cfg.HostNetwork
	case "pid":
		return cfg.ShareProcessNamespace && !cfg.HostPID
	case "ipc":
		return !cfg.HostIPC
	case "uts":
		// A hostNetwork pod has the host's name too (as with containerd).
		return !cfg.HostNetwork
	case "user":
		return cfg.UserNamespace
	}
	return true
}

// startPause starts the pause program in the pod's new namespaces, in a
// session of its own so that no terminal signal reaches it.
func (m *Manager) startPause(dir string, st *PodStatus, held []*os.File) (int, uint64, error) {
	var flags uintptr
	for _, ns := range namespaceKinds {
		if podHas(&st.Config, ns.kind) {
			flags |= ns.flag
		}
	}
	cmd, logf := m.pauseCmd(dir, &syscall.SysProcAttr{Cloneflags: flags, Setsid: true}, held)
	if logf != nil {
		defer logf.Close()
	}
	if u := st.UserNamespace; u != nil {
		// The pod's user namespace, made with the others so that it owns
		// them (as containerd makes a sandbox's); the pause runs as its
		// root, an unprivileged host ID, never as the host's root.
		a := cmd.SysProcAttr
		a.UidMappings, a.GidMappings = u.sysProcMappings(), u.sysProcMappings()
		a.GidMappingsEnableSetgroups = true
		a.Credential = &syscall.Credential{Uid: 0, Gid: 0}
	}
	if err := cmd.Start(); err != nil {
		if st.UserNamespace != nil && errors.Is(err, unix.ENOSPC) {
			return 0, 0, fmt.Errorf("start pause %q in a new user namespace: %w (the host's user.max_user_namespaces is reached)", m.opts.PauseBinary, err)
		}
		return 0, 0, fmt.Errorf("start pause %q: %w", m.opts.PauseBinary, err)
	}
	// Its start time is read before anything reaps it: a pause that died
	// at once is a zombie until then, and Create says what it wrote.
	start, err := processStart(cmd.Process.Pid)
	// This process is the pause's parent for as long as it lives: reap it.
	go cmd.Wait()
	if err != nil {
		return 0, 0, fmt.Errorf("start pause: %w", err)
	}
	protectFromOOM(cmd.Process.Pid)
	return cmd.Process.Pid, start, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
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
// state files. A pod whose lifecycle or containers still run is refused
// unless force, which kills them. Remove also finishes the removal of a pod
// whose creation or removal was interrupted at any point, and removing a
// pod that does not exist with force is not an error.
func (m *Manager) Remove(ctx context.Context, name string, force bool) error {
	if _, _, err := ParseRef(name); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	dir := m.podDir(name)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if force {
			return nil
		}
		return fmt.Errorf("remove pod %q: %w", name, ErrNotExist)
	}
	st, err := m.Status(ctx, name)
	if err == nil && st.active() && !force {
		return fmt.Errorf("remove pod %q: %w (stop it first, or force)", name, ErrRunning)
	}
	// The lifecycle first, wherever it runs, so that it restarts nothing
	// and writes nothing back: this process's is stopped and waited for;
	// another process's is asked to stop (at once) and waited for a while.
	if !m.stopRunner(name, 0) && err == nil && st.MonitorPID != 0 {
		if m.requestStop(name, 0) == nil {
			m.stopElsewhere(name, st, 15*time.Second)
		}
	}
	if err := m.teardown(ctx, name); err != nil {
		return fmt.Errorf("remove pod %q: %w", name, err)
	}
	return nil
}

// teardown takes the pod apart from what is on the host: its processes
// first, then mounts, cgroups and files. Its state file, written when the
// pod's directory was made, names the pod's UID and so its cgroup; the
// pause is found by the argv[0] that names the pod's directory. A state
// file that can not be read stops the teardown: the pod's cgroup would be
// unknown, and what runs in it would outlive the pod's record.
func (m *Manager) teardown(ctx context.Context, name string) error {
	dir := m.podDir(name)
	// The pod's lock for the whole teardown: a Create, AdoptMonitor or
	// lifecycle step of the same pod waits for it, then finds no pod.
	l, err := lockDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		// Removed meanwhile: what has the name now is another pod's.
		return nil
	}
	if err != nil {
		return err
	}
	defer l.unlock()
	st, err := readState(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		// (A directory without a state file is a creation that stopped
		// before anything ran.)
		return fmt.Errorf("%w: not removing the pod, whose cgroup it names", err)
	}
	// A detached monitor that did not stop when asked is killed; an
	// embedder's process never is (podbox's monitors also go with their
	// cgroup, below).
	if st != nil && st.MonitorDetached && st.MonitorPID != os.Getpid() && alive(st.MonitorPID, st.MonitorStart) {
		unix.Kill(st.MonitorPID, unix.SIGKILL)
	}
	m.killPause(dir, st)
	// Kills whatever is left in the pod's cgroups and removes them, and
	// the monitor's cgroup (AdoptMonitor).
	var errs []error
	if st != nil {
		cgroupPath, err := m.podCgroup(st)
		if err != nil {
			return err
		}
		if err := destroyCgroup(cgroupPath); err != nil {
			// Processes that would not die (in uninterruptible sleep,
			// say): taking the rest apart would leave them running and
			// invisible to ps. Keep the pod's record, lease, mounts and
			// cgroup, say so, and let the next Remove resume.
			st.Phase = PhaseUnknown
			st.Message = "removal incomplete, remove it again: " + err.Error()
			writeState(dir, st)
			return fmt.Errorf("%w (the pod is kept: remove it again to finish)", err)
		}
		if err := cgroups.LoadPod(cgroupPath + monitorCgroupSuffix).Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if err := mounts.CleanupVolumes(dir); err != nil {
		errs = append(errs, err)
	}
	if err := m.removeUserNSRootfs(st); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := mounts.UnmountUnder(dir); err != nil {
		// Never remove files under a live mount.
		return errors.Join(append(errs, err)...)
	}
	// Its user namespace unpinned and its processes gone, the pod's IDs
	// may go to another pod.
	if err := m.releaseUserNamespace(st); err != nil {
		errs = append(errs, err)
	}
	// With the namespace unpinned and its processes gone, the kernel
	// removes the veth; Detach releases the lease and the hostPort rules.
	key := name
	if st != nil {
		key = netKey(st)
	}
	if err := m.net.Detach(ctx, key); err != nil {
		errs = append(errs, err)
	}
	if st != nil {
		if logDir, err := checkLogDir(st); err != nil {
			errs = append(errs, err)
		} else if err := os.RemoveAll(logDir); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, err)
	}
	if err := m.releaseClaims(dir, st); err != nil {
		errs = append(errs, err)
	}
	// Last: the pod's overlays are unmounted, its image layers may go.
	if err := m.releaseImages(dir); err != nil {
		errs = append(errs, err)
	}
	if err := m.releaseEphemeralImages(dir, st); err != nil {
		errs = append(errs, err)
	}
	if err := m.releaseManagedImages(dir, st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// destroyCgroup kills what is left in a pod's cgroup and removes it; a
// variable so that a test can make it fail as processes that will not die
// make it fail.
var destroyCgroup = func(path string) error { return cgroups.LoadPod(path).Destroy() }

func (m *Manager) readPod(name string) (*PodStatus, error) {
	if _, _, err := ParseRef(name); err != nil {
		return nil, err
	}
	st, err := readState(m.podDir(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	return st, err
}

// Status returns the pod's state, checked against the live processes: a
// pod whose lifecycle should run but whose monitor is gone is Unknown, and
// so are its containers recorded as running whose processes are gone.
func (m *Manager) Status(ctx context.Context, name string) (*PodStatus, error) {
	var (
		st                                   *PodStatus
		monitorAlive, monitorGone, pauseGone bool
	)
	for try := 0; ; try++ {
		var err error
		if st, err = m.readPod(name); err != nil {
			return nil, fmt.Errorf("pod %q: %w", name, err)
		}
		if testHookStatus != nil && try == 0 {
			testHookStatus(name)
		}
		monitorAlive = st.MonitorPID != 0 && alive(st.MonitorPID, st.MonitorStart)
		monitorGone = st.MonitorPID != 0 && !monitorAlive
		// A live monitor looks after its pause itself (and ends it last).
		pauseGone = !monitorAlive && !alive(st.PausePID, st.PauseStart)
		// A lifecycle records the pod's end before it exits and its
		// monitor goes: a state read just before that end, checked
		// against the processes just after, would take a pod that just
		// completed for one whose monitor died. Dead processes stay
		// dead, so the state read again is the truth.
		if try == 1 || !(st.Phase == PhaseRunning || st.Phase == PhasePending) || !(monitorGone || pauseGone) {
			break
		}
	}
	if (st.Phase == PhaseRunning || st.Phase == PhasePending) && (monitorGone || pauseGone) {
		st.Phase = PhaseUnknown
		if monitorGone {
			st.Message = fmt.Sprintf("the pod's monitor (pid %d) is gone", st.MonitorPID)
		} else {
			st.Message = fmt.Sprintf("the pod's pause (pid %d) is gone%s", st.PausePID, pauseOutput(m.podDir(name)))
		}
	}
	if monitorAlive {
		return st, nil // it records exits itself, a moment after they happen
	}
	for _, list := range st.lists() {
		for i := range list {
			if cs := &list[i]; cs.State == StateRunning && !alive(cs.PID, 0) {
				cs.State, cs.Reason = StateTerminated, ReasonUnknown
			}
		}
	}
	return st, nil
}

// active reports whether the pod's lifecycle or any of its containers runs.
func (s *PodStatus) active() bool {
	if s.MonitorPID != 0 && alive(s.MonitorPID, s.MonitorStart) {
		return true
	}
	for _, list := range s.lists() {
		for _, cs := range list {
			if cs.State == StateRunning {
				return true
			}
		}
	}
	return false
}

// List returns the status of every pod under the state root, of every
// namespace, by namespace and name.
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
		ref := refOfDir(e.Name())
		ns, name, err := ParseRef(ref)
		if err != nil {
			continue // not a pod's directory
		}
		st, err := m.Status(ctx, ref)
		if err != nil {
			// A pod whose creation was interrupted before its state was
			// written: show it so that it can be removed.
			st = &PodStatus{Name: name, Phase: PhaseUnknown, Config: PodConfig{Namespace: ns}}
		}
		pods = append(pods, st)
	}
	sort.Slice(pods, func(i, j int) bool {
		if a, b := pods[i].Namespace(), pods[j].Namespace(); a != b {
			return a < b
		}
		return pods[i].Name < pods[j].Name
	})
	return pods, nil
}

// testHookStatus, when set by a test, is called by Status between its
// first read of the pod's state and its look at the processes.
var testHookStatus func(pod string)

// testHookCrash, when set by a test, is called at each point of creation
// named in crashPoints; the crash tests kill the process there.
var testHookCrash func(point string)

var crashPoints = []string{"state-written", "cgroup-created", "pause-started", "namespaces-pinned", "container-created", "container-started"}

func crashPoint(p string) {
	if testHookCrash != nil {
		testHookCrash(p)
	}
}

// RemoveNetwork removes the pod network's host objects: the bridge, the
// nftables table and the leases. For uninstalling podbox and for tests;
// pods still attached lose their network.
func (m *Manager) RemoveNetwork() error { return m.net.Remove() }

// PodDir is the pod's directory under the state root.
func (m *Manager) PodDir(ref string) string { return m.podDir(ref) }

// monitorCgroupSuffix names a pod's monitor cgroup beside the pod's:
// "<parent>/pod<uid>.monitor", which no pod's cgroup is called.
const monitorCgroupSuffix = ".monitor"

// AdoptMonitor moves pid, the process that will run the pod's lifecycle
// apart from its caller (podbox's detached monitor), into a cgroup of its
// own, "<cgroup parent>/pod<uid>.monitor/monitor": outside the cgroup of
// whoever started it, so that stopping that session or unit does not end
// the pod's lifecycle, and outside the pod's quota, so that the pod's OOM
// kills never pick it. It also lowers its oom_score_adj to the kubelet's
// -999 where the capability allows. Remove takes the cgroup away with the
// pod.
func (m *Manager) AdoptMonitor(name string, pid int) error {
	if _, _, err := ParseRef(name); err != nil {
		return fmt.Errorf("adopt monitor: %w", err)
	}
	// Under the pod's lock, which a Remove holds while it takes the pod
	// and this cgroup apart: after one, the pod is gone and so is this.
	err := m.withLock(name, func() error {
		path, err := m.monitorCgroup(name)
		if err != nil {
			return err
		}
		cg, err := cgroups.CreatePod(path, 0, cgroups.AllowSwap(true))
		if err != nil {
			return err
		}
		if err := cg.Join("monitor", pid); err != nil {
			cg.Destroy()
			return err
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adopt monitor of pod %q: %w", name, err)
	}
	protectMonitor(pid)
	return nil
}

// monitorCgroup is the path of the pod's monitor cgroup, from its state
// (the caller holds the pod's lock).
func (m *Manager) monitorCgroup(name string) (string, error) {
	st, err := readState(m.podDir(name))
	if err != nil {
		return "", err
	}
	path, err := m.podCgroup(st)
	if err != nil {
		return "", err
	}
	return path + monitorCgroupSuffix, nil
}

// protectMonitor gives a monitor the kubelet's oom_score_adj for its own
// processes, -999. Best effort, as for the pause: it takes
// CAP_SYS_RESOURCE.
func protectMonitor(pid int) {
	os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("-999"), 0o644)
}

// joinMonitor moves pid, a shim's lifecycle, into the pod's monitor
// cgroup, which AdoptMonitor made for the shim. It makes nothing and,
// failing, takes nothing apart: the shim lives there (AdoptMonitor's
// clean-up would kill it).
func (m *Manager) joinMonitor(name string, pid int) error {
	err := m.withLock(name, func() error {
		path, err := m.monitorCgroup(name)
		if err != nil {
			return err
		}
		return cgroups.LoadPod(path).Join("monitor", pid)
	})
	if err != nil {
		return fmt.Errorf("move the lifecycle of pod %q into its monitor's cgroup: %w", name, err)
	}
	protectMonitor(pid)
	return nil
}

// protectFromOOM gives the pause the kubelet's oom_score_adj, -998, so that
// the OOM killer picks a container over it when the pod's quota is hit.
func protectFromOOM(pid int) {
	os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("-998"), 0o644)
}
