package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/shim"
	"github.com/podbox/podbox/namespaces"
	"github.com/podbox/podbox/netns"
)

// RunOptions tune a pod's lifecycle. Zero values mean Kubernetes' numbers.
type RunOptions struct {
	// BackoffBase is the delay before the second restart of a crashing
	// container, doubling each time up to BackoffMax; default 10 s and
	// 300 s. (The first restart is immediate, as the kubelet's.)
	BackoffBase, BackoffMax time.Duration
	// BackoffReset: a container that ran this long starts its backoff
	// again; default 10 min.
	BackoffReset time.Duration
	// EvictionInterval is how often a pod that states local storage limits
	// (emptyDir sizeLimit on disk, ephemeral-storage) is measured; default
	// 10 s, the kubelet's housekeeping period.
	EvictionInterval time.Duration
	// Logf, when set, is told what the lifecycle could not do but went on
	// without (the library prints nothing itself); podbox's monitor writes
	// it to the pod's monitor.log.
	Logf func(format string, args ...any)
	// Started, when set, is called once, as soon as what WaitStarted waits
	// for may have happened: every app container started, the pod ended,
	// or a container failed to start. A caller in another process (podbox
	// run) is told at once instead of polling.
	Started func()

	// detached: the lifecycle runs in a detached monitor (RunMonitor);
	// recover: it takes on a pod whose lifecycle is gone (Recover).
	detached, recover bool
	// shim: the detached monitor was started by podbox-shim, which holds
	// the pod while this lifecycle is away (see idle); shimFirst: it is
	// the first lifecycle of its shim (see joinShim).
	shim      *shim.Conn
	shimFirst bool
}

func (o *RunOptions) defaults() {
	if o.BackoffBase <= 0 {
		o.BackoffBase = 10 * time.Second
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 300 * time.Second
	}
	if o.EvictionInterval <= 0 {
		o.EvictionInterval = 10 * time.Second
	}
	if o.BackoffReset <= 0 {
		o.BackoffReset = 10 * time.Minute
	}
}

// stopRequestFile holds the grace period of a requested stop, read by the
// pod's lifecycle when its context ends.
const stopRequestFile = "stop-request"

type stopRequest struct {
	GraceSeconds int64 `json:"graceSeconds"`
}

// runner runs one pod's lifecycle. Only its goroutine changes the pod's
// container states; the exit watchers talk to it through exits.
type runner struct {
	m     *Manager
	dir   string
	name  string
	opts  RunOptions
	st    *PodStatus // the runner's copy, written through save
	exits chan exitEvent
	// running instances, by container name, and the sidecars' start order.
	running  map[string]*instance
	sidecars []string
	// restartDue receives a container's name when its backoff has passed.
	restartDue chan string
	timers     map[string]*time.Timer
	backoff    map[string]time.Duration
	stopping   bool
	// probes and hooks bring probe results and postStart ends; quit is
	// closed when the lifecycle ends, so that nothing waits to send.
	probes chan probeResult
	hooks  chan hookResult
	quit   chan struct{}
	// evicted: the pod used more local storage than it stated; it is
	// stopped at once (grace 0), as the kubelet evicts.
	evicted bool
	// jobFailures counts the failed runs of a Job's pod's containers.
	jobFailures int
	// wake says that ephemeral containers may have been added to the
	// pod's state; attached brings the client of one that waited for it.
	wake     chan struct{}
	attached chan attachEvent
	// awaiting are the ephemeral containers that wait for their client.
	awaiting map[string]*net.UnixListener
	done     chan struct{}
	// cancel ends the lifecycle's context: a stop was asked for.
	cancel context.CancelFunc
	// mg serves a managed pod's container requests (containers.go).
	mg managed
	// handedOff: the pod was left to the shim (handOff); joinedShim: this
	// lifecycle moved into its shim's cgroup (joinShim).
	handedOff, joinedShim bool
}

// Run runs the pod's lifecycle in this process until the pod completes or
// ctx ends: init containers in order (each to exit 0 before the next;
// native sidecars start in order and keep running), then the app
// containers; containers restart per the restart policy with Kubernetes'
// backoff; the pause is restarted into the pinned namespaces if it dies;
// and when ctx ends the pod is stopped: SIGTERM, the grace period
// (RequestStop's, else the pod's), SIGKILL, sidecars last in reverse start
// order. This process becomes the containers' parent (a child subreaper);
// it is what `podbox run` leaves behind as the pod's monitor.
//
// Whoever runs it, Run is the pod's one lifecycle owner: Stop and Remove,
// from this process or any other, ask it to stop (through the pod's
// directory, never by a signal to this process) and wait for it; a pod
// already run by a lifecycle is ErrRunning.
func (m *Manager) Run(ctx context.Context, name string, opts RunOptions) error {
	opts.defaults()
	if _, _, err := ParseRef(name); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	dir := m.podDir(name)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	h := &runHandle{cancel: cancel, done: make(chan struct{})}
	if !register(dir, h) {
		return fmt.Errorf("run pod %q: its lifecycle runs in this process: %w", name, ErrRunning)
	}
	defer func() {
		unregister(dir, h)
		close(h.done)
	}()
	// The pod's monitor is this process, or the shim that started it
	// (which outlives this lifecycle when it goes idle).
	monitor := os.Getpid()
	if opts.shim != nil {
		monitor = os.Getppid()
	}
	me, err := processStart(monitor)
	if err != nil {
		return err
	}
	var st *PodStatus
	err = m.withLock(name, func() error {
		s, err := readState(dir)
		if err != nil {
			return err
		}
		check := *s
		if opts.shim != nil && s.MonitorPID == monitor && s.MonitorStart == me {
			check.MonitorPID = 0 // the shim's own: this lifecycle takes its turn
		}
		if err := runCheck(&check, opts); err != nil {
			return fmt.Errorf("%w%s", err, pauseOutput(dir))
		}
		s.MonitorPID, s.MonitorStart, s.MonitorDetached = monitor, me, opts.detached
		if s.StartTime.IsZero() {
			s.StartTime = time.Now().UTC()
		}
		if u := s.UserNamespace; u != nil {
			// Where the containers' roots are mounted is this Manager's
			// to say, not the state file's.
			if !uidPattern.MatchString(s.UID) {
				return fmt.Errorf("state names uid %q, not one podbox makes", s.UID)
			}
			u.RootfsDir = m.usernsRootfsDir(s.UID)
		}
		st = s
		return writeState(dir, s)
	})
	if err != nil {
		return fmt.Errorf("run pod %q: %w", name, err)
	}
	m.becomeSubreaper()
	r := &runner{
		m: m, dir: dir, name: name, opts: opts, st: st,
		exits:      make(chan exitEvent, 16),
		running:    map[string]*instance{},
		restartDue: make(chan string, 16),
		timers:     map[string]*time.Timer{},
		backoff:    map[string]time.Duration{},
		probes:     make(chan probeResult, 16),
		hooks:      make(chan hookResult, 16),
		quit:       make(chan struct{}),
		wake:       make(chan struct{}, 1),
		attached:   make(chan attachEvent),
		awaiting:   map[string]*net.UnixListener{},
		mg:         managed{stops: map[string][]string{}, removed: map[string]bool{}},
		done:       make(chan struct{}),
	}
	r.cancel = cancel
	if opts.shim != nil {
		// The shim reads the wake FIFO and passes the wake-ups on.
		r.wake = opts.shim.Wakes
	} else if err := r.listenWake(); err != nil {
		r.logf("pod %q: ephemeral containers can not be added, nor a stop asked from another process: %v", name, err)
	}
	defer close(r.quit)
	return r.run(ctx)
}

