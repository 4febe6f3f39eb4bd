package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/shim"
)

// MonitorArg is argv[1] of a detached monitor: RunDetached starts
// Options.MonitorBinary (default: this program) as "<binary> podbox-monitor",
// and IsInit is true in it, so that the same hook that runs libcontainer's
// container init (Init) runs the pod's monitor.
const MonitorArg = "podbox-monitor"

// monitorConfig is what RunDetached tells its monitor, over fd 3: the
// Manager's options (without the image store, which a lifecycle does not
// use), the pod, and how to run it.
type monitorConfig struct {
	Options Options       `json:"options"`
	Pod     string        `json:"pod"`
	Run     monitorRunOps `json:"run"`
}

type monitorRunOps struct {
	BackoffBase, BackoffMax, BackoffReset, EvictionInterval time.Duration
	Recover                                                 bool
}

// monitorLog is the detached monitor's own log (what RunOptions.Logf
// would be told), in the pod's directory.
const monitorLog = shim.MonitorLog

// DetachedMonitor is a pod's monitor process, started by StartMonitor and
// waiting to be told to run the pod: the process that runs the pod's
// lifecycle apart from the caller, in a session and a cgroup of its own,
// so that the pod outlives the caller (as podbox run leaves one behind).
type DetachedMonitor struct {
	m        *Manager
	ref      string
	cmd      *exec.Cmd
	cfgW     *os.File
	startedR *os.File
}

// StartMonitor starts the monitor of pod, which need not exist yet: it
// waits until Run (after Create) or Abort, so that its start overlaps the
// pod's creation. RunDetached does both at once.
func (m *Manager) StartMonitor(pod string) (*DetachedMonitor, error) {
	if _, _, err := ParseRef(pod); err != nil {
		return nil, fmt.Errorf("start monitor: %w", err)
	}
	bin := m.opts.MonitorBinary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("start monitor of pod %q: %w", pod, err)
		}
		bin = exe
	}
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	startedR, startedW, err := os.Pipe()
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, err
	}
	args := []string{bin, MonitorArg, pod}
	if sh := m.opts.ShimBinary; sh != "" {
		// The shim stays with the pod and starts bin when there is work.
		args = []string{sh, shim.Arg, m.podDir(pod), bin, pod}
	}
	cmd := &exec.Cmd{
		Path:        args[0],
		Args:        args,
		Env:         monitorEnviron(),
		ExtraFiles:  []*os.File{cfgR, startedW}, // fds 3 and 4
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = cmd.Start()
	cfgR.Close()
	startedW.Close()
	if err != nil {
		cfgW.Close()
		startedR.Close()
		return nil, fmt.Errorf("start monitor of pod %q: %q: %w", pod, args[0], err)
	}
	return &DetachedMonitor{m: m, ref: pod, cmd: cmd, cfgW: cfgW, startedR: startedR}, nil
}

// monitorEnviron is a detached monitor's environment: this process's,
// the mark IsInit looks for and, unless GOMAXPROCS is set, GOMAXPROCS=1: a
// monitor mostly waits, and one P less is a thread and ~0.5 MB of memory
// less per pod.
func monitorEnviron() []string {
	env := append(os.Environ(), monitorEnv+"=1")
	if os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS=1")
	}
	return env
}

// Abort tells the monitor that there is no pod to run (its creation
// failed): it exits, and Abort waits for it.
func (d *DetachedMonitor) Abort() {
	d.cfgW.Close()
	d.startedR.Close()
	d.cmd.Wait()
}

// Run moves the monitor into a cgroup of its own (AdoptMonitor) and tells
// it to run the pod's lifecycle with opts (whose Logf and Started are the
// monitor's own: its log file, and WaitStarted's word). It returns once
// the monitor took the pod on, or with why it could not (then it is
// aborted; the pod is left as it is).
func (d *DetachedMonitor) Run(opts RunOptions) error {
	err := d.m.AdoptMonitor(d.ref, d.cmd.Process.Pid)
	if err == nil {
		cfg := monitorConfig{Options: d.m.opts, Pod: d.ref, Run: monitorRunOps{
			BackoffBase: opts.BackoffBase, BackoffMax: opts.BackoffMax, BackoffReset: opts.BackoffReset, EvictionInterval: opts.EvictionInterval,
			Recover: opts.recover,
		}}
		cfg.Options.Images = nil
		var b []byte
		if b, err = json.Marshal(cfg); err == nil {
			_, err = d.cfgW.Write(b)
		}
	}
	d.cfgW.Close()
	if err != nil {
		d.Abort()
		return fmt.Errorf("run pod %q in a detached monitor: %w", d.ref, err)
	}
	return nil
}

// WaitStarted waits for the monitor's word that what Manager.WaitStarted
// waits for may have happened (RunOptions.Started); the monitor ending
// first is an error that names its log.
func (d *DetachedMonitor) WaitStarted() error {
	var b [1]byte
	if n, _ := d.startedR.Read(b[:]); n == 1 {
		return nil
	}
	return fmt.Errorf("the monitor of pod %q exited before the pod started: see %s: %w", d.ref,
		filepath.Join(d.m.podDir(d.ref), monitorLog), errdefs.ErrUnavailable)
}

