package sandbox

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// ContainerState is the Kubernetes view of a container: waiting, running, or
// terminated.
type ContainerState string

const (
	StateWaiting    ContainerState = "waiting"
	StateRunning    ContainerState = "running"
	StateTerminated ContainerState = "terminated"
)

// Reasons, as Kubernetes reports them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown: the process ended while nobody that could collect its
	// exit status was watching (its monitor was gone).
	ReasonUnknown          = "Unknown"
	ReasonCreating         = "ContainerCreating"
	ReasonPodInitializing  = "PodInitializing"
	ReasonCrashLoopBackOff = "CrashLoopBackOff"
	ReasonStartError       = "StartError"
	// ReasonStopped: the container was ended by a stop that was asked for
	// (Stop, or the end of Run's context); its exit code is its own, 137
	// when the grace period ran out.
	ReasonStopped = "Stopped"
)

// ContainerKind tells init containers, native sidecars and app containers
// apart.
type ContainerKind string

const (
	KindInit    ContainerKind = "init"
	KindSidecar ContainerKind = "sidecar"
	KindApp     ContainerKind = "app"
	// KindEphemeral: a debugging container added to the running pod
	// (Manager.AddEphemeralContainer), never restarted.
	KindEphemeral ContainerKind = "ephemeral"
)

// PodPhase is the pod's state as a whole: Kubernetes' phases, plus Stopped
// for a pod stopped on request (its sandbox is kept until removal).
type PodPhase string

const (
	PhasePending   PodPhase = "Pending"   // sandbox ready; init containers running or none started yet
	PhaseRunning   PodPhase = "Running"   // every app container has started
	PhaseSucceeded PodPhase = "Succeeded" // every app container ended with 0 and none restarts
	PhaseFailed    PodPhase = "Failed"    // an init container failed under Never, or an app container ended non-zero and none restarts
	PhaseStopped   PodPhase = "Stopped"   // stopped by request
	// PhaseUnknown: the pod's monitor or pause is gone, or its creation was
	// interrupted; it can still be removed.
	PhaseUnknown PodPhase = "Unknown"
)