// runCheck refuses to run (or recover) a pod that can not be.
func runCheck(s *PodStatus, opts RunOptions) error {
	switch {
	case opts.recover:
		return recoverCheck(s)
	case s.MonitorPID != 0 && alive(s.MonitorPID, s.MonitorStart):
		return fmt.Errorf("its lifecycle runs (pid %d): %w", s.MonitorPID, ErrRunning)
	case s.Phase != PhasePending || s.MonitorPID != 0:
		// As a Kubernetes pod, a pod runs once: a new one is made.
		return fmt.Errorf("pod is %s and was started before (remove it and create it again): %w", s.Phase, errdefs.ErrFailedPrecondition)
	case !alive(s.PausePID, s.PauseStart):
		return fmt.Errorf("pause process %d is gone: %w", s.PausePID, errdefs.ErrUnavailable)
	}
	return nil
}

func (m *Manager) withLock(name string, fn func() error) error {
	l, err := m.lockPod(name)
	if err != nil {
		return err
	}
	defer l.unlock()
	return fn()
}

// save writes the runner's state, keeping what others may have changed
// (nothing today but the file itself).
func (r *runner) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// notifyStarted calls RunOptions.Started once.
func (r *runner) notifyStarted() {
	if r.opts.Started != nil {
		r.opts.Started()
		r.opts.Started = nil
	}
}

func (r *runner) save() {
	if r.st.Phase != PhasePending || crashLooping(r.st) != nil {
		defer r.notifyStarted()
	}
	err := r.m.withLock(r.name, func() error {
		// Ephemeral containers are added to the state by others
		// (AddEphemeralContainer): keep them.
		if disk, err := readState(r.dir); err == nil {
			r.adoptEphemerals(disk)
			r.adoptResources(disk)
			r.adoptContainers(disk)
		}
		return writeState(r.dir, r.st)
	})
	if err != nil && !errors.Is(err, ErrNotExist) {
		r.logf("save state of pod %q: %v", r.name, err)
	}
}

