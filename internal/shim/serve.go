package shim

import (
	"errors"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/internal/crilog"
)

// Names in the pod's directory, the sandbox library's too.
const (
	// WakeFile is the pod's wake FIFO.
	WakeFile = "ephemeral-wake"
	// ReopenPrefix begins the names of ReopenLog's request files.
	ReopenPrefix = "reopen-log."
	// MonitorLog is where the shim and the lifecycle write what they say.
	MonitorLog = "monitor.log"
)

// Arg is the shim's argv[1]: "podbox-shim shim POD-DIR LIFECYCLE-BINARY
// POD", with the lifecycle's configuration on fd 3 and the caller's
// started pipe on fd 4 (see sandbox.StartMonitor). LifecycleArgs are what
// the lifecycle binary is run with, after its own name and before POD.
const Arg = "shim"

// maxReaped bounds the exit statuses kept for a lifecycle to ask for.
const maxReaped = 1024

type server struct {
	dir, bin, ref string
	env           []string
	cfg           []byte
	started       *os.File // the first lifecycle's started pipe, then nil

	// The lifecycle now running (pid 0: none), its socket, and what it
	// said.
	pid       int
	sock      *socket
	gen       int
	idle      *Msg
	forwarded int
	// ending: the lifecycle ended the pod; the shim exits once the logs
	// are copied.
	ending bool
	// exited and eof: the lifecycle was collected, and its socket read to
	// its end (see maybeEnded).
	exited *unix.WaitStatus
	eof    bool

	logs     map[int]*ctrLog
	reaped   map[int]unix.WaitStatus
	order    []int
	askExit  map[int]bool
	askDrain map[int]bool

	timer *time.Timer
	pause *os.File

	events chan event
}

type ctrLog struct {
	name string
	w    *crilog.Writer
	left int
}

type event struct {
	kind string // "msg", "eof", "copied", "wake", "timer", "pause"
	gen  int
	msg  Msg
	fds  []int
	pid  int
}

// Main runs the shim; args are its arguments after Arg. It returns the
// process's exit code.
func Main(args []string) int {
	if len(args) != 3 {
		os.Stderr.WriteString("podbox-shim: started by podbox as a pod's monitor; it is not a command of its own\n")
		return 2
	}
	s := &server{
		dir: args[0], bin: args[1], ref: args[2],
		logs: map[int]*ctrLog{}, reaped: map[int]unix.WaitStatus{}, askExit: map[int]bool{}, askDrain: map[int]bool{},
		events: make(chan event, 64),
	}
	if err := s.run(); err != nil {
		s.logf("pod " + strconv.Quote(s.ref) + ": " + err.Error())
		return 1
	}
	return 0
}

// logf writes a line to the pod's monitor.log.
func (s *server) logf(msg string) {
	os.Stderr.WriteString(time.Now().UTC().Format(time.RFC3339) + " podbox-shim: " + msg + "\n")
}

func (s *server) run() error {
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return wrap(err, "become a subreaper")
	}
	// No signal handler: os/signal's costs three threads, the most of
	// what an idle shim would keep. Children are watched through pidfds
	// (watchPID); the pod is stopped with podbox stop, not a signal.
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE, unix.SIGTERM, unix.SIGINT)
	s.env = os.Environ()
	// The first lifecycle starts at once, so that its start overlaps the
	// pod's creation (StartMonitor), and waits for the configuration the
	// shim passes on. It is born in the caller's cgroup, and moves itself
	// to the shim's once the pod started, off the caller's path, unless it
	// leaves first.
	s.started = os.NewFile(4, "started")
	cfgW, err := s.spawn(false)
	if err != nil {
		return err
	}
	cfgR := os.NewFile(3, "config")
	b, err := io.ReadAll(io.LimitReader(cfgR, 1<<20))
	cfgR.Close()
	if err != nil || len(b) == 0 {
		// Aborted: no pod to run. Nor for the lifecycle, which exits.
		cfgW.Close()
		var ws unix.WaitStatus
		for {
			if _, err := unix.Wait4(s.pid, &ws, 0, nil); err != unix.EINTR {
				return nil
			}
		}
	}
	s.cfg = b
	go func() { cfgW.Write(b); cfgW.Close() }()
	if f, err := os.OpenFile(filepath.Join(s.dir, MonitorLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		unix.Dup2(int(f.Fd()), 1)
		unix.Dup2(int(f.Fd()), 2)
		f.Close()
	}
	if err := s.listenWake(); err != nil {
		return err
	}
	// Orphans a container leaves (with the host's PID namespace) are
	// reparented here too, unannounced: collected now and then.
	sweep := time.NewTicker(sweepInterval)
	defer sweep.Stop()
	for {
		select {
		case <-sweep.C:
			s.reap(-1)
		case ev := <-s.events:
			s.handle(ev)
		}
		if s.ending && s.pid == 0 && len(s.logs) == 0 {
			return nil
		}
	}
}