// Termination is how a container instance ended.
type Termination struct {
	ExitCode   int       `json:"exitCode"`
	Reason     string    `json:"reason"`
	Message    string    `json:"message,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
}

// ContainerStatus is one container's recorded state: its current instance
// and how the previous one ended.
type ContainerStatus struct {
	Name  string         `json:"name"`
	Kind  ContainerKind  `json:"kind"`
	State ContainerState `json:"state"`
	// Reason says why a container waits (ContainerCreating,
	// PodInitializing, CrashLoopBackOff) or how it terminated.
	Reason     string    `json:"reason,omitempty"`
	Message    string    `json:"message,omitempty"`
	PID        int       `json:"pid,omitempty"`
	StartedAt  time.Time `json:"startedAt,omitzero"`
	FinishedAt time.Time `json:"finishedAt,omitzero"`
	ExitCode   int       `json:"exitCode,omitempty"`
	// RestartCount counts restarts, as Kubernetes does.
	RestartCount int `json:"restartCount"`
	// LastTermination is how the previous instance ended.
	LastTermination *Termination `json:"lastTermination,omitempty"`
	// Started is true once the container has run (Kubernetes' started).
	Started bool `json:"started,omitempty"`
	// Created is when a managed pod's container was added (AddContainer).
	Created time.Time `json:"created,omitzero"`
	// CgroupPath is the container's absolute cgroup path.
	CgroupPath string `json:"cgroupPath"`
	// LogPath is the current instance's log file (CRI format).
	LogPath string `json:"logPath,omitempty"`
	// OOMBase is the cgroup's OOM kill count when the instance started.
	OOMBase uint64 `json:"oomBase,omitempty"`
	// Backoff is the delay before its next restart after a failure (none
	// yet: the first restart is immediate), kept here so that a lifecycle
	// that takes the pod on goes on with it.
	Backoff time.Duration `json:"backoff,omitempty"`
	// RestartAt is when a container waiting in CrashLoopBackOff restarts,
	// kept so that a lifecycle that takes the pod on restarts it then.
	RestartAt time.Time `json:"restartAt,omitzero"`
	// StartupPending: the running instance's postStart hook or startup
	// probe has not passed yet (Kubernetes' started is false).
	StartupPending bool `json:"startupPending,omitempty"`
	// NotReady: the running instance's readiness probe has not passed, or
	// failed since.
	NotReady bool `json:"notReady,omitempty"`
}

// termination is how the current instance ended.
func (c *ContainerStatus) termination() *Termination {
	return &Termination{ExitCode: c.ExitCode, Reason: c.Reason, Message: c.Message, StartedAt: c.StartedAt, FinishedAt: c.FinishedAt}
}

// Ready reports Kubernetes' ready: running, started (postStart hook and
// startup probe passed) and, with a readiness probe, passing it.
func (c *ContainerStatus) Ready() bool {
	return c.State == StateRunning && !c.StartupPending && !c.NotReady
}

// StartedProbe reports Kubernetes' started: running, with its postStart
// hook and startup probe passed.
func (c *ContainerStatus) StartedProbe() bool { return c.State == StateRunning && !c.StartupPending }

// PodStatus is what the state root knows about a pod, checked against the
// live processes when read.
type PodStatus struct {
	Name string `json:"name"`
	// UID is the pod's metadata.uid, made when it was created.
	UID   string   `json:"uid,omitempty"`
	Phase PodPhase `json:"phase"`
	// Warnings are what podbox worked around when it made the pod (a torn
	// lease file of the pod network, say): for the operator to see.
	Warnings []string `json:"warnings,omitempty"`
	// Reason is a word for why the pod is in its phase: Evicted.
	Reason  string    `json:"reason,omitempty"`
	Message string    `json:"message,omitempty"`
	Created time.Time `json:"created"`
	// StartTime is when the pod's containers began to start.
	StartTime time.Time `json:"startTime,omitzero"`
	// StoppingSince is when the lifecycle began to stop the pod's
	// containers (SIGTERM), for what a stop says it waits for.
	StoppingSince time.Time `json:"stoppingSince,omitzero"`
	PausePID      int       `json:"pausePid,omitempty"`
	PauseStart    uint64    `json:"pauseStart,omitempty"`
	// PauseRestarts counts the times the lifecycle started the pod's
	// pause again after it died.
	PauseRestarts int `json:"pauseRestarts,omitempty"`
	// MonitorPID is the process that runs the pod's lifecycle (podbox's
	// monitor, or an embedder); MonitorStart tells it from a reused PID.
	MonitorPID   int    `json:"monitorPid,omitempty"`
	MonitorStart uint64 `json:"monitorStart,omitempty"`
	// MonitorDetached: the lifecycle runs in a process of its own, a
	// detached monitor (RunMonitor), which Remove may kill; an embedder's
	// process is never signalled.
	MonitorDetached bool   `json:"monitorDetached,omitempty"`
	CgroupPath      string `json:"cgroupPath"`
	// PodIP is the pod's address; empty with hostNetwork. HostVeth is the
	// host end of its veth.
	PodIP    string `json:"podIP,omitempty"`
	HostVeth string `json:"hostVeth,omitempty"`
	// VolumePaths are the host paths of the pod's volumes, by name.
	VolumePaths map[string]string `json:"volumePaths,omitempty"`
	// MemoryQuota is the pod's memory quota, what admission counted.
	MemoryQuota int64 `json:"memoryQuota,omitempty"`
	// CPULimitMillis is the pod cgroup's CPU limit, set by Update (1000 =
	// one CPU); 0: none.
	CPULimitMillis int64 `json:"cpuLimitMillis,omitempty"`
	// LogDir is the directory of the pod's logs (see Options.LogRoot), and
	// LogMaxSize and LogMaxFiles how they are rotated: Options' values when
	// the pod was made.
	LogDir      string `json:"logDir,omitempty"`
	LogMaxSize  int64  `json:"logMaxSize,omitempty"`
	LogMaxFiles int    `json:"logMaxFiles,omitempty"`
	// AllowSwap is Options.AllowSwap when the pod was made: its restarted
	// containers keep the swap setting it started with.
	AllowSwap bool `json:"allowSwap,omitempty"`
	// Namespaces maps "net", "ipc", "uts" (and "pid" when shared) to the
	// pinned namespace files.
	Namespaces map[string]string `json:"namespaces,omitempty"`
	// UserNamespace is the pod's range of host IDs, with a user namespace
	// (Config.UserNamespace); nil without.
	UserNamespace  *UserNamespace    `json:"userNamespace,omitempty"`
	InitContainers []ContainerStatus `json:"initContainers,omitempty"`
	Containers     []ContainerStatus `json:"containers"`
	// EphemeralContainers are those added to the running pod, in the order
	// they were added (Config.EphemeralContainers).
	EphemeralContainers []ContainerStatus `json:"ephemeralContainers,omitempty"`
	Config              PodConfig         `json:"config"`
}

// lists are the pod's container statuses: init, app and ephemeral. The
// slices share the status's arrays, so a change through them sticks.
func (s *PodStatus) lists() [][]ContainerStatus {
	return [][]ContainerStatus{s.InitContainers, s.Containers, s.EphemeralContainers}
}

// container finds a container's status, init or app, by name.
func (s *PodStatus) container(name string) *ContainerStatus {
	for i := range s.InitContainers {
		if s.InitContainers[i].Name == name {
			return &s.InitContainers[i]
		}
	}
	for i := range s.Containers {
		if s.Containers[i].Name == name {
			return &s.Containers[i]
		}
	}
	for i := range s.EphemeralContainers {
		if s.EphemeralContainers[i].Name == name {
			return &s.EphemeralContainers[i]
		}
	}
	return nil
}

// containerConfig finds a container's configuration, init or app, by name.
func (s *PodStatus) containerConfig(name string) *ContainerConfig {
	for i := range s.Config.InitContainers {
		if s.Config.InitContainers[i].Name == name {
			return &s.Config.InitContainers[i]
		}
	}
	for i := range s.Config.Containers {
		if s.Config.Containers[i].Name == name {
			return &s.Config.Containers[i]
		}
	}
	for i := range s.Config.EphemeralContainers {
		if s.Config.EphemeralContainers[i].Name == name {
			return &s.Config.EphemeralContainers[i]
		}
	}
	return nil
}

const stateFile = "state.json"

// podLock is an exclusive flock(2) on the pod's directory: two processes
// (the CLI, a monitor, an embedder) never interleave changes to one pod.
type podLock struct{ f *os.File }

// lockDir takes the pod's lock. A directory removed while this waited for
// the lock (the pod was removed meanwhile) is os.ErrNotExist: the lock of
// a pod that is gone guards nothing.
func lockDir(dir string) (*podLock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", dir, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil || st.Nlink == 0 {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", dir, os.ErrNotExist)
	}
	return &podLock{f: f}, nil
}

func (l *podLock) unlock() {
	unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}

// readState reads dir/state.json.
func readState(dir string) (*PodStatus, error) {
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return nil, err
	}
	var s PodStatus
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("read pod state %q: %w", dir, err)
	}
	return &s, nil
}

// writeState replaces dir/state.json atomically, and appends to the pod's
// event journal what changed since the state it replaces (see Events).
func writeState(dir string, s *PodStatus) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	old, _ := readState(dir)
	if err := writeFileAtomic(filepath.Join(dir, stateFile), b); err != nil {
		return fmt.Errorf("write pod state %q: %w", dir, err)
	}
	appendEvents(dir, stateEvents(old, s))
	return nil
}

// writeFileAtomic replaces path with b (temp file, rename): a reader sees
// the old content or the new, never a torn one. There is no fsync: the state
// describes processes, which do not outlive a reboot either (the default
// root, /run/podbox, is a tmpfs on most hosts), and a pod's state is
// written several times as it starts.
func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