func (r *runner) run(ctx context.Context) error {
	pauseCheck := time.NewTicker(500 * time.Millisecond)
	defer pauseCheck.Stop()
	// Local storage is measured only for a pod that states a limit.
	var storageCheck <-chan time.Time
	if r.st.Config.hasStorageLimits() {
		t := time.NewTicker(r.opts.EvictionInterval)
		defer t.Stop()
		storageCheck = t.C
	}
	// activeDeadlineSeconds counts from the pod's start, as the kubelet's.
	var deadline <-chan time.Time
	if d := r.st.Config.ActiveDeadlineSeconds; d != nil {
		t := time.NewTimer(time.Until(r.st.StartTime.Add(CapSeconds(*d, MaxGracePeriod))))
		defer t.Stop()
		deadline = t.C
	}
	// loop handles events until done() holds; false when the pod must stop
	// (ctx ended, or it failed).
	loop := func(done func() bool) bool {
		for !done() {
			select {
			case ev := <-r.exits:
				r.onExit(ev)
			case name := <-r.restartDue:
				r.restart(name)
			case res := <-r.probes:
				r.onProbe(res)
			case res := <-r.hooks:
				r.onHook(res)
			case <-r.wake:
				if r.stopRequested() {
					r.cancel() // finish sees a stop that was asked for
					return false
				}
				r.reopenLogs()
				r.startEphemerals()
				r.serveRequests()
			case ev := <-r.attached:
				r.onAttach(ev)
			case <-pauseCheck.C:
				if !r.checkPause() {
					return false
				}
			case <-storageCheck:
				if why := r.storageOverLimit(); why != "" {
					r.logf("evicting the pod: %s", why)
					// Saved by finish, once the containers are stopped:
					// Failed and Evicted never show beside a running one.
					r.st.Phase, r.st.Reason, r.st.Message = PhaseFailed, ReasonEvicted, why
					r.evicted = true
					return false
				}
			case <-deadline:
				// Saved by finish, once the containers are stopped (with
				// the pod's grace period, as the kubelet stops them).
				r.logf("the pod ran past its activeDeadlineSeconds (%ds): stopping it", *r.st.Config.ActiveDeadlineSeconds)
				r.st.Phase, r.st.Reason, r.st.Message = PhaseFailed, ReasonDeadlineExceeded, "Pod was active on the node longer than the specified deadline"
				return false
			case <-ctx.Done():
				return false
			}
			if r.st.Phase == PhaseFailed {
				return false
			}
		}
		return true
	}

	if r.opts.recover {
		if !r.checkPause() {
			return r.finish(ctx)
		}
		if r.adopt() {
			r.resume()
			if !r.completed() && !r.idle() {
				r.joinShim()
			}
			if loop(func() bool { return r.completed() || r.handOff() }) && r.handedOff {
				return errIdle
			}
			return r.finish(ctx)
		}
		r.sidecars = nil
		r.save()
	}
	if len(r.st.Config.InitContainers) > 0 {
		// They may take long: their lifecycle joins its shim's cgroup now.
		r.joinShim()
	}
	// Init containers, in order.
	for i := range r.st.Config.InitContainers {
		cfg := &r.st.Config.InitContainers[i]
		cs := &r.st.InitContainers[i]
		if cs.Kind == KindSidecar {
			if !r.start(cfg, cs) {
				// A sidecar that can not start is retried with backoff;
				// the next init container waits for it to run.
				r.scheduleRestart(cs)
			}
			r.sidecars = append(r.sidecars, cfg.Name)
			// The next init container waits for it to have started: its
			// postStart hook and startup probe passed.
			if !loop(func() bool { return cs.StartedProbe() }) {
				return r.finish(ctx)
			}
			continue
		}
		for {
			ok := r.start(cfg, cs)
			if ok && !loop(func() bool { return cs.State == StateTerminated }) {
				return r.finish(ctx)
			}
			if cs.State == StateTerminated && cs.ExitCode == 0 {
				break
			}
			if !r.restarts(cs) {
				r.st.Phase = PhaseFailed
				if r.st.Message == "" {
					r.st.Message = fmt.Sprintf("init container %q failed: exit code %d (%s)", cfg.Name, cs.ExitCode, cs.Reason)
				}
				r.save()
				return r.finish(ctx)
			}
			r.scheduleRestart(cs)
			r.save()
			if !loop(func() bool { _, due := r.timers[cfg.Name]; return !due }) {
				return r.finish(ctx)
			}
		}
	}
	// App containers, together: the kubelet starts them in order and a
	// postStart hook ends before the next container starts, so the
	// containers up to one with a postStart hook start at once, and the
	// next ones once its hook ended.
	for _, batch := range appBatches(r.st.Config.Containers) {
		r.startApps(batch)
		if !loop(func() bool {
			for _, i := range batch {
				if in := r.running[r.st.Config.Containers[i].Name]; in != nil && in.hookPending {
					return false
				}
			}
			return true
		}) {
			return r.finish(ctx)
		}
	}
	r.updatePhase()
	r.save()
	if !r.completed() && !r.idle() {
		r.joinShim()
	}
	if loop(func() bool { return r.completed() || r.handOff() }) && r.handedOff {
		return errIdle
	}
	return r.finish(ctx)
}

// joinShim moves the first lifecycle a shim starts, which the shim starts
// before it is itself moved (so that the lifecycle's start overlaps the
// pod's creation), into the shim's cgroup: once the pod started, off the
// path of whoever waits for that, and only when it stays (it usually
// leaves the pod to the shim at once). Later ones are born there.
func (r *runner) joinShim() {
	if !r.opts.shimFirst || r.joinedShim {
		return
	}
	r.joinedShim = true
	if err := r.m.joinMonitor(r.name, os.Getpid()); err != nil {
		r.logf("pod %q: %v", r.name, err)
	}
}

// restartSoon: a lifecycle waits for a restart due this soon itself rather
// than leave it to the shim; leaving and being started again costs more.
const restartSoon = time.Second

// errIdle: the lifecycle left the pod to its shim (handOff).
var errIdle = errors.New("the lifecycle left the pod to its shim until there is work")

// handOff, under a shim, saves the pod and tells the shim that this
// lifecycle exits, when the pod has nothing for it to do (idle): true
// then, and Run returns errIdle. The shim starts a lifecycle again, which
// takes the pod on as Recover does, when a container ends, the pod is
// woken (a stop, an ephemeral container, ReopenLog) or its pause dies.
func (r *runner) handOff() bool {
	if !r.idle() {
		return false
	}
	// Wake-ups counted before the checks below are seen by them (who
	// wakes the pod writes what for first); later ones make the shim start
	// a lifecycle again at once.
	wakes := r.opts.shim.WakeCount()
	r.save() // may take ephemeral containers added meanwhile
	if !r.idle() || r.stopRequested() {
		return false
	}
	if err := r.opts.shim.Idle(wakes, r.restartAt(), r.st.PausePID); err != nil {
		r.logf("pod %q: stay, the shim can not be told: %v", r.name, err)
		r.opts.shim = nil
		return false
	}
	r.handedOff = true
	return true
}

// restartAt is when the first container waiting in its restart backoff
// restarts; zero when none waits.
func (r *runner) restartAt() time.Time {
	var at time.Time
	for name := range r.timers {
		if cs := r.st.container(name); cs != nil && (at.IsZero() || cs.RestartAt.Before(at)) {
			at = cs.RestartAt
		}
	}
	return at
}

