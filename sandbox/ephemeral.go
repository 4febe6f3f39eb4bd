package sandbox

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/shim"
)

// Ephemeral containers are what kubectl debug adds to a running pod: they
// join the pod's network, IPC and UTS namespaces (and, with a target, the
// PID namespace of one of its containers), run once and are never
// restarted. The pod's lifecycle (its monitor, or the process that called
// Start) runs them: AddEphemeralContainer records one in the pod's state
// and wakes the lifecycle through a FIFO in the pod's directory; one with
// Stdin waits (up to AttachTimeout) for its client, Attach, so that the
// client sees its output from the first byte, as kubectl debug -it shows it.

// wakeFile is the FIFO the pod's lifecycle reads: a byte written to it says
// "ephemeral containers were added".
const wakeFile = shim.WakeFile

// AttachTimeout is how long an ephemeral container with Stdin waits for its
// client before it starts without one (its output is in its log).
var AttachTimeout = time.Minute

// attachment is a client attached to an ephemeral container from its
// start: the connection its output goes to, and its input (the connection
// after the header).
type attachment struct {
	conn          *net.UnixConn
	in            io.Reader
	width, height uint16
}

// attachHeader is the first line an attaching client sends.
type attachHeader struct {
	Width  uint16 `json:"width,omitempty"`
	Height uint16 `json:"height,omitempty"`
}

// begin sends the attach header (the terminal's size) and then, as it
// comes, the client's input, closing the connection's write side after
// it; without input, at once if noStdinEOF (an ephemeral container's stdin
// ends), else never (a managed container's attach only reads).
func (s AttachStreams) begin(conn *net.UnixConn, noStdinEOF bool) error {
	h, _ := json.Marshal(attachHeader{Width: s.Width, Height: s.Height})
	if _, err := conn.Write(append(h, '\n')); err != nil {
		return err
	}
	if s.Stdin != nil {
		go func() {
			io.Copy(conn, s.Stdin)
			conn.CloseWrite()
		}()
	} else if noStdinEOF {
		conn.CloseWrite()
	}
	return nil
}

type attachEvent struct {
	name string
	a    *attachment // nil: nobody attached in time
}

// attachSocket is where the client of an ephemeral container that waits
// for one connects.
func attachSocket(dir, name string) string { return filepath.Join(dir, "attach", name) }

// AddEphemeralContainer adds cfg to the running pod as an ephemeral
// container and has the pod's lifecycle start it, as the kubelet starts
// the ephemeral containers kubectl debug adds. cfg has no ports, resources
// or restart policy; its TargetContainer, when set, names the container
// whose PID namespace it joins. A container with Stdin waits for Attach.
// The pod must be Pending or Running, its lifecycle running. With
// Options.Images, an Image without a root filesystem is resolved as
// ResolveImages does (pulling nothing: see PullImages) and leased until the
// pod is removed.
//
// Equivalent to: kubectl debug POD --image IMAGE [--target CTR]
func (m *Manager) AddEphemeralContainer(ctx context.Context, pod string, cfg ContainerConfig) error {
	if _, _, err := ParseRef(pod); err != nil {
		return fmt.Errorf("add ephemeral container: %w", err)
	}
	dir := m.podDir(pod)
	err := m.withLock(pod, func() error {
		st, err := readState(dir)
		if err != nil {
			return err
		}
		if (st.Phase != PhaseRunning && st.Phase != PhasePending) || st.MonitorPID == 0 || !alive(st.MonitorPID, st.MonitorStart) {
			return fmt.Errorf("pod %q is %s: %w (ephemeral containers are added to running pods)", pod, st.Phase, ErrNotRunning)
		}
		if err := m.resolveEphemeral(ctx, dir, pod, &cfg); err != nil {
			return err
		}
		if errs := checkEphemeral(st, &cfg); len(errs) > 0 {
			m.releaseEphemeralImages(dir, &PodStatus{Config: PodConfig{EphemeralContainers: []ContainerConfig{cfg}}})
			return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
		}
		profiles, err := readSeccompProfiles(m.opts.SeccompRoot, &PodConfig{Containers: []ContainerConfig{cfg}})
		if err != nil {
			return err
		}
		if err := writeSeccompProfiles(dir, profiles); err != nil {
			return err
		}
		st.Config.EphemeralContainers = append(st.Config.EphemeralContainers, cfg)
		st.EphemeralContainers = append(st.EphemeralContainers, ContainerStatus{
			Name: cfg.Name, Kind: KindEphemeral, State: StateWaiting, Reason: ReasonCreating,
			CgroupPath: cgroups.LoadPod(st.CgroupPath).Child(cfg.Name),
		})
		return writeState(dir, st)
	})
	if errors.Is(err, os.ErrNotExist) {
		err = ErrNotExist
	}
	if err != nil {
		return fmt.Errorf("add ephemeral container %q to pod %q: %w", cfg.Name, pod, err)
	}
	if err := wake(dir); err != nil {
		// Nobody will start it: say so in its status too.
		m.withLock(pod, func() error {
			st, rerr := readState(dir)
			if rerr != nil {
				return rerr
			}
			if cs := st.container(cfg.Name); cs != nil && cs.State == StateWaiting {
				now := time.Now().UTC()
				cs.State, cs.Reason, cs.ExitCode, cs.StartedAt, cs.FinishedAt = StateTerminated, ReasonStartError, 128, now, now
				cs.Message = "the pod's lifecycle did not take it: " + err.Error()
			}
			return writeState(dir, st)
		})
		return fmt.Errorf("add ephemeral container %q to pod %q: the pod's lifecycle does not answer: %w", cfg.Name, pod, err)
	}
	return nil
}