// sweepInterval is how often the shim collects children it was not told
// of.
const sweepInterval = 10 * time.Second

// watchPID sends a "child" event when pid ends (at once when it is gone).
func (s *server) watchPID(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		// Gone already. Not sent from here: this is the loop that reads
		// the events.
		go func() { s.events <- event{kind: "child", pid: pid} }()
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	go func() {
		waitPidfd(f)
		f.Close()
		s.events <- event{kind: "child", pid: pid}
	}()
}

// waitPidfd waits, through Go's poller, until the process of the pidfd f
// ended (true) or f is closed (false).
func waitPidfd(f *os.File) bool {
	rc, err := f.SyscallConn()
	if err != nil {
		return false
	}
	return rc.Read(func(fd uintptr) bool {
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(pfd, 0)
		return n > 0
	}) == nil
}

// listenWake makes the pod's wake FIFO and reads it.
func (s *server) listenWake() error {
	p := filepath.Join(s.dir, WakeFile)
	if err := unix.Mkfifo(p, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return wrap(err, "make "+p)
	}
	// Read-write: the FIFO never reports end-of-file for want of a writer.
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	go func() {
		b := make([]byte, 64)
		for {
			if _, err := f.Read(b); err != nil {
				return
			}
			s.events <- event{kind: "wake"}
		}
	}()
	return nil
}

// spawn starts a lifecycle: the first one (recover false) runs the pod
// from its start; the next ones take it on where it is. Its configuration
// is to be written to cfgW.
func (s *server) spawn(recover bool) (cfgW *os.File, err error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, wrap(err, "start the lifecycle")
	}
	child := os.NewFile(uintptr(pair[1]), "shim-child")
	defer child.Close()
	sock, err := newSocket(pair[0], "shim")
	if err != nil {
		unix.Close(pair[0])
		return nil, wrap(err, "start the lifecycle")
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		sock.f.Close()
		return nil, wrap(err, "start the lifecycle")
	}
	defer cfgR.Close()
	started := s.started
	if started == nil {
		if started, err = os.OpenFile(os.DevNull, os.O_WRONLY, 0); err != nil {
			sock.f.Close()
			cfgW.Close()
			return nil, wrap(err, "start the lifecycle")
		}
	}
	s.started = nil
	env := append(append([]string(nil), s.env...), EnvFD+"=5", EnvProto+"="+Proto, "_PODBOX_MONITOR=1")
	if recover {
		env = append(env, EnvRecover+"=1")
	}
	p, err := os.StartProcess(s.bin, []string{s.bin, "podbox-monitor", s.ref}, &os.ProcAttr{
		Env:   env,
		Files: []*os.File{nil, os.Stdout, os.Stderr, cfgR, started, child},
		// A lifecycle never outlives its shim (as it would, unseen, if the
		// shim were killed): the pod is then as a killed monitor leaves it.
		Sys: &syscall.SysProcAttr{Pdeathsig: unix.SIGKILL},
	})
	started.Close()
	if err != nil {
		sock.f.Close()
		cfgW.Close()
		return nil, wrap(err, "start the lifecycle "+strconv.Quote(s.bin))
	}
	s.pid, s.sock, s.idle, s.forwarded, s.exited, s.eof = p.Pid, sock, nil, 0, nil, false
	p.Release() // collected by reap, with the containers (Release makes p.Pid -1)
	s.watchPID(s.pid)
	s.gen++
	gen := s.gen
	go func() {
		for {
			m, fds, err := sock.recv()
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				if err != io.EOF {
					s.logf("pod " + strconv.Quote(s.ref) + ": from its lifecycle: " + err.Error())
				}
				s.events <- event{kind: "eof", gen: gen}
				return
			}
			s.events <- event{kind: "msg", gen: gen, msg: m, fds: fds}
		}
	}()
	s.quiet()
	return cfgW, nil
}

// quiet cancels what an idle shim waits for.
func (s *server) quiet() {
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	if s.pause != nil {
		s.pause.Close()
		s.pause = nil
	}
}