// idle: the lifecycle runs under a shim, the pod runs, and nothing but the
// shim's wake-ups and restart backoffs (restartAt) is waited for: no other
// timer (deadline, eviction), probe, postStart hook, stop, ephemeral or
// attached container, nor a container whose output this process copies.
func (r *runner) idle() bool {
	c := &r.st.Config
	if r.opts.shim == nil || c.Managed || r.stopping || r.st.Phase != PhaseRunning ||
		c.hasStorageLimits() || c.ActiveDeadlineSeconds != nil || c.BackoffLimit != nil {
		return false
	}
	if len(r.awaiting)+len(r.exits)+len(r.wake)+len(r.restartDue)+len(r.probes)+len(r.hooks)+len(r.opts.shim.Wakes) > 0 {
		return false
	}
	// A restart in its backoff is the shim's to wake the lifecycle for
	// (restartAt); one due soon, or overdue (a lifecycle the shim started
	// for it, whose timer fired and has not been handled yet), is not: a
	// lifecycle that left for it would be started again at once, to leave
	// again, without ever restarting the container.
	for name := range r.timers {
		if cs := r.st.container(name); cs == nil || cs.State != StateWaiting || cs.Reason != ReasonCrashLoopBackOff || time.Until(cs.RestartAt) < restartSoon {
			return false
		}
	}
	for name, in := range r.running {
		cfg, cs := r.st.containerConfig(name), r.st.container(name)
		if in.shim == nil || in.hookPending || in.stopping || in.hub != nil || cfg == nil || cs == nil || cs.Kind == KindEphemeral ||
			cfg.StartupProbe != nil || cfg.LivenessProbe != nil || cfg.ReadinessProbe != nil {
			return false
		}
		select {
		case <-in.done:
			return false // its end is on its way
		default:
		}
	}
	return true
}

// start starts an instance of a container and records it; false when it
// could not start (recorded as terminated with reason StartError).
func (r *runner) start(cfg *ContainerConfig, cs *ContainerStatus) bool {
	return r.startWith(cfg, cs, instanceExtras{})
}

func (r *runner) startWith(cfg *ContainerConfig, cs *ContainerStatus, ex instanceExtras) bool {
	p := r.prepareStart(cfg, cs, ex)
	p.run(r)
	ok := r.record(p)
	r.save()
	if !ok {
		r.notifyStarted()
	}
	p.done()
	return ok
}

// maxParallelStarts bounds the containers a pod starts at once.
const maxParallelStarts = 8

// appBatches splits the app containers (their indices) into the groups
// that start together: each group ends with a container that has a
// postStart hook, which the next group waits for.
func appBatches(ctrs []ContainerConfig) [][]int {
	var batches [][]int
	var cur []int
	for i := range ctrs {
		cur = append(cur, i)
		if l := ctrs[i].Lifecycle; l != nil && l.PostStart != nil {
			batches = append(batches, cur)
			cur = nil
		}
	}
	if len(cur) > 0 {
		batches = append(batches, cur)
	}
	return batches
}

// startApps starts the app containers of one batch at once (at most
// maxParallelStarts creations in flight), then records them in order,
// with one state write for the batch.
func (r *runner) startApps(batch []int) {
	ps := make([]*pendingStart, len(batch))
	for k, i := range batch {
		ps[k] = r.prepareStart(&r.st.Config.Containers[i], &r.st.Containers[i], instanceExtras{})
	}
	if len(ps) == 1 {
		ps[0].run(r)
	} else {
		// Only the creations run at once; the pod's state is not touched
		// until every one has returned.
		var wg sync.WaitGroup
		slots := make(chan struct{}, maxParallelStarts)
		for _, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				slots <- struct{}{}
				defer func() { <-slots }()
				p.run(r)
			}()
		}
		wg.Wait()
	}
	failed := false
	for k, p := range ps {
		if !r.record(p) {
			failed = true
			r.afterExit(&r.st.Containers[batch[k]])
		}
	}
	r.save()
	if failed {
		r.notifyStarted()
	}
	for _, p := range ps {
		p.done()
	}
}

// pendingStart is one container start, split in three so that several
// can run at once: prepareStart and record in the lifecycle's goroutine,
// run (the creation, through libcontainer) in any.
type pendingStart struct {
	cfg             *ContainerConfig
	cs              *ContainerStatus
	ex              instanceExtras
	logDir, logPath string
	in              *instance
	err             error
}

func (r *runner) prepareStart(cfg *ContainerConfig, cs *ContainerStatus, ex instanceExtras) *pendingStart {
	if !cs.StartedAt.IsZero() { // an instance ran before: this is a restart
		if cs.State == StateTerminated {
			cs.LastTermination = cs.termination()
		}
		cs.RestartCount++
	}
	logDir := r.st.LogDir
	if logDir == "" { // a pod made before logs moved to the log root
		logDir = filepath.Join(r.dir, "logs")
	}
	logPath := LogPath(logDir, cfg.Name, cs.RestartCount)
	if cfg.LogPath != "" {
		logPath = cfg.LogPath
	}
	return &pendingStart{cfg: cfg, cs: cs, ex: ex, logDir: logDir, logPath: logPath}
}

func (p *pendingStart) run(r *runner) {
	if !r.st.Config.Managed {
		p.ex.shim = r.opts.shim
	}
	p.in, p.err = startInstance(r.dir, r.st, p.cfg, p.cs.CgroupPath, p.logPath, p.ex, r.exits)
}

// record writes the start's outcome into the container's status (not yet
// saved); false when it could not start (terminated with reason
// StartError).
func (r *runner) record(p *pendingStart) bool {
	cfg, cs, ex, logPath, in := p.cfg, p.cs, p.ex, p.logPath, p.in
	if p.err != nil {
		now := time.Now().UTC()
		*cs = ContainerStatus{
			Name: cs.Name, Kind: cs.Kind, State: StateTerminated, Reason: ReasonStartError,
			Message: p.err.Error(), ExitCode: 128, StartedAt: now, FinishedAt: now,
			RestartCount: cs.RestartCount, LastTermination: cs.LastTermination, Started: cs.Started,
			CgroupPath: cs.CgroupPath, LogPath: logPath, Created: cs.Created, Backoff: cs.Backoff,
		}
		os.MkdirAll(filepath.Dir(logPath), 0o700)
		os.WriteFile(logPath, []byte(fmt.Sprintf("%s stderr F podbox: start container %q: %v\n",
			now.Format(time.RFC3339Nano), cfg.Name, p.err)), 0o600)
		if a := ex.attach; a != nil {
			fmt.Fprintf(a.conn, "podbox: start container %q: %v\r\n", cfg.Name, p.err)
			a.conn.Close()
		}
		return false
	}
	r.running[cfg.Name] = in
	var postStart *LifecycleHandler
	if cfg.Lifecycle != nil {
		postStart = cfg.Lifecycle.PostStart
	}
	*cs = ContainerStatus{
		Name: cs.Name, Kind: cs.Kind, State: StateRunning, PID: in.pid, StartedAt: in.started,
		RestartCount: cs.RestartCount, LastTermination: cs.LastTermination, Started: true,
		CgroupPath: cs.CgroupPath, LogPath: logPath, Created: cs.Created, OOMBase: in.oomBase, Backoff: cs.Backoff,
		StartupPending: postStart != nil || cfg.StartupProbe != nil,
		NotReady:       cfg.ReadinessProbe != nil,
	}
	if postStart != nil {
		in.hookPending = true
		go r.postStart(in, newTarget(r.m, r.st, cfg), postStart)
	} else {
		r.startProbes(in, cfg)
	}
	return true
}