// checkEphemeral checks an ephemeral container against the pod it joins,
// with Kubernetes' rules: a name no other container has, no ports, no
// resources, no restart policy, no subPath, a target that is a container of
// the pod.
func checkEphemeral(st *PodStatus, c *ContainerConfig) []error {
	f := fmt.Sprintf("ephemeralContainers[%d]", len(st.Config.EphemeralContainers))
	var errs []error
	if err := ValidateName(f+".name", c.Name); err != nil {
		errs = append(errs, err)
	} else if st.containerConfig(c.Name) != nil {
		errs = append(errs, fmt.Errorf("%s.name: %q is used by another container of the pod: %w", f, c.Name, ErrExist))
	}
	if t := c.TargetContainer; t != "" {
		found := false
		for _, list := range [][]ContainerConfig{st.Config.InitContainers, st.Config.Containers} {
			for _, o := range list {
				found = found || o.Name == t
			}
		}
		if !found {
			errs = append(errs, fmt.Errorf("%s.targetContainerName: the pod has no container %q", f, t))
		}
	}
	if len(c.Ports) > 0 {
		errs = append(errs, fmt.Errorf("%s.ports: ephemeral containers may not have ports", f))
	}
	if c.MemoryLimit != 0 || c.CPULimitMillis != 0 || c.CPURequestMillis != 0 {
		errs = append(errs, fmt.Errorf("%s.resources: ephemeral containers may not have resources", f))
	}
	if c.RestartPolicy != "" {
		errs = append(errs, fmt.Errorf("%s.restartPolicy: ephemeral containers are never restarted", f))
	}
	for _, x := range []struct {
		field string
		set   bool
	}{
		{"livenessProbe", c.LivenessProbe != nil}, {"readinessProbe", c.ReadinessProbe != nil},
		{"startupProbe", c.StartupProbe != nil}, {"lifecycle", c.Lifecycle != nil},
	} {
		if x.set {
			errs = append(errs, fmt.Errorf("%s.%s: may not be set for ephemeral containers", f, x.field))
		}
	}
	for i, vm := range c.VolumeMounts {
		if vm.SubPath != "" {
			errs = append(errs, fmt.Errorf("%s.volumeMounts[%d].subPath: may not be set for ephemeral containers", f, i))
		}
	}
	volumes := map[string]bool{}
	for _, v := range st.Config.Volumes {
		volumes[v.Name] = true
	}
	if st.Config.UserNamespace {
		errs = append(errs, checkUserNSContainer(f, c)...)
	}
	return append(errs, checkContainer(f, c, volumes, false, nil)...)
}

