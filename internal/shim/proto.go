// Package shim is podbox-shim, the small process that stays with a pod for
// its whole life, and the protocol between it and the pod's lifecycle (the
// sandbox library's Run, in podbox-monitor).
//
// The lifecycle links libcontainer, gRPC and the rest of the library: tens
// of megabytes that every pod would keep resident. The shim links this
// package and crilog only. It starts the lifecycle as its child, whenever
// there is work, and keeps what must outlive it:
//
//   - it is the containers' subreaper: a container the lifecycle started is
//     reparented to the shim when the lifecycle exits, and the shim collects
//     its exit status for the next lifecycle (Exit);
//   - it copies the containers' output into their CRI log files (the
//     lifecycle hands it the pipes' read ends, Logs) and reopens them for
//     ReopenLog;
//   - it reads the pod's wake FIFO, and passes the wake-ups to the
//     lifecycle, or starts one to handle them;
//   - when the lifecycle has nothing to do (every container running, no
//     probe, hook, timer or attached client: Idle) it exits, and the shim
//     starts it again, in recover mode, when a container ends, the pod is
//     woken, the pause dies, SIGTERM comes, or the time it asked for comes.
//
// Messages are JSON, one per datagram of a SOCK_SEQPACKET socket pair
// whose lifecycle end is the fd named by $PODBOX_SHIM_FD; pipes travel as
// SCM_RIGHTS.
package shim

import (
	"encoding/json"
	"fmt"

	"golang.org/x/sys/unix"
)

// The lifecycle's environment, set by the shim.
const (
	// EnvFD names the lifecycle's end of the socket.
	EnvFD = "PODBOX_SHIM_FD"
	// EnvRecover: the pod ran before; the lifecycle takes it on as
	// Recover does.
	EnvRecover = "PODBOX_SHIM_RECOVER"
	// EnvStop: the shim was asked to stop the pod (SIGTERM or SIGINT).
	EnvStop = "PODBOX_SHIM_STOP"
)

// Operations.
const (
	// OpLogs (lifecycle to shim): copy the container's streams, whose read
	// ends come with the message in the order of Streams, into Path.
	OpLogs = "logs"
	// OpDrain (lifecycle to shim): answer OpDrained once the copy of PID's
	// streams ended (at once when there is none).
	OpDrain   = "drain"
	OpDrained = "drained"
	// OpExit (both ways): the lifecycle asks how PID, one of the shim's
	// children, ended; the shim answers once it knows (Known false: PID is
	// not its child and never was).
	OpExit = "exit"
	// OpIdle (lifecycle to shim): the lifecycle exits; start it again at
	// WakeAt (Unix nanoseconds, 0: no time) or when PausePID dies, and
	// Wakes is how many OpWake it had.
	OpIdle = "idle"
	// OpWake (shim to lifecycle): the pod's wake FIFO was written.
	OpWake = "wake"
)

// Msg is one message.
type Msg struct {
	Op       string   `json:"op"`
	PID      int      `json:"pid,omitempty"`
	Name     string   `json:"name,omitempty"`
	Path     string   `json:"path,omitempty"`
	MaxSize  int64    `json:"maxSize,omitempty"`
	MaxFiles int      `json:"maxFiles,omitempty"`
	Streams  []string `json:"streams,omitempty"`
	Status   uint32   `json:"status,omitempty"`
	Known    bool     `json:"known,omitempty"`
	WakeAt   int64    `json:"wakeAt,omitempty"`
	PausePID int      `json:"pausePid,omitempty"`
	Wakes    int      `json:"wakes,omitempty"`
}

// maxMsg bounds a datagram (a log path is at most PATH_MAX).
const maxMsg = 8 << 10

func send(fd int, m Msg, files ...int) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	var oob []byte
	if len(files) > 0 {
		oob = unix.UnixRights(files...)
	}
	return unix.Sendmsg(fd, b, oob, nil, 0)
}

// parse decodes one datagram and its fds (which it closes on error).
func parse(b, oob []byte) (Msg, []int, error) {
	var fds []int
	if len(oob) > 0 {
		scms, err := unix.ParseSocketControlMessage(oob)
		if err != nil {
			return Msg{}, nil, fmt.Errorf("shim message: %w", err)
		}
		for _, scm := range scms {
			if got, err := unix.ParseUnixRights(&scm); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	var m Msg
	if err := json.Unmarshal(b, &m); err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return Msg{}, nil, fmt.Errorf("shim message: %w", err)
	}
	return m, fds, nil
}