// done follows the saved state: the logs of instances before the previous
// one go once the state says this one is current (a reader that saw the
// state before still finds the previous one of its own view).
func (p *pendingStart) done() {
	pruneInstances(p.logDir, p.cfg.Name, p.cs.RestartCount-1)
	if p.err == nil {
		crashPoint("container-started")
	}
}

func (r *runner) onExit(ev exitEvent) {
	if ev.reap != nil {
		ev.reap()
	}
	in, ok := r.running[ev.name]
	if !ok || in.pid != ev.pid {
		return
	}
	delete(r.running, ev.name)
	if in.cancelProbes != nil {
		in.cancelProbes()
	}
	cs := r.st.container(ev.name)
	cs.State, cs.PID = StateTerminated, 0
	cs.StartupPending, cs.NotReady = false, false
	cs.ExitCode, cs.Reason, cs.Message = ev.term.ExitCode, ev.term.Reason, in.killMsg
	cs.StartedAt, cs.FinishedAt = ev.term.StartedAt, ev.term.FinishedAt
	// What the container wrote about its end, after what the lifecycle
	// says (a failed probe), as the kubelet joins them.
	if cfg := r.st.containerConfig(ev.name); cfg != nil {
		if tm := terminationMessage(r.dir, cfg, ev.term.ExitCode, cs.LogPath, r.st.Config.terminationBudget()); tm != "" {
			if cs.Message != "" {
				cs.Message += ": "
			}
			cs.Message += tm
		}
	}
	// A container that ran long enough starts its backoff again.
	if ev.term.FinishedAt.Sub(ev.term.StartedAt) >= r.opts.BackoffReset {
		delete(r.backoff, ev.name)
		cs.Backoff = 0
	}
	r.afterExit(cs)
	r.save()
	if r.st.Config.Managed {
		// Its stoppers hear of the end once the state on disk says it.
		r.managedExit(cs)
	}
}

// afterExit decides whether a terminated container restarts.
func (r *runner) afterExit(cs *ContainerStatus) {
	if r.st.Config.Managed {
		r.updatePhase() // never restarted: see onExit for its stoppers
		return
	}
	if r.stopping {
		return
	}
	switch cs.Kind {
	case KindSidecar:
		r.scheduleRestart(cs) // whatever the pod's policy
	case KindApp:
		if r.restarts(cs) {
			r.scheduleRestart(cs)
		}
	}
	r.updatePhase()
}

// restarts says whether a container that ended (not a sidecar) runs
// again: under a Job, a failed one does until the Job's backoffLimit
// (past it the pod is Failed); else its first restart rule that matches
// the exit code says so, else its own restartPolicy, else the pod's.
func (r *runner) restarts(cs *ContainerStatus) bool {
	cfg := r.st.containerConfig(cs.Name)
	if limit := r.st.Config.BackoffLimit; limit != nil && cs.ExitCode != 0 {
		r.jobFailures++
		if r.jobFailures > int(*limit) {
			r.st.Phase, r.st.Reason = PhaseFailed, ReasonBackoffLimitExceeded
			r.st.Message = fmt.Sprintf("Job has reached the specified backoff limit (%d): container %q failed %d times", *limit, cs.Name, r.jobFailures)
			return false
		}
		return true
	}
	for _, rule := range cfg.RestartPolicyRules {
		if rule.matches(cs.ExitCode) {
			return rule.Action == RuleRestart
		}
	}
	policy := cfg.RestartPolicy
	if policy == "" || (cs.Kind == KindInit && policy == RestartAlways) {
		policy = r.st.Config.RestartPolicy
	}
	switch policy {
	case RestartNever:
		return false
	case RestartOnFailure:
		return cs.ExitCode != 0
	}
	return true
}

// scheduleRestart restarts cs after its backoff: none the first time, then
// BackoffBase doubling up to BackoffMax. While it waits it is reported
// waiting with reason CrashLoopBackOff.
func (r *runner) scheduleRestart(cs *ContainerStatus) {
	d, seen := r.backoff[cs.Name]
	switch {
	case !seen:
		r.backoff[cs.Name] = r.opts.BackoffBase
	default:
		r.backoff[cs.Name] = min(2*d, r.opts.BackoffMax)
	}
	cs.Backoff = r.backoff[cs.Name]
	name := cs.Name
	if !seen {
		r.timers[name] = time.AfterFunc(0, func() { r.restartDue <- name })
		return
	}
	cs.LastTermination = cs.termination()
	cs.State, cs.Reason, cs.Message = StateWaiting, ReasonCrashLoopBackOff,
		fmt.Sprintf("back-off %s restarting failed container %s", d, name)
	cs.RestartAt = time.Now().Add(d).UTC()
	r.timers[name] = time.AfterFunc(d, func() { r.restartDue <- name })
}

func (r *runner) restart(name string) {
	delete(r.timers, name)
	if r.stopping {
		return
	}
	if _, err := os.Stat(filepath.Join(r.dir, stateFile)); err != nil {
		// Removed under the lifecycle (by a process that could not stop
		// it): nothing is made again.
		r.cancel()
		return
	}
	cs := r.st.container(name)
	if cs.Kind == KindInit {
		return // the init sequence starts it again itself
	}
	if !r.start(r.st.containerConfig(name), cs) {
		r.afterExit(cs)
		r.save()
	}
}