// wake writes a byte to the pod's wake FIFO; it fails (ENXIO) when nobody
// reads it, that is when no lifecycle runs the pod.
func wake(dir string) error {
	f, err := os.OpenFile(filepath.Join(dir, wakeFile), os.O_WRONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Write([]byte{1}); err != nil && !errors.Is(err, unix.EAGAIN) {
		return err // EAGAIN: full of wake-ups not read yet, which will do
	}
	return nil
}

// listenWake makes the pod's wake FIFO and reads it until the lifecycle
// ends.
func (r *runner) listenWake() error {
	p := filepath.Join(r.dir, wakeFile)
	if err := unix.Mkfifo(p, 0o600); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("make %s: %w", p, err)
	}
	// Read-write: the FIFO never reports end-of-file for want of a writer.
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	go func() {
		<-r.done
		f.Close()
	}()
	go func() {
		b := make([]byte, 64)
		for {
			if _, err := f.Read(b); err != nil {
				return
			}
			select {
			case r.wake <- struct{}{}:
			default: // one pending wake-up is enough
			}
		}
	}()
	return nil
}

// adoptEphemerals takes the ephemeral containers added to the state on
// disk since the runner last looked into its own copy, and wakes the
// runner to start them.
func (r *runner) adoptEphemerals(disk *PodStatus) {
	added := false
	for _, c := range disk.Config.EphemeralContainers {
		if r.st.containerConfig(c.Name) != nil {
			continue
		}
		cs := disk.container(c.Name)
		if cs == nil {
			continue
		}
		r.st.Config.EphemeralContainers = append(r.st.Config.EphemeralContainers, c)
		r.st.EphemeralContainers = append(r.st.EphemeralContainers, *cs)
		added = true
	}
	if added {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// startEphemerals starts the ephemeral containers that were added and not
// started yet; one with Stdin first waits for its client.
func (r *runner) startEphemerals() {
	r.save() // adopts what was added
	if r.stopping {
		return
	}
	for i := range r.st.EphemeralContainers {
		cs := &r.st.EphemeralContainers[i]
		_, running := r.running[cs.Name]
		_, awaiting := r.awaiting[cs.Name]
		if cs.State != StateWaiting || cs.Reason != ReasonCreating || running || awaiting {
			continue
		}
		if r.st.containerConfig(cs.Name).Stdin {
			if err := r.awaitAttach(cs.Name); err == nil {
				continue
			} else {
				r.logf("pod %q: ephemeral container %q starts without its client: %v", r.name, cs.Name, err)
			}
		}
		r.startEphemeral(cs.Name, nil)
	}
}

// startEphemeral starts ephemeral container name, in its target's PID
// namespace when it has one.
func (r *runner) startEphemeral(name string, a *attachment) {
	cfg, cs := r.st.containerConfig(name), r.st.container(name)
	ex := instanceExtras{attach: a}
	if t := cfg.TargetContainer; t != "" && !r.st.Config.ShareProcessNamespace {
		in, ok := r.running[t]
		if !ok {
			now := time.Now().UTC()
			cs.State, cs.Reason, cs.ExitCode, cs.StartedAt, cs.FinishedAt = StateTerminated, ReasonStartError, 128, now, now
			cs.Message = fmt.Sprintf("target container %q is not running", t)
			if a != nil {
				fmt.Fprintf(a.conn, "podbox: start container %q: %s\r\n", name, cs.Message)
				a.conn.Close()
			}
			r.save()
			return
		}
		ex.pidNS = fmt.Sprintf("/proc/%d/ns/pid", in.pid)
	}
	r.startWith(cfg, cs, ex)
}

// awaitAttach listens on the container's attach socket for its client, for
// AttachTimeout at most.
func (r *runner) awaitAttach(name string) error {
	p := attachSocket(r.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	os.Remove(p)
	var ln *net.UnixListener
	err := shortPath(p, func(addr string) error {
		var err error
		ln, err = net.ListenUnix("unix", &net.UnixAddr{Name: addr, Net: "unix"})
		return err
	})
	if err != nil {
		return err
	}
	// Its name went through /proc/self/fd: remove it by its real path.
	ln.SetUnlinkOnClose(false)
	r.awaiting[name] = ln
	go func() {
		ln.SetDeadline(time.Now().Add(AttachTimeout))
		var a *attachment
		if conn, err := ln.AcceptUnix(); err == nil {
			if a, err = readAttachHeader(conn); err != nil {
				conn.Close()
			}
		}
		select {
		case r.attached <- attachEvent{name: name, a: a}:
		case <-r.done:
			if a != nil {
				a.conn.Close()
			}
		}
	}()
	return nil
}

func readAttachHeader(conn *net.UnixConn) (*attachment, error) {
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return nil, err
	}
	var h attachHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return nil, err
	}
	conn.SetReadDeadline(time.Time{})
	return &attachment{conn: conn, in: br, width: h.Width, height: h.Height}, nil
}

// onAttach starts an ephemeral container that waited for its client, with
// the client attached, or without when it did not come.
func (r *runner) onAttach(ev attachEvent) {
	if ln, ok := r.awaiting[ev.name]; ok {
		ln.Close()
		os.Remove(attachSocket(r.dir, ev.name))
		delete(r.awaiting, ev.name)
	}
	if r.stopping {
		if ev.a != nil {
			ev.a.conn.Close()
		}
		return
	}
	r.startEphemeral(ev.name, ev.a)
}

// stopEphemerals ends the waits for clients as the pod stops; those
// containers never start (finish records them terminated).
func (r *runner) stopEphemerals() {
	select {
	case <-r.done:
		return
	default:
	}
	close(r.done)
	for name, ln := range r.awaiting {
		ln.Close()
		os.Remove(attachSocket(r.dir, name))
		delete(r.awaiting, name)
	}
}

// shortPath calls fn with an address for the unix socket path that fits a
// sockaddr_un (108 bytes) however deep the state root is: the path through
// /proc/self/fd of its directory, open meanwhile.
func shortPath(path string, fn func(addr string) error) error {
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return fn(fmt.Sprintf("/proc/self/fd/%d/%s", d.Fd(), filepath.Base(path)))
}

// AttachStreams are the client's ends of an attach: Stdin feeds the
// container (its terminal, or its stdin until Stdin ends), Stdout gets its
// output (stdout and stderr, or the terminal's). Width and Height size its
// terminal.
type AttachStreams struct {
	Stdin  io.Reader
	Stdout io.Writer
	// Stderr gets a managed container's stderr (AttachContainer); an
	// ephemeral container's goes to Stdout.
	Stderr        io.Writer
	Width, Height uint16
}

// Attach attaches s to ephemeral container ctr of pod, which waits for its
// client (it was added with Stdin), and returns the container's exit code
// once it has ended. Cancelling ctx detaches; the container goes on.
//
// Equivalent to: kubectl attach -it POD -c CTR (as kubectl debug -it does)
func (m *Manager) Attach(ctx context.Context, pod, ctr string, s AttachStreams) (int, error) {
	if _, _, err := ParseRef(pod); err != nil {
		return -1, fmt.Errorf("attach: %w", err)
	}
	if err := ValidateName("container name", ctr); err != nil {
		return -1, fmt.Errorf("attach to pod %q: %w", pod, err)
	}
	fail := func(err error) (int, error) {
		return -1, fmt.Errorf("attach to container %q of pod %q: %w", ctr, pod, err)
	}
	sock := attachSocket(m.podDir(pod), ctr)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var conn *net.UnixConn
	for conn == nil {
		err := shortPath(sock, func(addr string) error {
			var err error
			conn, err = net.DialUnix("unix", nil, &net.UnixAddr{Name: addr, Net: "unix"})
			return err
		})
		if err == nil {
			break
		}
		// Not listening (yet): the lifecycle starts listening once woken.
		st, err := m.Status(ctx, pod)
		if err != nil {
			return fail(err)
		}
		cs := st.container(ctr)
		if cs == nil || cs.Kind != KindEphemeral {
			return fail(fmt.Errorf("no ephemeral container of that name: %w", ErrNotExist))
		}
		if cs.State != StateWaiting || cs.Reason != ReasonCreating {
			if cs.State == StateTerminated && cs.Message != "" {
				return fail(fmt.Errorf("it is %s (%s): %s", cs.State, cs.Reason, cs.Message))
			}
			return fail(fmt.Errorf("it is %s, not waiting for a client (see podbox logs -c %s)", cs.State, ctr))
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-tick.C:
		}
	}
	defer conn.Close()
	if err := s.begin(conn, true); err != nil {
		return fail(err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	out := s.Stdout
	if out == nil {
		out = io.Discard
	}
	io.Copy(out, conn)
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	// The output ends as the container does; its lifecycle records the
	// exit a moment later.
	for {
		st, err := m.Status(ctx, pod)
		if err != nil {
			return fail(err)
		}
		if cs := st.container(ctr); cs != nil && cs.State == StateTerminated {
			return cs.ExitCode, nil
		}
		select {
		case <-ctx.Done():
			return fail(ctx.Err())
		case <-tick.C:
		}
	}
}
