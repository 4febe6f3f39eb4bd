package sandbox

import (
	"testing"
	"time"

	"github.com/podbox/podbox/internal/shim"
)

// A lifecycle leaves the pod to its shim while a container waits out a
// restart backoff, but not when that restart is due soon or overdue: a
// lifecycle the shim started for an overdue restart that left again at
// once would be started again and again, the container never restarted
// (seen in the v2 VM, where a lifecycle takes seconds to start).
func TestIdleWithRestartDue(t *testing.T) {
	for _, c := range []struct {
		in   time.Duration
		idle bool
	}{
		{-time.Second, false},
		{0, false},
		{restartSoon / 2, false},
		{restartSoon + 5*time.Second, true},
	} {
		r := &runner{
			opts:       RunOptions{shim: &shim.Conn{Wakes: make(chan struct{}, 1)}},
			st:         &PodStatus{Phase: PhaseRunning},
			timers:     map[string]*time.Timer{},
			restartDue: make(chan string, 1),
		}
		r.st.Config.Containers = []ContainerConfig{{Name: "app"}}
		r.st.Containers = []ContainerStatus{{Name: "app", State: StateWaiting, Reason: ReasonCrashLoopBackOff, RestartAt: time.Now().Add(c.in)}}
		r.timers["app"] = time.NewTimer(time.Hour)
		if got := r.idle(); got != c.idle {
			t.Errorf("restart due in %s: idle() = %v, want %v", c.in, got, c.idle)
		}
		r.timers["app"].Stop()
	}
}