// completed: every app container has terminated and none will restart.
func (r *runner) completed() bool {
	if r.st.Config.Managed {
		return false // it lives until stopped, with or without containers
	}
	for _, cs := range r.st.Containers {
		if cs.State != StateTerminated {
			return false
		}
		if _, due := r.timers[cs.Name]; due {
			return false
		}
	}
	return true
}

// updatePhase sets Running once every app container has started.
func (r *runner) updatePhase() {
	if r.st.Phase != PhasePending {
		return
	}
	for _, cs := range r.st.Containers {
		if !cs.Started {
			return
		}
	}
	r.st.Phase = PhaseRunning
}

// checkPause restarts the pause into the pod's pinned namespaces if it died;
// the containers keep running and the pod keeps its IP. A pod that shares
// one PID namespace can not heal: its namespace died with its PID 1.
func (r *runner) checkPause() bool {
	if alive(r.st.PausePID, r.st.PauseStart) {
		return true
	}
	if r.st.Config.ShareProcessNamespace {
		r.st.Phase = PhaseFailed
		r.st.Message = "the pause process (PID 1 of the pod's shared PID namespace) died"
		r.save()
		return false
	}
	// A pause that was started again and died again soon after is broken
	// (a pause program that exits at once, say): restarting it would loop.
	if age, ok := processAge(r.st.PauseStart); r.st.PauseRestarts > 0 && ok && age < pauseMinLife {
		r.st.Phase = PhaseFailed
		r.st.Message = fmt.Sprintf("the pod's pause died again %.1fs after it was restarted%s", age.Seconds(), pauseOutput(r.dir))
		r.logf("%s", r.st.Message)
		r.save()
		return false
	}
	pid, start, err := r.m.restartPause(r.dir, r.st)
	if err != nil {
		r.st.Phase = PhaseFailed
		r.st.Message = fmt.Sprintf("restart the pause process: %v%s", err, pauseOutput(r.dir))
		r.save()
		return false
	}
	r.logf("the pause (pid %d) died: started it again (pid %d)", r.st.PausePID, pid)
	r.st.PausePID, r.st.PauseStart = pid, start
	r.st.PauseRestarts++
	r.save()
	return true
}

// pauseMinLife is how long a restarted pause must live for the lifecycle to
// start it once more when it dies.
const pauseMinLife = 10 * time.Second

// finish stops what still runs and records the pod's end. After a stop
// request (ctx ended) the phase is Stopped; otherwise Succeeded when every
// app container ended with 0, else Failed. The pause is ended too; the
// sandbox (namespaces, cgroup, files) stays until Remove.
func (r *runner) finish(ctx context.Context) error {
	r.stopping = true
	r.stopEphemerals()
	for name, t := range r.timers {
		t.Stop()
		delete(r.timers, name)
	}
	grace := r.st.Config.gracePeriod()
	if r.evicted {
		grace = 0
	}
	if ctx.Err() != nil {
		if b, err := os.ReadFile(filepath.Join(r.dir, stopRequestFile)); err == nil {
			var req stopRequest
			if json.Unmarshal(b, &req) == nil {
				grace = CapSeconds(req.GraceSeconds, MaxGracePeriod)
			}
		}
	}
	deadline := time.Now().Add(grace)
	if ctx.Err() != nil && len(r.running) > 0 {
		// A stop that was asked for: say when it reached the containers.
		// (Not an eviction's or a deadline's, whose Failed is saved only
		// once no container runs.)
		r.st.StoppingSince = time.Now().UTC()
		r.save()
	}
	// App containers (and a running init container) first, all at once;
	// then the sidecars, last started first.
	var first, all []string
	for name := range r.running {
		all = append(all, name)
		if r.st.container(name).Kind != KindSidecar {
			first = append(first, name)
		}
	}
	killed := r.terminate(first, deadline)
	for i := len(r.sidecars) - 1; i >= 0; i-- {
		if _, ok := r.running[r.sidecars[i]]; ok {
			killed = append(killed, r.terminate([]string{r.sidecars[i]}, deadline)...)
		}
	}
	if ctx.Err() != nil {
		// A stop that was asked for is no failure of the containers it
		// ended: say so, as the exit code alone (137) can not.
		r.markStopped(all, killed, grace)
	}
	r.m.killPause(r.dir, r.st)
	// Nothing restarts any more: a container that waited to (re)start has
	// ended as it was.
	for _, list := range r.st.lists() {
		for i := range list {
			cs := &list[i]
			if cs.State != StateWaiting {
				continue
			}
			if t := cs.LastTermination; t != nil && cs.Reason == ReasonCrashLoopBackOff {
				// Back to how the last instance ended.
				cs.ExitCode, cs.Reason, cs.Message, cs.StartedAt, cs.FinishedAt = t.ExitCode, t.Reason, t.Message, t.StartedAt, t.FinishedAt
				cs.LastTermination = nil
			} else {
				cs.Reason = ReasonUnknown
			}
			cs.State = StateTerminated
		}
	}
	switch {
	case ctx.Err() != nil:
		r.st.Phase = PhaseStopped
		r.st.Message = "stopped on request"
	case r.st.Phase == PhaseFailed:
	default:
		r.st.Phase = PhaseSucceeded
		for _, cs := range r.st.Containers {
			if cs.ExitCode != 0 {
				r.st.Phase = PhaseFailed
			}
		}
	}
	r.st.MonitorPID, r.st.MonitorStart, r.st.MonitorDetached = 0, 0, false
	r.save()
	r.notifyStarted()
	return nil
}

