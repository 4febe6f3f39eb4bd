package sandbox

import (
	"encoding/json"
	"errors"
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

// Termination reasons, as Kubernetes reports them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown: the process ended while nobody that could collect its
	// exit status was watching (its parent was another process that exited).
	ReasonUnknown = "Unknown"
)

// PodPhase is the pod's state as a whole.
type PodPhase string

const (
	PhaseCreated PodPhase = "Created" // sandbox ready, containers not started
	PhaseRunning PodPhase = "Running" // containers started
	PhaseStopped PodPhase = "Stopped" // stopped by request; sandbox released
	// PhaseUnknown: the pod's state says running but its pause process is
	// gone, or creation was interrupted.
	PhaseUnknown PodPhase = "Unknown"
)

// ContainerStatus is one container's recorded state.
type ContainerStatus struct {
	Name       string         `json:"name"`
	State      ContainerState `json:"state"`
	PID        int            `json:"pid,omitempty"`
	StartedAt  time.Time      `json:"startedAt,omitzero"`
	FinishedAt time.Time      `json:"finishedAt,omitzero"`
	ExitCode   int            `json:"exitCode,omitempty"`
	Reason     string         `json:"reason,omitempty"`
	// CgroupPath is the container's absolute cgroup path.
	CgroupPath string `json:"cgroupPath"`
	// oomBase is the cgroup's OOM kill count when the process started.
	OOMBase uint64 `json:"oomBase,omitempty"`
}

// PodStatus is what the state root knows about a pod, checked against the
// live processes when read.
type PodStatus struct {
	Name       string    `json:"name"`
	Phase      PodPhase  `json:"phase"`
	Created    time.Time `json:"created"`
	PausePID   int       `json:"pausePid,omitempty"`
	CgroupPath string    `json:"cgroupPath"`
	// Namespaces maps "net", "ipc", "uts" (and "pid" when shared) to the
	// pinned namespace files.
	Namespaces map[string]string `json:"namespaces,omitempty"`
	Containers []ContainerStatus `json:"containers"`
	Config     PodConfig         `json:"config"`
	// pauseStart is the pause's start time in clock ticks (/proc/PID/stat),
	// so that a reused PID is never mistaken for it.
	PauseStart uint64 `json:"pauseStart,omitempty"`
}

func (s *PodStatus) container(name string) *ContainerStatus {
	for i := range s.Containers {
		if s.Containers[i].Name == name {
			return &s.Containers[i]
		}
	}
	return nil
}

const stateFile = "state.json"

// podLock is an exclusive flock(2) on the pod's directory: two processes
// (the CLI, a monitor, an embedder) never interleave changes to one pod.
type podLock struct{ f *os.File }

func lockDir(dir string) (*podLock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %q: %w", dir, err)
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

// writeState replaces dir/state.json atomically (temp file, fsync, rename):
// a reader sees the old state or the new one, never a torn one.
func writeState(dir string, s *PodStatus) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".state-*")
	if err != nil {
		return fmt.Errorf("write pod state %q: %w", dir, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, stateFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write pod state %q: %w", dir, err)
	}
	return nil
}

// updateState applies fn to the pod's state under the pod lock.
func updateState(dir string, fn func(*PodStatus) error) error {
	l, err := lockDir(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ErrNotExist
		}
		return err
	}
	defer l.unlock()
	s, err := readState(dir)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	return writeState(dir, s)
}
