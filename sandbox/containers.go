package sandbox

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/mounts"
)

// Managed pods are run the way a CRI runtime runs them for the kubelet:
// the sandbox is made first (Create, Start) with no container, then the
// embedder adds containers one by one (AddContainer), and starts, stops and
// removes each (StartContainer, StopContainer, RemoveContainer). The pod's
// lifecycle never starts nor restarts a container by itself (the kubelet
// does that), and a pod with no container stays up until Stop.
//
// As for ephemeral containers, the pod's lifecycle (its monitor, or the
// process that called Start) does the work: a request is written to the
// pod's requests/ directory, the lifecycle is woken through the pod's wake
// FIFO, and it answers with a file beside the request. The caller never
// keeps state of its own: the pod's state file says everything.

// requestsDir holds the requests to the pod's lifecycle and its answers.
const requestsDir = "requests"

// ctrRequest asks the lifecycle to do Op ("start", "stop", "remove") to
// container Name; Grace is a stop's grace period.
type ctrRequest struct {
	Op    string        `json:"op"`
	Name  string        `json:"name"`
	Grace time.Duration `json:"grace,omitempty"`
}

// ctrAnswer is the lifecycle's answer; Error is empty on success.
type ctrAnswer struct {
	Error string `json:"error,omitempty"`
	// NotExist: the container is not in the pod (any more).
	NotExist bool `json:"notExist,omitempty"`
}

// AddContainer adds cfg to the managed pod as an app container that is
// created but not started (waiting, reason ContainerCreating): its image is
// resolved when Options.Images is set (pulling nothing, see PullImages) and
// leased until the container or the pod is removed. The pod must be
// running (its lifecycle alive). A name the pod already has is refused
// with ErrExist.
//
// Equivalent to: crictl create POD CONTAINER.json POD.json
func (m *Manager) AddContainer(ctx context.Context, pod string, cfg ContainerConfig) error {
	if _, _, err := ParseRef(pod); err != nil {
		return fmt.Errorf("add container: %w", err)
	}
	dir := m.podDir(pod)
	err := m.withLock(pod, func() error {
		st, err := readState(dir)
		if err != nil {
			return err
		}
		if !st.Config.Managed {
			return fmt.Errorf("pod %q is not a managed pod: %w", pod, ErrInvalid)
		}
		if (st.Phase != PhaseRunning && st.Phase != PhasePending) || st.MonitorPID == 0 || !alive(st.MonitorPID, st.MonitorStart) {
			return fmt.Errorf("pod %q is %s: %w", pod, st.Phase, ErrNotRunning)
		}
		f := fmt.Sprintf("containers[%d]", len(st.Config.Containers))
		if err := ValidateName(f+".name", cfg.Name); err != nil {
			return fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if cfg.Name == pauseCgroup {
			return fmt.Errorf("%w: %s.name: %q is reserved for the pause process", ErrInvalid, f, cfg.Name)
		}
		if st.containerConfig(cfg.Name) != nil {
			return fmt.Errorf("container %q: %w", cfg.Name, ErrExist)
		}
		if err := m.resolveManaged(ctx, dir, pod, &cfg); err != nil {
			return err
		}
		volumes := map[string]bool{}
		for _, v := range st.Config.Volumes {
			volumes[v.Name] = true
		}
		if errs := checkContainer(f, &cfg, volumes, false, nil); len(errs) > 0 {
			m.releaseManagedImage(dir, cfg.Name)
			return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
		}
		if cfg.LogPath != "" && !filepath.IsAbs(cfg.LogPath) {
			m.releaseManagedImage(dir, cfg.Name)
			return fmt.Errorf("%w: %s.logPath: %q is not an absolute path", ErrInvalid, f, cfg.LogPath)
		}
		profiles, err := readSeccompProfiles(m.opts.SeccompRoot, &PodConfig{Containers: []ContainerConfig{cfg}})
		if err == nil {
			err = writeSeccompProfiles(dir, profiles)
		}
		if err != nil {
			m.releaseManagedImage(dir, cfg.Name)
			return err
		}
		st.Config.Containers = append(st.Config.Containers, cfg)
		st.Containers = append(st.Containers, ContainerStatus{
			Name: cfg.Name, Kind: KindApp, State: StateWaiting, Reason: ReasonCreating,
			CgroupPath: cgroups.LoadPod(st.CgroupPath).Child(cfg.Name),
			Created:    time.Now().UTC(),
		})
		return writeState(dir, st)
	})
	if errors.Is(err, os.ErrNotExist) {
		err = ErrNotExist
	}
	if err != nil {
		return fmt.Errorf("add container %q to pod %q: %w", cfg.Name, pod, err)
	}
	// The lifecycle adopts it at its next save; wake it so that it does now.
	wake(dir)
	return nil
}

// managedLeaseKey names the image lease of a managed pod's container.
func managedLeaseKey(dir, name string) string { return leaseKey(dir + "\x00container\x00" + name) }

// resolveManaged resolves a managed container's image, as ResolveImages
// does, and the images of its image mounts (checking that their SubPath
// is a directory of the image), and leases them for the container.
func (m *Manager) resolveManaged(ctx context.Context, dir, ref string, c *ContainerConfig) error {
	if m.opts.Images == nil {
		return nil
	}
	var imgs []*image.Image
	if c.Image != "" && c.Rootfs == "" && len(c.RootfsLayers) == 0 {
		img, err := m.opts.Images.Get(c.Image)
		if err == nil {
			err = resolveContainer(ctx, m.opts.Images, img, c)
		}
		if err != nil {
			return fmt.Errorf("image %q: %w", c.Image, err)
		}
		imgs = append(imgs, img)
	}
	for i := range c.Mounts {
		mt := &c.Mounts[i]
		if mt.Image == "" || len(mt.ImageLayers) > 0 {
			continue
		}
		img, err := m.opts.Images.Get(mt.Image)
		if err == nil && mt.SubPath != "" {
			err = checkImageDir(ctx, m.opts.Images, img, mt.SubPath)
		}
		if err != nil {
			return fmt.Errorf("image mount %s: image %q: %w", mt.Target, mt.Image, err)
		}
		mt.ImageLayers = img.LayerDirs
		imgs = append(imgs, img)
	}
	if len(imgs) == 0 {
		return nil
	}
	return m.opts.Images.AddLease(managedLeaseKey(dir, c.Name), ref, imgs...)
}

// checkImageDir checks that sub is a directory inside img, resolved
// within the image.
func checkImageDir(ctx context.Context, store *image.Store, img *image.Image, sub string) error {
	view, release, err := store.View(ctx, img)
	if err != nil {
		return err
	}
	defer release()
	p, err := securejoin.SecureJoin(view, sub)
	if err != nil {
		return fmt.Errorf("subPath %q: %w", sub, err)
	}
	if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
		return fmt.Errorf("subPath %q: not a directory of the image: %w", sub, ErrInvalid)
	}
	return nil
}

