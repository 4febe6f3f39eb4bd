package shim

import (
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socket is one end of the shim's socket pair, read through Go's poller.
type socket struct {
	f  *os.File
	rc syscall.RawConn
	// One reader at a time: its buffers.
	buf, oob []byte
}

func newSocket(fd int, name string) (*socket, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &socket{f: f, rc: rc, buf: make([]byte, maxMsg), oob: make([]byte, unix.CmsgSpace(4*8))}, nil
}

// recv reads one message; io.EOF once the other end is closed.
func (s *socket) recv() (Msg, []int, error) {
	b, oob := s.buf, s.oob
	var n, oobn int
	var rerr error
	err := s.rc.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = unix.Recvmsg(int(fd), b, oob, unix.MSG_CMSG_CLOEXEC)
		return rerr != unix.EAGAIN
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return Msg{}, nil, err
	}
	if n == 0 && oobn == 0 {
		return Msg{}, nil, io.EOF
	}
	return parse(b[:n], oob[:oobn])
}

func (s *socket) send(m Msg, files ...int) error {
	var serr error
	err := s.rc.Write(func(fd uintptr) bool {
		serr = send(int(fd), m, files...)
		return serr != unix.EAGAIN
	})
	if err == nil {
		err = serr
	}
	return err
}

// Conn is the lifecycle's end: what a lifecycle started by the shim uses
// to hand it the containers' logs, ask for exit statuses, and say that it
// goes idle. Its methods may be called from any goroutine.
type Conn struct {
	s *socket
	// Wakes receives the shim's wake-ups (one pending is enough).
	Wakes chan struct{}

	mu      sync.Mutex
	wakes   int
	waiters map[string]chan Msg
	closed  bool
}

// FromEnv is the lifecycle's connection to the shim that started it; nil
// when the process was not started by one.
func FromEnv() (*Conn, error) {
	v := os.Getenv(EnvFD)
	if v == "" {
		return nil, nil
	}
	os.Unsetenv(EnvFD)
	if p := os.Getenv(EnvProto); p != Proto {
		return nil, errors.New("started by a podbox-shim of another podbox (protocol " + strconv.Quote(p) + ", this one speaks " + Proto + "): stop and start the pod again after an upgrade")
	}
	os.Unsetenv(EnvProto)
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 3 {
		return nil, errors.New(EnvFD + "=" + strconv.Quote(v) + ": not a descriptor")
	}
	unix.CloseOnExec(fd)
	s, err := newSocket(fd, "shim")
	if err != nil {
		return nil, wrap(err, "shim socket")
	}
	c := &Conn{s: s, Wakes: make(chan struct{}, 1), waiters: map[string]chan Msg{}}
	go c.read()
	return c, nil
}

func waiterKey(op string, pid int) string { return op + "/" + strconv.Itoa(pid) }

func (c *Conn) read() {
	for {
		m, fds, err := c.s.recv()
		for _, fd := range fds {
			unix.Close(fd) // the shim sends none
		}
		if err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			c.mu.Lock()
			c.closed = true
			for k, ch := range c.waiters {
				close(ch)
				delete(c.waiters, k)
			}
			c.mu.Unlock()
			return
		}
		switch m.Op {
		case OpWake:
			c.mu.Lock()
			c.wakes++
			c.mu.Unlock()
			select {
			case c.Wakes <- struct{}{}:
			default:
			}
		case OpDrained, OpExit:
			c.mu.Lock()
			if ch, ok := c.waiters[waiterKey(m.Op, m.PID)]; ok {
				ch <- m
				delete(c.waiters, waiterKey(m.Op, m.PID))
			}
			c.mu.Unlock()
		}
	}
}

// ask sends m and waits for the shim's answer op about m.PID.
func (c *Conn) ask(m Msg, answer string, timeout time.Duration) (Msg, error) {
	ch := make(chan Msg, 1)
	key := waiterKey(answer, m.PID)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return Msg{}, errors.New("the shim is gone")
	}
	c.waiters[key] = ch
	c.mu.Unlock()
	if err := c.s.send(m); err != nil {
		c.mu.Lock()
		delete(c.waiters, key)
		c.mu.Unlock()
		return Msg{}, wrap(err, "tell the shim")
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case a, ok := <-ch:
		if !ok {
			return Msg{}, errors.New("the shim is gone")
		}
		return a, nil
	case <-t.C:
		c.mu.Lock()
		delete(c.waiters, key)
		c.mu.Unlock()
		return Msg{}, errors.New("the shim did not answer " + m.Op + " of " + strconv.Itoa(m.PID) + " within " + timeout.String())
	}
}

// Logs hands the shim the read ends of a container's streams (named in
// streams, in order) to copy into the CRI log at path, rotated at maxSize
// (0 or less: never) with maxFiles kept. The files are the shim's
// afterwards: Logs closes them here.
func (c *Conn) Logs(pid int, name, path string, maxSize int64, maxFiles int, streams []string, files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	err := c.s.send(Msg{Op: OpLogs, PID: pid, Name: name, Path: path, MaxSize: maxSize, MaxFiles: maxFiles, Streams: streams}, fds...)
	if err == nil {
		for _, f := range files {
			f.Close()
		}
	}
	return err
}

// Drain waits until the shim copied the last of the output of the
// container whose process was pid (its streams reached their end).
func (c *Conn) Drain(pid int, timeout time.Duration) error {
	_, err := c.ask(Msg{Op: OpDrain, PID: pid}, OpDrained, timeout)
	return err
}

// Exit waits for the end of pid, a child of the shim (a container a
// previous lifecycle started), and returns its wait status; known is
// false when pid is not the shim's child.
func (c *Conn) Exit(pid int, timeout time.Duration) (ws unix.WaitStatus, known bool, err error) {
	a, err := c.ask(Msg{Op: OpExit, PID: pid}, OpExit, timeout)
	if err != nil {
		return 0, false, err
	}
	return unix.WaitStatus(a.Status), a.Known, nil
}

// WakeCount is how many wake-ups the shim sent so far.
func (c *Conn) WakeCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wakes
}

// Idle tells the shim that the lifecycle exits with nothing to do, having
// seen the first wakes wake-ups (WakeCount): it is to be started again at
// wakeAt (zero: no time), when pausePID ends, when a container ends, or
// when the pod is woken.
func (c *Conn) Idle(wakes int, wakeAt time.Time, pausePID int) error {
	m := Msg{Op: OpIdle, PausePID: pausePID, Wakes: wakes}
	if !wakeAt.IsZero() {
		m.WakeAt = wakeAt.UnixNano()
	}
	return c.s.send(m)
}