// markStopped gives the containers the stop ended (names: those running
// when it began) the reason Stopped (an OOM kill keeps its own), saying
// whether they exited after SIGTERM or were killed when the grace period
// ran out.
func (r *runner) markStopped(names, killed []string, grace time.Duration) {
	for _, n := range names {
		cs := r.st.container(n)
		if cs == nil || cs.State != StateTerminated || cs.Reason == ReasonOOMKilled {
			continue
		}
		cs.Reason, cs.Message = ReasonStopped, "stopped on request: exited after SIGTERM"
		if slices.Contains(killed, n) {
			cs.Message = fmt.Sprintf("stopped on request: killed after the %s grace period", grace)
		}
	}
}

// terminate stops the named running containers (stopInstance: preStop
// hook, stop signal, SIGKILL at deadline) and waits for them. It returns
// the names it had to SIGKILL.
func (r *runner) terminate(names []string, deadline time.Time) (killed []string) {
	left := map[string]*instance{}
	for _, n := range names {
		if in, ok := r.running[n]; ok {
			r.stopInstance(in, r.st.containerConfig(n), time.Until(deadline))
			left[n] = in
		}
	}
	all := maps.Clone(left)
	// A backstop: a process that outlives its SIGKILL by 10 s is given up
	// on (a preStop hook may have added minPreStopGrace).
	timer := time.NewTimer(time.Until(deadline) + minPreStopGrace + 10*time.Second)
	defer timer.Stop()
wait:
	for len(left) > 0 {
		select {
		case ev := <-r.exits:
			r.onExit(ev)
			if in, ok := left[ev.name]; ok && in.pid == ev.pid {
				delete(left, ev.name)
			}
		case <-timer.C:
			break wait
		}
	}
	for n, in := range all {
		if in.killed.Load() {
			killed = append(killed, n)
		}
	}
	return killed
}