// wakeUp starts a lifecycle to handle what came (tell: pass it a wake-up).
func (s *server) wakeUp(tell bool) {
	if s.pid != 0 || s.ending {
		return
	}
	cfgW, err := s.spawn(true)
	if err != nil {
		s.logf("pod " + strconv.Quote(s.ref) + ": " + err.Error())
		s.ending = true
		return
	}
	// It fits in the pipe's buffer (64 kB), or is written as the
	// lifecycle reads it.
	go func() { cfgW.Write(s.cfg); cfgW.Close() }()
	if tell {
		s.forward()
	}
}

func (s *server) forward() {
	if err := s.sock.send(Msg{Op: OpWake}); err == nil {
		s.forwarded++
	}
}

// reap collects which (-1: every child) if it ended: the lifecycle, or
// containers that were reparented to the shim.
func (s *server) reap(which int) {
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(which, &ws, unix.WNOHANG|unix.WALL, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
		if pid == s.pid {
			s.exited = &ws
			s.maybeEnded()
			// Its containers are the shim's now, and those that ended
			// before it handled their end are zombies to collect.
			which = -1
			continue
		}
		s.reaped[pid] = ws
		s.order = append(s.order, pid)
		if len(s.order) > maxReaped {
			delete(s.reaped, s.order[0])
			s.order = s.order[1:]
		}
		if s.askExit[pid] {
			delete(s.askExit, pid)
			s.answerExit(pid)
		}
		if s.pid == 0 {
			s.wakeUp(false) // a container ended: the pod's policy says what next
		}
		if which != -1 {
			return
		}
	}
}

func (s *server) answerExit(pid int) {
	ws, ok := s.reaped[pid]
	if ok {
		delete(s.reaped, pid)
	}
	if s.sock != nil {
		s.sock.send(Msg{Op: OpExit, PID: pid, Status: uint32(ws), Known: ok})
	}
}

// maybeEnded calls lifecycleEnded once the lifecycle was collected and its
// messages were read to their end: what it said before it exited (that
// it goes idle) may come after its exit is seen.
func (s *server) maybeEnded() {
	if s.exited != nil && s.eof {
		ws := *s.exited
		s.exited, s.eof = nil, false
		s.lifecycleEnded(ws)
	}
}

// lifecycleEnded: the lifecycle exited. Idle, it is started again when
// there is work; else the pod ended (or its lifecycle failed) and the
// shim ends too, once the logs are copied.
func (s *server) lifecycleEnded(ws unix.WaitStatus) {
	idle, pid := s.idle, s.pid
	s.pid, s.idle = 0, nil
	if s.sock != nil {
		s.sock.f.Close()
		s.sock = nil
	}
	s.askExit, s.askDrain = map[int]bool{}, map[int]bool{}
	if idle == nil || !ws.Exited() || ws.ExitStatus() != 0 {
		if !ws.Exited() || ws.ExitStatus() != 0 {
			s.logf("pod " + strconv.Quote(s.ref) + ": its lifecycle (pid " + strconv.Itoa(pid) + ") ended: " + waitString(ws))
		}
		s.ending = true
		// Containers still running (a lifecycle that failed) keep their
		// output, up to a bound; ended ones close their pipes now.
		if len(s.logs) > 0 {
			time.AfterFunc(2*time.Second, func() { s.events <- event{kind: "timer", gen: -1} })
		}
		return
	}
	// Work that came while it decided to go: start it again at once.
	if s.forwarded > idle.Wakes || len(s.reaped) > 0 {
		s.wakeUp(s.forwarded > idle.Wakes)
		return
	}
	if idle.WakeAt != 0 {
		s.timer = time.AfterFunc(time.Until(time.Unix(0, idle.WakeAt)), func() { s.events <- event{kind: "timer", gen: s.gen} })
	}
	if idle.PausePID > 0 {
		s.watchPause(idle.PausePID)
	}
}

func waitString(ws unix.WaitStatus) string {
	if ws.Signaled() {
		return "killed by " + ws.Signal().String()
	}
	return "exit status " + strconv.Itoa(ws.ExitStatus())
}

// watchPause starts a lifecycle when the pause ends.
func (s *server) watchPause(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		go func() { s.events <- event{kind: "pause"} }() // gone already
		return
	}
	// Closing it (quiet) ends the watch.
	f := os.NewFile(uintptr(fd), "pause")
	s.pause = f
	go func() {
		if waitPidfd(f) {
			s.events <- event{kind: "pause"}
		}
	}()
}

