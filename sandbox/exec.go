package sandbox

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/runc/libcontainer"
	"github.com/opencontainers/runc/libcontainer/utils"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/errdefs"
)

// ExecProcess is a process to run inside a running container.
type ExecProcess struct {
	Args []string
	// Env is added to the container's own variables (as kubectl exec and
	// crictl exec do), overriding those of the same name.
	Env    []string
	Cwd    string
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TTY gives the process a terminal: Stdin feeds it and Stdout gets its
	// output (Stderr is unused). Width and Height are its size.
	TTY           bool
	Width, Height uint16
}

// Exec runs p inside container ctr of pod, in all of its namespaces and its
// cgroup, and returns its exit code (128+N when killed by signal N).
//
// Errors match a class of package errdefs: a pod or container that does not
// exist ErrNotFound, one that does not run ErrNotRunning
// (ErrFailedPrecondition), no command ErrInvalidArgument. A command that can
// not be started returns 127 with an error matching ErrNotFound (no such
// file) or 126 with one matching ErrPermissionDenied (not executable), as a
// shell, runc and kubectl exec do. Cancelling ctx kills the process, and
// Exec then returns ctx.Err().
//
// Equivalent to: runc exec CTR ARGS...
func (m *Manager) Exec(ctx context.Context, pod, ctr string, p *ExecProcess) (int, error) {
	if _, _, err := ParseRef(pod); err != nil {
		return -1, fmt.Errorf("exec: %w", err)
	}
	if err := ValidateName("container name", ctr); err != nil {
		return -1, fmt.Errorf("exec in pod %q: %w", pod, err)
	}
	if len(p.Args) == 0 {
		return -1, fmt.Errorf("exec in container %q of pod %q: no command: %w", ctr, pod, errdefs.ErrInvalidArgument)
	}
	st, err := m.readPod(pod)
	if err != nil {
		return -1, fmt.Errorf("exec in pod %q: %w", pod, err)
	}
	cfg := st.containerConfig(ctr)
	if cfg == nil {
		return -1, fmt.Errorf("exec in pod %q: container %q %w", pod, ctr, ErrNotExist)
	}
	if err := ctx.Err(); err != nil {
		return -1, err
	}
	c, err := libcontainer.Load(runcRoot(m.podDir(pod)), ctr)
	if err != nil {
		return -1, fmt.Errorf("exec in container %q of pod %q: %w", ctr, pod, ErrNotRunning)
	}
	if s, err := c.Status(); err != nil || s != libcontainer.Running {
		return -1, fmt.Errorf("exec in container %q of pod %q: %w", ctr, pod, ErrNotRunning)
	}
	m.becomeSubreaper()
	// As the container's own process: its user, groups and working
	// directory; its capabilities, no_new_privs and seccomp filter come
	// with the container's libcontainer configuration.
	uid, gid := cfg.ids()
	proc := &libcontainer.Process{
		Args:   p.Args,
		Env:    withDefaultPath(append(envList(cfg.Env, st), p.Env...)),
		Cwd:    p.Cwd,
		UID:    uid,
		GID:    gid,
		Stdin:  p.Stdin,
		Stdout: p.Stdout,
		Stderr: p.Stderr,
		Init:   false,
	}
	proc.AdditionalGroups = cfg.groups(&st.Config)
	if proc.Cwd == "" {
		proc.Cwd = cfg.WorkingDir
	}
	if proc.Cwd == "" {
		proc.Cwd = "/"
	}
	var parent *os.File
	if p.TTY {
		// libcontainer makes the pty inside the container and sends its
		// master back over this socket.
		var child *os.File
		if parent, child, err = utils.NewSockPair("console"); err != nil {
			return -1, err
		}
		defer parent.Close()
		proc.ConsoleSocket = child
		proc.ConsoleWidth, proc.ConsoleHeight = p.Width, p.Height
		proc.Stdin, proc.Stdout, proc.Stderr = nil, nil, nil
		defer child.Close()
	}
	if err := c.Run(proc); err != nil {
		// A command that is not there, or can not be run, is the
		// command's failure, not the runtime's: exit 127 or 126 as a
		// shell, docker and kubectl exec do, saying why on stderr.
		if code := execFailureCode(p.Args[0], err); code != 0 {
			class := errdefs.ErrNotFound
			if code == 126 {
				class = errdefs.ErrPermissionDenied
			}
			return code, errdefs.With(class, fmt.Errorf("exec in container %q of pod %q: %s", ctr, pod, execFailure(p.Args[0], err)))
		}
		return -1, fmt.Errorf("exec in container %q of pod %q: %w", ctr, pod, err)
	}
	stop := context.AfterFunc(ctx, func() { proc.Signal(unix.SIGKILL) })
	defer stop()
	var output chan struct{}
	if p.TTY {
		master, err := recvFile(parent)
		if err != nil {
			proc.Signal(unix.SIGKILL)
			proc.Wait()
			return -1, fmt.Errorf("exec in container %q of pod %q: terminal: %w", ctr, pod, err)
		}
		defer master.Close()
		if p.Stdin != nil {
			go io.Copy(master, p.Stdin)
		}
		output = make(chan struct{})
		go func() {
			defer close(output)
			if p.Stdout != nil {
				io.Copy(p.Stdout, master) // ends with EIO when the last writer closes
			}
		}()
	}
	ps, _ := proc.Wait()
	if output != nil {
		select {
		case <-output:
		case <-time.After(time.Second):
		}
	}
	code, _ := exitStatus(ps)
	if err := ctx.Err(); err != nil {
		// Killed because ctx ended: its exit code is ours, not its own.
		return code, err
	}
	return code, nil
}

// execFailureCode is the exit code of an exec whose command could not be
// started: 127 when it is not found, 126 when it is not executable (a
// directory, no x bit); 0 when err is about something else. libcontainer
// reports the lookup inside the container as Go's exec.Error text:
// exec: "NAME": REASON.
func execFailureCode(name string, err error) int {
	msg := execFailure(name, err)
	switch {
	case msg == "":
		return 0
	case strings.Contains(msg, "executable file not found"), strings.Contains(msg, "no such file or directory"):
		return 127
	case strings.Contains(msg, "permission denied"), strings.Contains(msg, "is a directory"):
		return 126
	}
	return 0
}

// execFailure is the part of err that says why name could not be started:
// from `exec: "NAME"` on; "" when err says nothing of it.
func execFailure(name string, err error) string {
	s := err.Error()
	i := strings.Index(s, "exec: "+strconv.Quote(name)+":")
	if i < 0 {
		return ""
	}
	return s[i:]
}

// recvFile receives one file descriptor sent over a unix socket (SCM_RIGHTS),
// as libcontainer sends a container's pty master.
func recvFile(socket *os.File) (*os.File, error) {
	name := make([]byte, 4096)
	oob := make([]byte, unix.CmsgSpace(4))
	n, oobn, _, _, err := unix.Recvmsg(int(socket.Fd()), name, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return nil, err
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("recv fd: %d control messages", len(msgs))
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil {
		return nil, err
	}
	if len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, fmt.Errorf("recv fd: %d descriptors", len(fds))
	}
	return os.NewFile(uintptr(fds[0]), string(name[:n])), nil
}