// restartPause starts a new pause in the pod's pinned namespaces and
// cgroup. The fork happens on a thread that joined those namespaces, so the
// child is born in them. It holds the pod's hostPorts again, where nothing
// took them meanwhile (the pod's traffic reaches it either way).
func (m *Manager) restartPause(dir string, st *PodStatus) (int, uint64, error) {
	var held []*os.File
	if !st.Config.HostNetwork {
		// In this thread, in the host's network namespace.
		held, _ = netns.HoldPorts(hostPorts(&st.Config))
		defer closeAll(held)
	}
	// Born in the pod's namespaces: forked from a thread that joined them
	// (those it has: a hostNetwork pod's pause is in the host's network
	// and UTS namespaces).
	paths := map[string]string{}
	for _, kind := range []string{"net", "ipc", "uts"} {
		if podHas(&st.Config, kind) {
			paths[kind] = st.Namespaces[kind]
		}
	}
	var res struct {
		pid   int
		start uint64
	}
	err := namespaces.Enter(paths, func() error {
		cmd, logf := m.pauseCmd(dir, &syscall.SysProcAttr{Setsid: true}, held)
		if logf != nil {
			defer logf.Close()
		}
		if u := st.UserNamespace; u != nil {
			// Outside the pod's user namespace (a process can not join one
			// from a threaded one), but as its root's host IDs, never as
			// the host's root.
			cmd.SysProcAttr.Credential = &syscall.Credential{Uid: u.HostID, Gid: u.HostID}
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		res.pid = cmd.Process.Pid
		var err error
		res.start, err = processStart(res.pid) // before the reaper can take it
		go cmd.Wait()
		protectFromOOM(res.pid)
		return err
	})
	if err != nil {
		if res.pid > 0 {
			unix.Kill(res.pid, unix.SIGKILL)
		}
		return 0, 0, err
	}
	if err := cgroups.LoadPod(st.CgroupPath).Join(pauseCgroup, res.pid); err != nil {
		unix.Kill(res.pid, unix.SIGKILL)
		return 0, 0, err
	}
	return res.pid, res.start, nil
}

// Start runs the pod's lifecycle (Run) in this process, in the background,
// and returns once every app container has started, or with the reason the
// pod failed before that. Stop or Remove end it.
func (m *Manager) Start(ctx context.Context, name string, opts RunOptions) error {
	if _, _, err := ParseRef(name); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if registered(m.podDir(name)) != nil {
		return fmt.Errorf("start pod %q: %w", name, ErrRunning)
	}
	errc := make(chan error, 1)
	go func() { errc <- m.Run(context.Background(), name, opts) }()
	err := m.WaitStarted(ctx, name, errc)
	if err != nil {
		m.stopRunner(name, 0)
	}
	return err
}

// requestStop records the grace period for the pod's lifecycle to use when
// it stops.
func (m *Manager) requestStop(name string, grace time.Duration) error {
	b, _ := json.Marshal(stopRequest{GraceSeconds: int64((grace + time.Second - 1) / time.Second)})
	return writeFileAtomic(filepath.Join(m.podDir(name), stopRequestFile), b)
}

// stopRunner stops the pod's lifecycle run by this process (Run or Start,
// by any Manager), if any, with the grace period given, and waits for it;
// false when there is none.
func (m *Manager) stopRunner(name string, grace time.Duration) bool {
	h := registered(m.podDir(name))
	if h == nil {
		return false
	}
	m.requestStop(name, grace)
	h.cancel()
	<-h.done
	return true
}

// WaitStarted waits until every app container of the pod has started, or
// the pod can not get there without a change: it ended or failed, a
// container failed to start, or one is in CrashLoopBackOff before the pod
// runs (an init container that keeps failing, say). It returns the reason
// of a failure, with the last lines of the failed container's log. runErr,
// when not nil, reports the lifecycle's end.
func (m *Manager) WaitStarted(ctx context.Context, name string, runErr <-chan error) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := m.Status(ctx, name)
		if err != nil {
			return err
		}
		switch st.Phase {
		case PhaseRunning, PhaseSucceeded:
			return nil
		case PhaseFailed, PhaseStopped, PhaseUnknown:
			return errdefs.With(errdefs.ErrFailedPrecondition, fmt.Errorf("pod %q is %s: %s", name, st.Phase, failureReason(st)))
		}
		// A container that can not even start (no such command, a bad
		// mount) would only loop: say so now.
		for _, list := range [][]ContainerStatus{st.InitContainers, st.Containers} {
			for _, cs := range list {
				t := cs.termination()
				if cs.State != StateTerminated && cs.LastTermination != nil {
					t = cs.LastTermination
				}
				if t.Reason == ReasonStartError {
					return errdefs.With(errdefs.ErrFailedPrecondition, fmt.Errorf("pod %q: container %q failed to start: %s", name, cs.Name, t.Message))
				}
			}
		}
		if cs := crashLooping(st); cs != nil {
			msg := fmt.Sprintf("pod %q can not start: %s container %q is in %s", name, cs.Kind, cs.Name, ReasonCrashLoopBackOff)
			if t := cs.LastTermination; t != nil {
				msg += fmt.Sprintf(" (exit code %d, %s; restart count %d)", t.ExitCode, t.Reason, cs.RestartCount)
			}
			if tail := logTail(cs.LogPath, 5); tail != "" {
				msg += "\nlast lines of its log:\n" + tail
			}
			return errdefs.With(errdefs.ErrFailedPrecondition, errors.New(msg))
		}
		select {
		case err := <-runErr:
			if err != nil {
				return err
			}
			runErr = nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// crashLooping is the first container of a pending pod that waits in
// CrashLoopBackOff, or nil.
func crashLooping(st *PodStatus) *ContainerStatus {
	if st.Phase != PhasePending {
		return nil
	}
	for _, list := range [][]ContainerStatus{st.InitContainers, st.Containers} {
		for i := range list {
			if list[i].State == StateWaiting && list[i].Reason == ReasonCrashLoopBackOff {
				return &list[i]
			}
		}
	}
	return nil
}

// failureReason explains a failed pod: its message, or the first container
// that failed, with its log's last lines.
func failureReason(st *PodStatus) string {
	msg := st.Message
	for _, list := range [][]ContainerStatus{st.InitContainers, st.Containers} {
		for _, cs := range list {
			if cs.State == StateTerminated && cs.ExitCode != 0 {
				if msg == "" {
					msg = fmt.Sprintf("container %q: exit code %d (%s)", cs.Name, cs.ExitCode, cs.Reason)
				}
				if tail := logTail(cs.LogPath, 5); tail != "" {
					msg += "\nlast lines of its log:\n" + tail
				}
				return msg
			}
		}
	}
	if msg == "" {
		msg = "no container failed"
	}
	return msg
}

// Stop stops the pod: every container gets SIGTERM, up to grace (the
// pod's terminationGracePeriodSeconds when grace < 0) to exit, then
// SIGKILL; sidecars last; then the pause. The pod's lifecycle does it when
// one runs (in this process or a monitor); otherwise Stop does it itself.
// The sandbox (namespaces, cgroup, files) stays until Remove.
func (m *Manager) Stop(ctx context.Context, name string, grace time.Duration) error {
	st, err := m.readPod(name)
	if err != nil {
		return fmt.Errorf("stop pod %q: %w", name, err)
	}
	if grace < 0 {
		grace = st.Config.gracePeriod()
	}
	if m.stopRunner(name, grace) {
		return nil
	}
	switch st.Phase {
	case PhaseSucceeded, PhaseFailed, PhaseStopped:
		// Ended already, pause included: keep how it ended.
		return nil
	}
	if err := m.requestStop(name, grace); err != nil {
		return fmt.Errorf("stop pod %q: %w", name, err)
	}
	if m.stopElsewhere(name, st, grace+15*time.Second) {
		return nil
	}
	// Nobody runs the pod's lifecycle: stop what is left directly.
	return m.stopOrphaned(ctx, name, grace)
}

// stopOrphaned stops a pod whose monitor is gone: SIGTERM to each running
// container's main process, the grace period, then SIGKILL (through the pod
// cgroup), and records the pod Stopped. Exit codes are lost with the
// monitor. A recorded PID is signalled only through a pidfd taken while it
// is still a process of the container's cgroup: the monitor being gone, the
// PID may have been reused by another process of the host.
func (m *Manager) stopOrphaned(ctx context.Context, name string, grace time.Duration) error {
	dir := m.podDir(name)
	return m.withLock(name, func() error {
		st, err := readState(dir)
		if err != nil {
			return err
		}
		var fds []int
		defer func() {
			for _, fd := range fds {
				unix.Close(fd)
			}
		}()
		for _, list := range st.lists() {
			for _, cs := range list {
				if cs.State != StateRunning {
					continue
				}
				fd, err := pidfdIn(cs.PID, cs.CgroupPath)
				if err != nil {
					return err
				}
				if fd >= 0 {
					unix.PidfdSendSignal(fd, unix.SIGTERM, nil, 0)
					fds = append(fds, fd)
				}
			}
		}
		waitPidfds(ctx, fds, time.Now().Add(grace))
		m.killPause(dir, st)
		// Whatever is left in the pod's cgroups, containers included.
		if err := cgroups.LoadPod(st.CgroupPath).Destroy(); err != nil {
			return err
		}
		now := time.Now().UTC()
		for _, list := range st.lists() {
			for i := range list {
				if cs := &list[i]; cs.State != StateTerminated {
					cs.State, cs.Reason, cs.ExitCode, cs.FinishedAt, cs.PID = StateTerminated, ReasonUnknown, -1, now, 0
				}
			}
		}
		st.Phase, st.MonitorPID, st.MonitorStart = PhaseStopped, 0, 0
		return writeState(dir, st)
	})
}

func (m *Manager) becomeSubreaper() {
	m.subreaper.Do(func() {
		// Containers' processes are our grandchildren (libcontainer's
		// nsexec forks twice): only a subreaper can wait for them.
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	})
}

func (m *Manager) lockPod(name string) (*podLock, error) {
	if _, _, err := ParseRef(name); err != nil {
		return nil, err
	}
	l, err := lockDir(m.podDir(name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotExist
	}
	return l, err
}