func (s *server) handle(ev event) {
	switch ev.kind {
	case "child":
		// The lifecycle, or a container: collected if it is the shim's
		// child (a container the running lifecycle started is its own).
		s.reap(ev.pid)
	case "wake":
		s.reopenLogs()
		if s.pid != 0 {
			s.forward()
		} else {
			s.wakeUp(true)
		}
	case "timer":
		if ev.gen == -1 { // the bound on a failed lifecycle's logs
			for pid, l := range s.logs {
				l.w.Close()
				delete(s.logs, pid)
			}
			return
		}
		if s.timer != nil {
			s.timer = nil
			s.wakeUp(false)
		}
	case "pause":
		if s.pause != nil || s.pid == 0 {
			s.wakeUp(false)
		}
	case "copied":
		l := s.logs[ev.pid]
		if l == nil {
			return
		}
		if l.left--; l.left > 0 {
			return
		}
		l.w.Close()
		delete(s.logs, ev.pid)
		if s.askDrain[ev.pid] {
			delete(s.askDrain, ev.pid)
			if s.sock != nil {
				s.sock.send(Msg{Op: OpDrained, PID: ev.pid})
			}
		}
	case "eof":
		// The lifecycle's end of the socket closed, after every message
		// it sent was handled.
		if ev.gen == s.gen {
			s.eof = true
			s.maybeEnded()
		}
	case "msg":
		if ev.gen != s.gen {
			closeAll(ev.fds)
			return
		}
		s.message(ev.msg, ev.fds)
	}
}

func closeAll(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

func (s *server) message(m Msg, fds []int) {
	switch m.Op {
	case OpLogs:
		if len(fds) != len(m.Streams) || len(fds) == 0 || m.PID <= 0 {
			s.logf("pod " + strconv.Quote(s.ref) + ": container " + strconv.Quote(m.Name) + ": " + strconv.Itoa(len(m.Streams)) + " streams with " + strconv.Itoa(len(fds)) + " pipes")
			closeAll(fds)
			return
		}
		w, err := crilog.Open(m.Path, m.MaxSize, m.MaxFiles)
		if err != nil {
			s.logf("pod " + strconv.Quote(s.ref) + ": log of container " + strconv.Quote(m.Name) + ": " + err.Error())
			closeAll(fds)
			return
		}
		s.logs[m.PID] = &ctrLog{name: m.Name, w: w, left: len(fds)}
		s.watchPID(m.PID)
		for i, fd := range fds {
			// Non-blocking, so that Go's poller waits for it, not a thread.
			unix.SetNonblock(fd, true)
			f := os.NewFile(uintptr(fd), m.Streams[i])
			stream, pid := m.Streams[i], m.PID
			go func() {
				w.CopyLines(stream, f)
				s.events <- event{kind: "copied", pid: pid}
			}()
		}
	case OpDrain:
		closeAll(fds)
		if _, copying := s.logs[m.PID]; copying {
			s.askDrain[m.PID] = true
			return
		}
		s.sock.send(Msg{Op: OpDrained, PID: m.PID})
	case OpExit:
		closeAll(fds)
		if _, ok := s.reaped[m.PID]; ok {
			s.answerExit(m.PID)
			return
		}
		var ws unix.WaitStatus
		pid, err := unix.Wait4(m.PID, &ws, unix.WNOHANG|unix.WALL, nil)
		switch {
		case pid == m.PID:
			s.reaped[pid] = ws
			s.answerExit(pid)
		case err != nil: // ECHILD: not the shim's
			s.answerExit(m.PID)
		default:
			s.askExit[m.PID] = true
			s.watchPID(m.PID)
		}
	case OpIdle:
		closeAll(fds)
		m := m
		s.idle = &m
	default:
		closeAll(fds)
	}
}

// reopenLogs answers ReopenLog's requests for the logs the shim writes;
// the others are the lifecycle's.
func (s *server) reopenLogs() {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name, ok := strings.CutPrefix(e.Name(), ReopenPrefix)
		if !ok {
			continue
		}
		for _, l := range s.logs {
			if l.name != name {
				continue
			}
			if err := l.w.Reopen(); err != nil {
				s.logf("pod " + strconv.Quote(s.ref) + ": reopen the log of container " + strconv.Quote(name) + ": " + err.Error())
				break
			}
			os.Remove(filepath.Join(s.dir, e.Name()))
		}
	}
}
