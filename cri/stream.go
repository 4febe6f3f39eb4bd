package cri

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"
	utilexec "k8s.io/utils/exec"

	"github.com/podbox/podbox/namespaces"
	"github.com/podbox/podbox/sandbox"
)

// Exec returns the streaming server's URL for an exec in a running
// container.
func (s *Server) Exec(ctx context.Context, req *runtimeapi.ExecRequest) (*runtimeapi.ExecResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	if c.cs.State != sandbox.StateRunning {
		return nil, grpcError(fmt.Errorf("container %s: %w", c.meta.ID, sandbox.ErrNotRunning))
	}
	return s.stream.GetExec(req)
}

// Attach returns the streaming server's URL for an attach to a running
// container.
func (s *Server) Attach(ctx context.Context, req *runtimeapi.AttachRequest) (*runtimeapi.AttachResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	if c.cs.State != sandbox.StateRunning {
		return nil, grpcError(fmt.Errorf("container %s: %w", c.meta.ID, sandbox.ErrNotRunning))
	}
	return s.stream.GetAttach(req)
}

// PortForward returns the streaming server's URL for a port forward into a
// sandbox.
func (s *Server) PortForward(ctx context.Context, req *runtimeapi.PortForwardRequest) (*runtimeapi.PortForwardResponse, error) {
	p, err := s.findPod(ctx, req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	if !p.ready() {
		return nil, grpcError(fmt.Errorf("sandbox %s: %w", p.meta.ID, sandbox.ErrNotRunning))
	}
	return s.stream.GetPortForward(req)
}

// streamRuntime is what the streaming server calls once a client connected.
type streamRuntime struct{ s *Server }

func (r streamRuntime) Exec(ctx context.Context, containerID string, cmd []string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	c, err := r.s.findContainer(ctx, containerID)
	if err != nil {
		return err
	}
	p := &sandbox.ExecProcess{Args: cmd, Stdin: in, TTY: tty}
	if out != nil {
		p.Stdout = out
	}
	if errw != nil {
		p.Stderr = errw
	}
	if tty {
		// The terminal's first size comes before the process starts.
		select {
		case sz, ok := <-resize:
			if ok {
				p.Width, p.Height = sz.Width, sz.Height
			}
		default:
		}
	}
	code, err := r.s.m.Exec(ctx, c.pod.ref(), c.cfg.Name, p)
	if err != nil && code < 0 {
		return err
	}
	if code != 0 {
		return utilexec.CodeExitError{Err: fmt.Errorf("command %q exited with %d", cmd, code), Code: code}
	}
	return nil
}

func (r streamRuntime) Attach(ctx context.Context, containerID string, in io.Reader, out, errw io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize) error {
	c, err := r.s.findContainer(ctx, containerID)
	if err != nil {
		return err
	}
	as := sandbox.AttachStreams{Stdin: in}
	if out != nil {
		as.Stdout = out
	}
	if errw != nil {
		as.Stderr = errw
	}
	return r.s.m.AttachContainer(ctx, c.pod.ref(), c.cfg.Name, as)
}

// PortForward connects stream to port on the sandbox's loopback, from
// inside its network namespace.
func (r streamRuntime) PortForward(ctx context.Context, podSandboxID string, port int32, stream io.ReadWriteCloser) error {
	defer stream.Close()
	p, err := r.s.findPod(ctx, podSandboxID)
	if err != nil {
		return err
	}
	if port <= 0 || port > 65535 {
		return fmt.Errorf("port forward: port %d is out of range", port)
	}
	var conn net.Conn
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(int(port)))
	if p.meta.NetworkNode {
		conn, err = net.Dial("tcp", addr)
	} else {
		netPath, ok := p.st.Namespaces["net"]
		if !ok {
			return errors.New("port forward: the sandbox has no network namespace")
		}
		// The socket is made in the pod's namespace and stays there.
		err = namespaces.Enter(map[string]string{"net": netPath}, func() error {
			var derr error
			conn, derr = net.Dial("tcp", addr)
			return derr
		})
	}
	if err != nil {
		return fmt.Errorf("port forward to port %d of sandbox %s: %w", port, podSandboxID, err)
	}
	defer conn.Close()
	// The answer's end is the forward's end: the client may close its
	// side first and still read what the port sends back.
	done := make(chan struct{})
	go func() { io.Copy(conn, stream); conn.(*net.TCPConn).CloseWrite() }()
	go func() { io.Copy(stream, conn); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return nil
}
