package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// EventType says what happened to a pod or one of its containers.
type EventType string

const (
	// EventPodCreated: Create made the pod (Phase Unknown until its
	// sandbox is ready, then EventPodPhase says Pending).
	EventPodCreated EventType = "PodCreated"
	// EventPodPhase: the pod's phase changed (Phase).
	EventPodPhase EventType = "PodPhase"
	// EventContainerStarted: an instance of Container started (PID,
	// RestartCount).
	EventContainerStarted EventType = "ContainerStarted"
	// EventContainerExited: an instance of Container ended, or could not
	// start (ExitCode, Reason: Completed, Error, OOMKilled, StartError,
	// Stopped, Unknown; Message).
	EventContainerExited EventType = "ContainerExited"
	// EventPodRemoved: the pod is gone (Remove).
	EventPodRemoved EventType = "PodRemoved"
)

// Event is one change of a pod, as Events delivers it.
type Event struct {
	Type EventType `json:"type"`
	Time time.Time `json:"time"`
	// Pod is the pod's reference, UID its metadata.uid.
	Pod string `json:"pod"`
	UID string `json:"uid,omitempty"`
	// Phase is the pod's phase after the change.
	Phase PodPhase `json:"phase,omitempty"`
	// Container is the container's name, for container events.
	Container    string        `json:"container,omitempty"`
	Kind         ContainerKind `json:"kind,omitempty"`
	PID          int           `json:"pid,omitempty"`
	RestartCount int           `json:"restartCount,omitempty"`
	ExitCode     int           `json:"exitCode,omitempty"`
	Reason       string        `json:"reason,omitempty"`
	Message      string        `json:"message,omitempty"`
}

// eventsFile is the pod's event journal: one JSON Event a line, appended
// as its state is written (by whichever process runs its lifecycle), and
// read by Events in any process.
const eventsFile = "events"

// maxEventsFile is the journal's size at which it is begun anew (the old
// one kept aside as eventsFile.1 until the next time), so that a pod that
// restarts for months holds a bounded file.
const maxEventsFile = 1 << 20

// stateEvents are the events between two states of a pod; old is nil for
// a pod just made.
func stateEvents(old, s *PodStatus) []Event {
	now := time.Now().UTC()
	base := Event{Time: now, Pod: s.Ref(), UID: s.UID, Phase: s.Phase}
	var evs []Event
	if old == nil {
		ev := base
		ev.Type = EventPodCreated
		evs = append(evs, ev)
	}
	for _, list := range s.lists() {
		for i := range list {
			cs := &list[i]
			var prev *ContainerStatus
			if old != nil {
				prev = old.container(cs.Name)
			}
			// An instance that ended: the latest termination (the current
			// one, or the last before a restart) is new.
			if t := latestTermination(cs); t != nil && (prev == nil || latestTermination(prev) == nil || !latestTermination(prev).FinishedAt.Equal(t.FinishedAt) || latestTermination(prev).Reason != t.Reason) {
				ev := base
				ev.Type, ev.Container, ev.Kind = EventContainerExited, cs.Name, cs.Kind
				ev.ExitCode, ev.Reason, ev.Message, ev.RestartCount = t.ExitCode, t.Reason, t.Message, cs.RestartCount
				if cs.State != StateTerminated {
					ev.RestartCount-- // the instance before the current one
				}
				if !t.FinishedAt.IsZero() {
					ev.Time = t.FinishedAt
				}
				evs = append(evs, ev)
			}
			if cs.State == StateRunning && (prev == nil || prev.State != StateRunning || prev.PID != cs.PID || !prev.StartedAt.Equal(cs.StartedAt)) {
				ev := base
				ev.Type, ev.Container, ev.Kind, ev.PID, ev.RestartCount = EventContainerStarted, cs.Name, cs.Kind, cs.PID, cs.RestartCount
				if !cs.StartedAt.IsZero() {
					ev.Time = cs.StartedAt
				}
				evs = append(evs, ev)
			}
		}
	}
	if old != nil && old.Phase != s.Phase {
		ev := base
		ev.Type = EventPodPhase
		ev.Reason, ev.Message = s.Reason, s.Message
		evs = append(evs, ev)
	}
	return evs
}

// latestTermination is how the container's last ended instance ended, nil
// when none has.
func latestTermination(cs *ContainerStatus) *Termination {
	if cs.State == StateTerminated {
		return cs.termination()
	}
	return cs.LastTermination
}

