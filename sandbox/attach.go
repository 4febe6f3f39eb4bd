package sandbox

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
)

// A managed pod's running containers can be attached to (the CRI's
// Attach, kubectl attach): the pod's lifecycle listens on the container's
// attach socket for as long as it runs, sends every client what the
// container writes from then on (framed: one byte for the stream, 1
// stdout and 2 stderr, four for the length, then the bytes), and passes
// what a client sends on to the container's stdin (its terminal with TTY).
// With StdinOnce, the container's stdin is closed when the first client
// that sent input closes its side, as Kubernetes' stdinOnce says.

const (
	frameStdout = 1
	frameStderr = 2
)

// attachHub is the lifecycle's side of a running container's attach
// socket.
type attachHub struct {
	ln    *net.UnixListener
	stdin io.WriteCloser // nil: the container has no stdin
	once  bool
	mu    sync.Mutex
	conns map[*net.UnixConn]bool
	// closedIn: stdin was closed (StdinOnce).
	closedIn bool
}

// listenAttach starts the attach socket of a managed container's instance:
// stdin is where clients' input goes (nil: none).
func listenAttach(dir, name string, stdin io.WriteCloser, once bool) (*attachHub, error) {
	p := attachSocket(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return nil, err
	}
	os.Remove(p)
	h := &attachHub{stdin: stdin, once: once, conns: map[*net.UnixConn]bool{}}
	err := shortPath(p, func(addr string) error {
		var err error
		h.ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attach socket of container %q: %w", name, err)
	}
	h.ln.SetUnlinkOnClose(false)
	go h.accept(p)
	return h, nil
}

func (h *attachHub) accept(path string) {
	defer os.Remove(path)
	for {
		conn, err := h.ln.AcceptUnix()
		if err != nil {
			return
		}
		// The header line (attachHeader) says nothing a running
		// container needs.
		br := bufio.NewReader(conn)
		if _, err := br.ReadBytes('\n'); err != nil {
			conn.Close()
			continue
		}
		h.mu.Lock()
		h.conns[conn] = true
		h.mu.Unlock()
		go h.input(conn, br)
	}
}

// input copies a client's input to the container's stdin.
func (h *attachHub) input(conn *net.UnixConn, r io.Reader) {
	if h.stdin == nil {
		return
	}
	n, _ := io.Copy(h.stdin, r)
	if h.once && n > 0 {
		h.mu.Lock()
		if !h.closedIn {
			h.closedIn = true
			h.stdin.Close()
		}
		h.mu.Unlock()
	}
}

// writer frames what the container writes on stream to every client.
func (h *attachHub) writer(stream byte) io.Writer { return hubWriter{h, stream} }

type hubWriter struct {
	h      *attachHub
	stream byte
}

func (w hubWriter) Write(p []byte) (int, error) {
	var hdr [5]byte
	hdr[0] = w.stream
	binary.BigEndian.PutUint32(hdr[1:], uint32(len(p)))
	frame := append(hdr[:], p...)
	w.h.mu.Lock()
	defer w.h.mu.Unlock()
	for c := range w.h.conns {
		if _, err := c.Write(frame); err != nil {
			c.Close()
			delete(w.h.conns, c)
		}
	}
	return len(p), nil
}

// close ends the socket and every client's connection: the container's
// output has ended.
func (h *attachHub) close() {
	h.ln.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.conns {
		c.Close()
	}
	clear(h.conns)
}

// AttachContainer attaches s to running container ctr of a managed pod:
// Stdout and Stderr get what it writes from now on, until it ends (then it
// returns nil) or ctx ends; Stdin, when set, goes to its stdin (its
// terminal with TTY), which is closed after it with StdinOnce.
//
// Equivalent to: crictl attach CONTAINER
func (m *Manager) AttachContainer(ctx context.Context, pod, ctr string, s AttachStreams) error {
	if _, _, err := ParseRef(pod); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	if err := ValidateName("container name", ctr); err != nil {
		return fmt.Errorf("attach to pod %q: %w", pod, err)
	}
	fail := func(err error) error {
		return fmt.Errorf("attach to container %q of pod %q: %w", ctr, pod, err)
	}
	st, err := m.Status(ctx, pod)
	if err != nil {
		return fail(err)
	}
	cs := st.container(ctr)
	if cs == nil || cs.Kind != KindApp || !st.Config.Managed {
		return fail(fmt.Errorf("no container of a managed pod of that name: %w", ErrNotExist))
	}
	if cs.State != StateRunning {
		return fail(fmt.Errorf("it is %s: %w", cs.State, ErrNotRunning))
	}
	var conn *net.UnixConn
	err = shortPath(attachSocket(m.podDir(pod), ctr), func(addr string) error {
		var err error
		conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
		return err
	})
	if err != nil {
		return fail(fmt.Errorf("its lifecycle does not answer: %v: %w", err, ErrNotRunning))
	}
	defer conn.Close()
	if err := s.begin(conn, false); err != nil {
		return fail(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	br := bufio.NewReader(conn)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fail(err)
		}
		var w io.Writer = io.Discard
		switch {
		case hdr[0] == frameStdout && s.Stdout != nil:
			w = s.Stdout
		case hdr[0] == frameStderr && s.Stderr != nil:
			w = s.Stderr
		}
		if _, err := io.CopyN(w, br, int64(binary.BigEndian.Uint32(hdr[1:]))); err != nil {
			if ctx.Err() != nil {
				return fail(ctx.Err())
			}
			return fail(err)
		}
	}
}
