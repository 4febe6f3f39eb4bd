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
//     woken, the pause dies, or the time it asked for comes.
//
// Messages are JSON, one per datagram of a SOCK_SEQPACKET socket pair
// whose lifecycle end is the fd named by $PODBOX_SHIM_FD; pipes travel as
// SCM_RIGHTS.
package shim

import (
	"errors"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// The lifecycle's environment, set by the shim.
const (
	// EnvFD names the lifecycle's end of the socket.
	EnvFD = "PODBOX_SHIM_FD"
	// EnvRecover: the pod ran before; the lifecycle takes it on as
	// Recover does.
	EnvRecover = "PODBOX_SHIM_RECOVER"
	// EnvProto is the protocol the shim speaks (Proto): a lifecycle of
	// another podbox (installed while the pod ran) refuses to start rather
	// than be misunderstood.
	EnvProto = "PODBOX_SHIM_PROTO"
)

// Proto is this protocol's version.
const Proto = "1"

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

// Msg is one message. On the wire: "key\x00value\x00" for each field
// that is set (a path holds no NUL byte), Streams joined by ','. (No
// encoding/json nor fmt: they would be most of the shim's binary.)
type Msg struct {
	Op       string
	PID      int
	Name     string
	Path     string
	MaxSize  int64
	MaxFiles int
	Streams  []string
	Status   uint32
	Known    bool
	WakeAt   int64
	PausePID int
	Wakes    int
}

// maxMsg bounds a datagram (a log path is at most PATH_MAX).
const maxMsg = 8 << 10

func (m *Msg) encode() []byte {
	var b []byte
	str := func(k, v string) {
		if v != "" {
			b = append(append(append(append(b, k...), 0), v...), 0)
		}
	}
	num := func(k string, v int64) {
		if v != 0 {
			str(k, strconv.FormatInt(v, 10))
		}
	}
	str("op", m.Op)
	num("pid", int64(m.PID))
	str("name", m.Name)
	str("path", m.Path)
	num("maxSize", m.MaxSize)
	num("maxFiles", int64(m.MaxFiles))
	str("streams", strings.Join(m.Streams, ","))
	num("status", int64(m.Status))
	if m.Known {
		str("known", "1")
	}
	num("wakeAt", m.WakeAt)
	num("pausePid", int64(m.PausePID))
	num("wakes", int64(m.Wakes))
	return b
}

func decode(b []byte) (Msg, error) {
	var m Msg
	f := strings.Split(string(b), "\x00")
	if len(f)%2 != 1 || f[len(f)-1] != "" {
		return m, errors.New("shim message: not key/value pairs")
	}
	for i := 0; i+1 < len(f); i += 2 {
		k, v := f[i], f[i+1]
		var n int64
		var err error
		switch k {
		case "op":
			m.Op = v
		case "name":
			m.Name = v
		case "path":
			m.Path = v
		case "streams":
			m.Streams = strings.Split(v, ",")
		case "known":
			m.Known = v == "1"
		case "pid", "maxSize", "maxFiles", "status", "wakeAt", "pausePid", "wakes":
			if n, err = strconv.ParseInt(v, 10, 64); err != nil {
				return m, wrap(err, "shim message: "+k)
			}
		}
		switch k {
		case "pid":
			m.PID = int(n)
		case "maxSize":
			m.MaxSize = n
		case "maxFiles":
			m.MaxFiles = int(n)
		case "status":
			m.Status = uint32(n)
		case "wakeAt":
			m.WakeAt = n
		case "pausePid":
			m.PausePID = int(n)
		case "wakes":
			m.Wakes = int(n)
		}
	}
	return m, nil
}

func send(fd int, m Msg, files ...int) error {
	var oob []byte
	if len(files) > 0 {
		oob = unix.UnixRights(files...)
	}
	return unix.Sendmsg(fd, m.encode(), oob, nil, 0)
}

// parse decodes one datagram and its fds (which it closes on error).
func parse(b, oob []byte) (Msg, []int, error) {
	var fds []int
	if len(oob) > 0 {
		scms, err := unix.ParseSocketControlMessage(oob)
		if err != nil {
			return Msg{}, nil, wrap(err, "shim message")
		}
		for _, scm := range scms {
			if got, err := unix.ParseUnixRights(&scm); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	m, err := decode(b)
	if err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return Msg{}, nil, err
	}
	return m, fds, nil
}

// wrapped is an error said with what failed, as fmt.Errorf("%s: %w") says
// it.
type wrapped struct {
	msg string
	err error
}

func (w *wrapped) Error() string { return w.msg + ": " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func wrap(err error, msg string) error { return &wrapped{msg: msg, err: err} }