// appendEvents adds evs to the pod's journal.
func appendEvents(dir string, evs []Event) {
	if len(evs) == 0 {
		return
	}
	p := filepath.Join(dir, eventsFile)
	if fi, err := os.Stat(p); err == nil && fi.Size() > maxEventsFile {
		os.Rename(p, p+".1")
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	var b []byte
	for _, ev := range evs {
		line, _ := json.Marshal(ev)
		b = append(append(b, line...), '\n')
	}
	f.Write(b) // one write: a reader never sees half an event list
}

// journal is a reader's position in one pod's event journal.
type journal struct {
	dirIno uint64
	f      *os.File
	r      *bufio.Reader
	ref    string
	uid    string
}

// Events delivers the events of every pod under the state root, from now
// on, until ctx ends (then the channel is closed): pods created, their
// phases, their containers' starts and exits with exit code and reason,
// and their removal. The events come from the journal each pod's
// lifecycle writes with its state, so they are seen whichever process
// runs the lifecycle (this one, a detached monitor, another embedder).
// Events of one pod come in order; a reader that falls behind holds the
// journal, not memory.
//
// Equivalent to: ctr events (containerd's Subscribe)
func (m *Manager) Events(ctx context.Context) (<-chan Event, error) {
	podsDir := filepath.Join(m.opts.Root, "pods")
	if err := os.MkdirAll(podsDir, 0o700); err != nil {
		return nil, fmt.Errorf("events: %w", err)
	}
	known := map[string]*journal{}
	// What is there now is history: begin at the end of each journal.
	m.scanJournals(podsDir, known, true)
	ch := make(chan Event, 64)
	go func() {
		defer close(ch)
		defer func() {
			for _, j := range known {
				j.close()
			}
		}()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, ev := range m.scanJournals(podsDir, known, false) {
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return ch, nil
}

// scanJournals reads what the pods' journals gained since the last scan,
// opening those of new pods (from their start, or their end when atEnd)
// and saying which pods went.
func (m *Manager) scanJournals(podsDir string, known map[string]*journal, atEnd bool) []Event {
	var evs []Event
	ents, _ := os.ReadDir(podsDir)
	seen := map[string]bool{}
	for _, e := range ents {
		ref := refOfDir(e.Name())
		if _, _, err := ParseRef(ref); !e.IsDir() || err != nil {
			continue
		}
		dir := filepath.Join(podsDir, e.Name())
		var st syscall.Stat_t
		if syscall.Stat(dir, &st) != nil {
			continue
		}
		j := known[e.Name()]
		if j != nil && j.dirIno != st.Ino {
			// Removed and made again between two scans.
			evs = append(evs, j.removed())
			j.close()
			j = nil
		}
		if j == nil {
			j = &journal{dirIno: st.Ino, ref: ref}
			known[e.Name()] = j
			if atEnd {
				j.open(dir, true)
			}
		}
		seen[e.Name()] = true
		evs = append(evs, j.read(dir)...)
	}
	for name, j := range known {
		if !seen[name] {
			evs = append(evs, j.removed())
			j.close()
			delete(known, name)
		}
	}
	return evs
}

func (j *journal) open(dir string, atEnd bool) {
	f, err := os.Open(filepath.Join(dir, eventsFile))
	if err != nil {
		return
	}
	if atEnd {
		f.Seek(0, io.SeekEnd)
	}
	j.f, j.r = f, bufio.NewReader(f)
}

func (j *journal) close() {
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}

// read returns the whole events the journal gained; when it was begun
// anew, the rest of the old one first.
func (j *journal) read(dir string) []Event {
	if j.f == nil {
		j.open(dir, false)
		if j.f == nil {
			return nil
		}
	}
	var evs []Event
	for {
		line, err := j.r.ReadBytes('\n')
		if err != nil {
			// A line not finished yet is read again next time.
			if len(line) > 0 {
				j.f.Seek(-int64(len(line)), io.SeekCurrent)
				j.r.Reset(j.f)
			}
			break
		}
		var ev Event
		if json.Unmarshal(line, &ev) == nil {
			if ev.UID != "" {
				j.uid = ev.UID
			}
			evs = append(evs, ev)
		}
	}
	if cur, err := os.Stat(filepath.Join(dir, eventsFile)); err == nil {
		if open, err := j.f.Stat(); err == nil && !os.SameFile(open, cur) {
			j.close()
			j.open(dir, false)
			evs = append(evs, j.read(dir)...)
		}
	}
	return evs
}

func (j *journal) removed() Event {
	return Event{Type: EventPodRemoved, Time: time.Now().UTC(), Pod: j.ref, UID: j.uid}
}

// Wait waits until the pod has ended (Succeeded, Failed or Stopped), or
// its lifecycle is gone (Unknown), and returns its status then; a pod
// removed meanwhile is ErrNotExist. It returns ctx.Err() when ctx ends
// first.
//
// Equivalent to: containerd's task.Wait
func (m *Manager) Wait(ctx context.Context, pod string) (*PodStatus, error) {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := m.Events(wctx)
	if err != nil {
		return nil, err
	}
	// Also look now and then: a lifecycle that dies writes no event.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	want := canonical(pod)
	for {
		st, err := m.Status(ctx, pod)
		if err != nil {
			return nil, err
		}
		switch st.Phase {
		case PhaseSucceeded, PhaseFailed, PhaseStopped, PhaseUnknown:
			return st, nil
		}
	wait:
		for {
			select {
			case ev, ok := <-evs:
				if !ok {
					return nil, ctx.Err()
				}
				if canonical(ev.Pod) == want && (ev.Type == EventPodPhase || ev.Type == EventPodRemoved) {
					break wait
				}
			case <-tick.C:
				break wait
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, ctx.Err()
		}
	}
}