// Release lets the monitor live on without the caller, who reaps it
// when it ends (a long-lived embedder is left no zombie).
func (d *DetachedMonitor) Release() {
	d.startedR.Close()
	go d.cmd.Wait()
}

// RunDetached runs the pod's lifecycle (Run) in a detached monitor, a new
// process of Options.MonitorBinary (default: this program, which must
// call Init when IsInit, see the package documentation), in a session and
// a cgroup of its own: the pod outlives this process, and any process
// with a Manager on the same root can Stop, Remove or Recover it. It
// returns once the monitor took the pod on; WaitStarted then waits for
// its containers.
func (m *Manager) RunDetached(ctx context.Context, pod string, opts RunOptions) error {
	if _, _, err := ParseRef(pod); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	// What Run would refuse, refused before a monitor is started.
	st, err := m.readPod(pod)
	if err == nil {
		err = runCheck(st, opts)
	}
	if err != nil {
		return fmt.Errorf("run pod %q: %w", pod, err)
	}
	d, err := m.StartMonitor(pod)
	if err != nil {
		return err
	}
	if err := d.Run(opts); err != nil {
		return err
	}
	defer d.Release()
	// Until the monitor records itself as the pod's lifecycle, or ends.
	dir := m.podDir(pod)
	start := time.Now()
	for {
		st, err := readState(dir)
		if err == nil && st.MonitorPID == d.cmd.Process.Pid {
			return nil
		}
		if d.exited() {
			// Once more: it may have run the pod to its end already.
			if st, err := readState(dir); err == nil && st.MonitorPID == 0 && st.StartTime.After(start) {
				return nil
			}
			return fmt.Errorf("run pod %q: its monitor exited: %s: %w", pod, lastOutput(filepath.Join(dir, monitorLog)), errdefs.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// exited reports whether the monitor process is gone (a zombie counts).
func (d *DetachedMonitor) exited() bool {
	var ws unix.WaitStatus
	pid, err := unix.Wait4(d.cmd.Process.Pid, &ws, unix.WNOHANG, nil)
	return pid == d.cmd.Process.Pid || errors.Is(err, unix.ECHILD)
}

// lastOutput is the end of a monitor's log, for an error message.
func lastOutput(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return "no output"
	}
	lines := b
	if len(lines) > 512 {
		lines = lines[len(lines)-512:]
	}
	return string(lines)
}

// RunMonitor is the body of a detached monitor: what Init does in a
// process started as "<binary> podbox-monitor POD" by RunDetached (or
// StartMonitor). It reads its configuration from fd 3 (the pipe closing
// without one means the pod was not created: it returns nil), sends its
// output to the pod's monitor.log, and runs the pod's lifecycle until the
// pod ends or a stop is asked (Stop, Remove, or SIGTERM/SIGINT). A small
// program of its own may serve as Options.MonitorBinary: its main must
// call Init when IsInit, as every program that starts containers must.
func RunMonitor() error {
	os.Unsetenv(monitorEnv) // not for the processes it starts
	cfgR, startedW := os.NewFile(3, "config"), os.NewFile(4, "started")
	defer startedW.Close()
	b, err := io.ReadAll(io.LimitReader(cfgR, 1<<20))
	cfgR.Close()
	if err != nil || len(b) == 0 {
		return nil // aborted: no pod to run
	}
	var cfg monitorConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return fmt.Errorf("monitor: configuration: %w", err)
	}
	cfg.Options.Images = nil
	m, err := New(cfg.Options)
	if err != nil {
		return fmt.Errorf("monitor of pod %q: %w", cfg.Pod, err)
	}
	// SIGTERM and SIGINT stop the pod too (a monitor of an older podbox
	// was stopped that way); the grace period comes from the stop request.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	// From here on the monitor's output goes to the pod's directory.
	if f, err := os.OpenFile(filepath.Join(m.podDir(cfg.Pod), monitorLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err == nil {
		unix.Dup2(int(f.Fd()), 1)
		unix.Dup2(int(f.Fd()), 2)
		f.Close()
	}
	sc, err := shim.FromEnv()
	if err != nil {
		return fmt.Errorf("monitor of pod %q: %w", cfg.Pod, err)
	}
	opts := RunOptions{
		BackoffBase: cfg.Run.BackoffBase, BackoffMax: cfg.Run.BackoffMax, BackoffReset: cfg.Run.BackoffReset, EvictionInterval: cfg.Run.EvictionInterval,
		Started: func() { startedW.Write([]byte{1}); startedW.Close() },
		Logf: func(format string, args ...any) {
			fmt.Fprintf(os.Stderr, "%s podbox monitor: %s\n", time.Now().UTC().Format(time.RFC3339), fmt.Sprintf(format, args...))
		},
		detached:  true,
		recover:   cfg.Run.Recover || (sc != nil && os.Getenv(shim.EnvRecover) == "1"),
		shim:      sc,
		shimFirst: sc != nil && os.Getenv(shim.EnvRecover) != "1",
	}
	if err := m.Run(ctx, cfg.Pod, opts); err != nil && !errors.Is(err, errIdle) {
		fmt.Fprintf(os.Stderr, "%s podbox monitor: %v\n", time.Now().UTC().Format(time.RFC3339), err)
		return err
	}
	return nil
}