func (m *Manager) releaseManagedImage(dir, name string) error {
	if m.opts.Images == nil {
		return nil
	}
	return m.opts.Images.Release(managedLeaseKey(dir, name))
}

// releaseManagedImages releases the image leases of a managed pod's
// containers (at the pod's removal).
func (m *Manager) releaseManagedImages(dir string, st *PodStatus) error {
	if st == nil || !st.Config.Managed {
		return nil
	}
	var errs []error
	for _, c := range st.Config.Containers {
		if err := m.releaseManagedImage(dir, c.Name); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// StartContainer starts a managed pod's container that was added and not
// started yet, and returns once its process runs (or with why it could
// not start: the container is then terminated with reason StartError).
//
// Equivalent to: crictl start CONTAINER
func (m *Manager) StartContainer(ctx context.Context, pod, name string) error {
	if err := m.request(ctx, pod, ctrRequest{Op: "start", Name: name}); err != nil {
		return fmt.Errorf("start container %q of pod %q: %w", name, pod, err)
	}
	return nil
}

// StopContainer stops a managed pod's running container: its preStop hook
// and stop signal, up to grace for it to exit, then SIGKILL; it returns
// once the process has ended. A container that is not running is left as
// it is (no error), as the CRI wants.
//
// Equivalent to: crictl stop --timeout GRACE CONTAINER
func (m *Manager) StopContainer(ctx context.Context, pod, name string, grace time.Duration) error {
	st, err := m.readPod(pod)
	if err != nil {
		return fmt.Errorf("stop container %q of pod %q: %w", name, pod, err)
	}
	cs := st.container(name)
	if cs == nil {
		return fmt.Errorf("stop container %q of pod %q: %w", name, pod, ErrNotExist)
	}
	if cs.State != StateRunning {
		return nil
	}
	if err := m.request(ctx, pod, ctrRequest{Op: "stop", Name: name, Grace: grace}); err != nil {
		if errors.Is(err, ErrNotRunning) {
			return nil // the pod's lifecycle ended: so did the container
		}
		return fmt.Errorf("stop container %q of pod %q: %w", name, pod, err)
	}
	return nil
}

// RemoveContainer removes a managed pod's container: it is killed first
// if it runs, then its record, root filesystem overlay, libcontainer state
// and image lease go. Its log file stays (the kubelet removes it). A
// container the pod does not have gives ErrNotExist.
//
// Equivalent to: crictl rm -f CONTAINER
func (m *Manager) RemoveContainer(ctx context.Context, pod, name string) error {
	err := m.request(ctx, pod, ctrRequest{Op: "remove", Name: name})
	if errors.Is(err, ErrNotRunning) {
		// No lifecycle: nothing runs in the pod; remove it from the state.
		err = m.withLock(pod, func() error {
			dir := m.podDir(pod)
			st, err := readState(dir)
			if err != nil {
				return err
			}
			if !dropContainer(st, name) {
				return ErrNotExist
			}
			if err := removeInstance(dir, st, name); err != nil {
				return err
			}
			m.releaseManagedImage(dir, name)
			return writeState(dir, st)
		})
	}
	if err != nil {
		return fmt.Errorf("remove container %q of pod %q: %w", name, pod, err)
	}
	return nil
}

// dropContainer takes an app container out of a pod's config and status;
// false when the pod has none of that name.
func dropContainer(st *PodStatus, name string) bool {
	found := false
	for i := range st.Config.Containers {
		if st.Config.Containers[i].Name == name {
			st.Config.Containers = append(st.Config.Containers[:i:i], st.Config.Containers[i+1:]...)
			found = true
			break
		}
	}
	for i := range st.Containers {
		if st.Containers[i].Name == name {
			st.Containers = append(st.Containers[:i:i], st.Containers[i+1:]...)
			break
		}
	}
	return found
}

// request hands req to the pod's lifecycle and waits for its answer. It
// fails with ErrNotRunning when no lifecycle runs the pod (or it ends
// before it answers), ErrNotExist when the pod or the container is missing.
func (m *Manager) request(ctx context.Context, pod string, req ctrRequest) error {
	if _, _, err := ParseRef(pod); err != nil {
		return err
	}
	if err := ValidateName("container name", req.Name); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	dir := m.podDir(pod)
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotExist
	}
	if err != nil {
		return err
	}
	if st.MonitorPID == 0 || !alive(st.MonitorPID, st.MonitorStart) {
		return fmt.Errorf("pod %q has no running lifecycle: %w", pod, ErrNotRunning)
	}
	var b [8]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	rdir := filepath.Join(dir, requestsDir)
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return err
	}
	data, _ := json.Marshal(req)
	reqPath, ansPath := filepath.Join(rdir, id+".req"), filepath.Join(rdir, id+".ans")
	if err := writeFileAtomic(reqPath, data); err != nil {
		return err
	}
	defer os.Remove(reqPath)
	defer os.Remove(ansPath)
	if err := wake(dir); err != nil {
		return fmt.Errorf("the pod's lifecycle does not answer: %v: %w", err, ErrNotRunning)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		if data, err := os.ReadFile(ansPath); err == nil {
			var a ctrAnswer
			if err := json.Unmarshal(data, &a); err != nil {
				return fmt.Errorf("answer of the pod's lifecycle: %w", err)
			}
			switch {
			case a.NotExist:
				return fmt.Errorf("container %q: %w", req.Name, ErrNotExist)
			case a.Error != "":
				return errors.New(a.Error)
			}
			return nil
		}
		if n%20 == 19 && !alive(st.MonitorPID, st.MonitorStart) {
			return fmt.Errorf("the pod's lifecycle ended: %w", ErrNotRunning)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// managed is the lifecycle's side of managed pods: the requests it is
// serving, and the containers it removed but may still find on disk
// until its next save.
type managed struct {
	// stops are the answer files of stop requests, by container, answered
	// when the container's process has ended.
	stops   map[string][]string
	removed map[string]bool
}

// adoptContainers takes the containers added to the state on disk since
// the runner last looked (AddContainer), as adoptEphemerals does.
func (r *runner) adoptContainers(disk *PodStatus) {
	if !r.st.Config.Managed {
		return
	}
	for _, c := range disk.Config.Containers {
		if r.st.containerConfig(c.Name) != nil || r.mg.removed[c.Name] {
			continue
		}
		cs := disk.container(c.Name)
		if cs == nil {
			continue
		}
		r.st.Config.Containers = append(r.st.Config.Containers, c)
		r.st.Containers = append(r.st.Containers, *cs)
	}
}

// serveRequests answers the requests waiting in the pod's requests/
// directory, oldest first.
func (r *runner) serveRequests() {
	if !r.st.Config.Managed {
		return
	}
	rdir := filepath.Join(r.dir, requestsDir)
	ents, err := os.ReadDir(rdir)
	if err != nil {
		return
	}
	r.save() // adopts the containers added meanwhile
	type pending struct {
		path string
		mod  time.Time
	}
	var reqs []pending
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".req") {
			continue
		}
		if fi, err := e.Info(); err == nil {
			reqs = append(reqs, pending{filepath.Join(rdir, e.Name()), fi.ModTime()})
		}
	}
	sort.Slice(reqs, func(i, j int) bool { return reqs[i].mod.Before(reqs[j].mod) })
	for _, p := range reqs {
		data, err := os.ReadFile(p.path)
		os.Remove(p.path)
		if err != nil {
			continue
		}
		ans := strings.TrimSuffix(p.path, ".req") + ".ans"
		var req ctrRequest
		if err := json.Unmarshal(data, &req); err != nil {
			answer(ans, ctrAnswer{Error: "bad request: " + err.Error()})
			continue
		}
		r.serve(req, ans)
	}
}

func answer(path string, a ctrAnswer) {
	data, _ := json.Marshal(a)
	writeFileAtomic(path, data)
}

// serve does one request; a stop is answered once the process ended.
func (r *runner) serve(req ctrRequest, ans string) {
	cfg, cs := r.st.containerConfig(req.Name), r.st.container(req.Name)
	if cfg == nil || cs == nil || cs.Kind != KindApp {
		answer(ans, ctrAnswer{NotExist: true})
		return
	}
	switch req.Op {
	case "start":
		if cs.State != StateWaiting || cs.Reason != ReasonCreating || r.stopping {
			answer(ans, ctrAnswer{Error: fmt.Sprintf("container %q is %s, not created: it can be started once", req.Name, cs.State)})
			return
		}
		if !r.start(cfg, cs) {
			answer(ans, ctrAnswer{Error: cs.Message})
			return
		}
		answer(ans, ctrAnswer{})
	case "stop":
		in, ok := r.running[req.Name]
		if !ok {
			answer(ans, ctrAnswer{})
			return
		}
		r.mg.stops[req.Name] = append(r.mg.stops[req.Name], ans)
		r.stopInstance(in, cfg, req.Grace)
	case "remove":
		if in, ok := r.running[req.Name]; ok {
			// Killed at once, and removed once its exit is in.
			in.c.Signal(unix.SIGKILL)
			r.waitExit(req.Name)
		}
		dropContainer(r.st, req.Name)
		r.mg.removed[req.Name] = true
		err := removeInstance(r.dir, r.st, req.Name)
		r.m.releaseManagedImage(r.dir, req.Name)
		r.save()
		// The state on disk has it no more: a container added later under
		// the same name is another one.
		delete(r.mg.removed, req.Name)
		if err != nil {
			answer(ans, ctrAnswer{Error: err.Error()})
			return
		}
		answer(ans, ctrAnswer{})
	default:
		answer(ans, ctrAnswer{Error: fmt.Sprintf("unknown request %q", req.Op)})
	}
}

// waitExit handles exits until the named container's has come (10 s at
// most, its SIGKILL sent).
func (r *runner) waitExit(name string) {
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	for {
		if _, ok := r.running[name]; !ok {
			return
		}
		select {
		case ev := <-r.exits:
			r.onExit(ev)
		case <-timer.C:
			return
		}
	}
}

// managedExit answers the stop requests of a managed container that ended;
// it is never restarted.
func (r *runner) managedExit(cs *ContainerStatus) {
	for _, ans := range r.mg.stops[cs.Name] {
		answer(ans, ctrAnswer{})
	}
	delete(r.mg.stops, cs.Name)
}

// WritableLayer returns the directory of the writable layer of container
// ctr of pod (its overlay's upper directory) and the disk it uses there,
// as the kubelet's summary API and the CRI's ContainerStats report it.
func (m *Manager) WritableLayer(pod, ctr string) (string, int64, error) {
	if _, _, err := ParseRef(pod); err != nil {
		return "", 0, err
	}
	if err := ValidateName("container name", ctr); err != nil {
		return "", 0, err
	}
	dir := mounts.UpperDir(containerDir(m.podDir(pod), ctr))
	used, err := mounts.DiskUsage(dir)
	if err != nil {
		return dir, 0, fmt.Errorf("writable layer of container %q of pod %q: %w", ctr, pod, err)
	}
	return dir, used, nil
}
