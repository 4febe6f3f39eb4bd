package cri

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/sandbox"
)

// CreateContainer adds a container to a ready sandbox, created and not
// started.
func (s *Server) CreateContainer(ctx context.Context, req *runtimeapi.CreateContainerRequest) (*runtimeapi.CreateContainerResponse, error) {
	p, err := s.findPod(ctx, req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	c := req.GetConfig()
	md := c.GetMetadata()
	if md == nil || md.Name == "" {
		return nil, invalid("container config: metadata name is required")
	}
	if c.GetImage().GetImage() == "" {
		return nil, invalid("container config: image is required")
	}
	if !p.ready() {
		return nil, status.Errorf(codes.FailedPrecondition, "sandbox %s is not ready", p.meta.ID)
	}
	defer s.lock(p.meta.ID)()
	img, err := s.lookupImage(c.Image.Image)
	if err != nil {
		return nil, grpcError(err)
	}
	if img == nil {
		return nil, notFound("image %q not found", c.Image.Image)
	}
	existing := p.containers()
	for _, o := range existing {
		if o.meta.Metadata.Name == md.Name && o.meta.Metadata.Attempt == md.Attempt {
			return nil, status.Errorf(codes.AlreadyExists, "container %q (attempt %d) already exists in sandbox %s as %s", md.Name, md.Attempt, p.meta.ID, o.meta.ID)
		}
	}
	name := podboxName(md.Name, md.Attempt == 0)
	if p.st.Config.Managed {
		for _, o := range p.st.Config.Containers {
			if o.Name == name {
				name = podboxName(md.Name, false, attemptKey(md.Attempt))
			}
		}
	}
	meta := &containerMeta{
		ID: newID(), Metadata: md, Image: c.Image, ImageID: img.ID, Labels: c.Labels, Annotations: c.Annotations,
		Mounts: c.Mounts, Created: time.Now().UTC(),
	}
	cfg := sandbox.ContainerConfig{
		Name:       name,
		Image:      img.Name,
		Command:    c.Command,
		Args:       c.Args,
		WorkingDir: c.WorkingDir,
		Stdin:      c.Stdin,
		StdinOnce:  c.StdinOnce,
		TTY:        c.Tty,
	}
	for _, kv := range c.Envs {
		cfg.Env = append(cfg.Env, sandbox.EnvVar{Name: kv.Key, Value: string(kv.Value)})
	}
	if p.meta.LogDirectory != "" && c.LogPath != "" {
		cfg.LogPath = filepath.Join(p.meta.LogDirectory, c.LogPath)
		meta.LogPath = cfg.LogPath
	}
	meta.Mounts = nil
	for _, m := range c.Mounts {
		if ref := m.GetImage().GetImage(); ref != "" {
			bm, status, err := s.imageMount(m)
			if err != nil {
				return nil, err
			}
			cfg.Mounts = append(cfg.Mounts, *bm)
			meta.Mounts = append(meta.Mounts, status)
			continue
		}
		meta.Mounts = append(meta.Mounts, m)
		if m.HostPath == "" || m.ContainerPath == "" {
			return nil, invalid("container config: a mount needs host_path and container_path")
		}
		cfg.Mounts = append(cfg.Mounts, sandbox.BindMount{
			Source: m.HostPath, Target: m.ContainerPath, ReadOnly: m.Readonly,
			Propagation: propagation(m.Propagation), RecursiveReadOnly: m.RecursiveReadOnly,
		})
	}
	if len(c.Devices) > 0 {
		return nil, invalid("container config: devices are not supported by podbox")
	}
	if err := linuxConfig(&cfg, c.Linux); err != nil {
		return nil, err
	}
	if cfg.Extra, err = json.Marshal(meta); err != nil {
		return nil, grpcError(err)
	}
	if err := s.m.AddContainer(ctx, p.ref(), cfg); err != nil {
		return nil, grpcError(err)
	}
	s.events.containerID(meta.ID, p.meta.ID, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
	return &runtimeapi.CreateContainerResponse{ContainerId: meta.ID}, nil
}

// imageMount maps an image volume (a mount of an image's content): it
// must be read-only and its image in the store; its status names the
// image's ID as image_ref, as PullImage answered it.
func (s *Server) imageMount(m *runtimeapi.Mount) (*sandbox.BindMount, *runtimeapi.Mount, error) {
	if m.ContainerPath == "" {
		return nil, nil, invalid("container config: an image mount needs container_path")
	}
	if !m.Readonly {
		return nil, nil, invalid("container config: image mount at %s: image volumes are read-only (readonly: true)", m.ContainerPath)
	}
	img, err := s.lookupImage(m.Image.Image)
	if err != nil {
		return nil, nil, grpcError(err)
	}
	if img == nil {
		return nil, nil, notFound("image mount at %s: image %q not found", m.ContainerPath, m.Image.Image)
	}
	st := proto.Clone(m).(*runtimeapi.Mount)
	st.Image.ImageRef = img.ID
	return &sandbox.BindMount{Target: m.ContainerPath, ReadOnly: true, Image: img.Name, SubPath: m.ImageSubPath}, st, nil
}

// propagation maps the CRI's mount propagation onto podbox's.
func propagation(p runtimeapi.MountPropagation) string {
	switch p {
	case runtimeapi.MountPropagation_PROPAGATION_HOST_TO_CONTAINER:
		return "HostToContainer"
	case runtimeapi.MountPropagation_PROPAGATION_BIDIRECTIONAL:
		return "Bidirectional"
	}
	return ""
}

// linuxConfig maps the CRI's Linux container settings.
func linuxConfig(cfg *sandbox.ContainerConfig, l *runtimeapi.LinuxContainerConfig) error {
	// The CRI's default is unconfined (the kubelet asks for RuntimeDefault
	// itself when the pod does).
	cfg.Seccomp = &sandbox.SeccompProfile{Type: sandbox.SeccompUnconfined}
	if l == nil {
		return nil
	}
	if r := l.Resources; r != nil {
		applyResources(cfg, r)
	}
	sc := l.SecurityContext
	if sc == nil {
		return nil
	}
	cfg.Privileged = sc.Privileged
	cfg.ReadOnlyRootfs = sc.ReadonlyRootfs
	if u := sc.RunAsUser; u != nil {
		v := u.Value
		cfg.UID = &v
	} else if sc.RunAsUsername != "" {
		cfg.User = sc.RunAsUsername
	}
	if sc.RunAsGroup != nil && sc.RunAsUser == nil && sc.RunAsUsername == "" {
		return invalid("container config: run_as_group needs run_as_user or run_as_username")
	}
	if g := sc.RunAsGroup; g != nil {
		v := g.Value
		cfg.GID = &v
	}
	cfg.SupplementalGroups = sc.SupplementalGroups
	cfg.SupplementalGroupsPolicy = "Merge"
	if sc.SupplementalGroupsPolicy == runtimeapi.SupplementalGroupsPolicy_Strict {
		cfg.SupplementalGroupsPolicy = "Strict"
	}
	if caps := sc.Capabilities; caps != nil {
		cfg.CapAdd = append(cfg.CapAdd, caps.AddCapabilities...)
		cfg.CapDrop = append(cfg.CapDrop, caps.DropCapabilities...)
	}
	if sc.NoNewPrivs {
		f := false
		cfg.AllowPrivilegeEscalation = &f
	} else if !sc.Privileged {
		t := true
		cfg.AllowPrivilegeEscalation = &t
	}
	if sc.MaskedPaths != nil {
		cfg.MaskedPaths = append([]string{}, sc.MaskedPaths...)
	}
	if sc.ReadonlyPaths != nil {
		cfg.ReadonlyPaths = append([]string{}, sc.ReadonlyPaths...)
	}
	if sp := sc.Seccomp; sp != nil {
		switch sp.ProfileType {
		case runtimeapi.SecurityProfile_RuntimeDefault:
			cfg.Seccomp = &sandbox.SeccompProfile{Type: sandbox.SeccompRuntimeDefault}
		case runtimeapi.SecurityProfile_Unconfined:
			cfg.Seccomp = &sandbox.SeccompProfile{Type: sandbox.SeccompUnconfined}
		case runtimeapi.SecurityProfile_Localhost:
			if !filepath.IsAbs(sp.LocalhostRef) {
				return invalid("container config: seccomp localhost profile %q is not an absolute path", sp.LocalhostRef)
			}
			// The server's profile root is "/".
			cfg.Seccomp = &sandbox.SeccompProfile{Type: sandbox.SeccompLocalhost, LocalhostProfile: strings.TrimPrefix(filepath.Clean(sp.LocalhostRef), "/")}
		}
	}
	return nil
}

// applyResources maps the CRI's container resources onto podbox's.
func applyResources(cfg *sandbox.ContainerConfig, r *runtimeapi.LinuxContainerResources) {
	cfg.MemoryLimit = max(r.MemoryLimitInBytes, 0)
	if r.CpuShares > 2 {
		cfg.CPURequestMillis = r.CpuShares * 1000 / 1024
	}
	if r.CpuQuota > 0 && r.CpuPeriod > 0 {
		cfg.CPULimitMillis = r.CpuQuota * 1000 / r.CpuPeriod
	}
}

// resourcesOf is the container's resources as the CRI says them.
func resourcesOf(cfg *sandbox.ContainerConfig) *runtimeapi.LinuxContainerResources {
	r := &runtimeapi.LinuxContainerResources{MemoryLimitInBytes: cfg.MemoryLimit}
	if cfg.CPURequestMillis > 0 {
		r.CpuShares = max(cfg.CPURequestMillis*1024/1000, 2)
	}
	if cfg.CPULimitMillis > 0 {
		r.CpuPeriod = 100000
		r.CpuQuota = cfg.CPULimitMillis * 100
	}
	return r
}

// StartContainer starts a created container.
func (s *Server) StartContainer(ctx context.Context, req *runtimeapi.StartContainerRequest) (*runtimeapi.StartContainerResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	defer s.lock(c.meta.ID)()
	if err := s.m.StartContainer(ctx, c.pod.ref(), c.cfg.Name); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.StartContainerResponse{}, nil
}

// StopContainer stops a running container with its grace period (the
// request's timeout, in seconds); a container that is not running, or
// missing, is no error.
func (s *Server) StopContainer(ctx context.Context, req *runtimeapi.StopContainerRequest) (*runtimeapi.StopContainerResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if isNotFound(err) {
		return &runtimeapi.StopContainerResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.lock(c.meta.ID)()
	grace := time.Duration(max(req.Timeout, 0)) * time.Second
	if err := s.m.StopContainer(ctx, c.pod.ref(), c.cfg.Name, grace); err != nil && !errors.Is(err, sandbox.ErrNotExist) {
		return nil, grpcError(err)
	}
	return &runtimeapi.StopContainerResponse{}, nil
}

// RemoveContainer removes a container, killing it first if it runs; a
// missing one is no error.
func (s *Server) RemoveContainer(ctx context.Context, req *runtimeapi.RemoveContainerRequest) (*runtimeapi.RemoveContainerResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if isNotFound(err) {
		return &runtimeapi.RemoveContainerResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.lock(c.meta.ID)()
	if err := s.m.RemoveContainer(ctx, c.pod.ref(), c.cfg.Name); err != nil && !errors.Is(err, sandbox.ErrNotExist) {
		return nil, grpcError(err)
	}
	s.events.container(c, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	return &runtimeapi.RemoveContainerResponse{}, nil
}

// ContainerStatus reports a container.
func (s *Server) ContainerStatus(ctx context.Context, req *runtimeapi.ContainerStatusRequest) (*runtimeapi.ContainerStatusResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.ContainerStatusResponse{Status: c.status()}
	if req.Verbose {
		info, _ := json.Marshal(map[string]any{
			"pid":       c.cs.PID,
			"podbox":    c.pod.ref(),
			"container": c.cfg.Name,
			"cgroup":    c.cs.CgroupPath,
			"sandboxID": c.pod.meta.ID,
		})
		resp.Info = map[string]string{"info": string(info)}
	}
	return resp, nil
}

func (c *ctr) status() *runtimeapi.ContainerStatus {
	st := &runtimeapi.ContainerStatus{
		Id:          c.meta.ID,
		Metadata:    c.meta.Metadata,
		State:       c.state(),
		CreatedAt:   nanos(c.meta.Created),
		Image:       c.meta.Image,
		ImageRef:    c.cfg.ImageID,
		ImageId:     c.meta.ImageID,
		Labels:      c.meta.Labels,
		Annotations: c.meta.Annotations,
		Mounts:      c.meta.Mounts,
		LogPath:     c.meta.LogPath,
		User:        c.user(),
	}
	if c.cs.State != sandbox.StateWaiting {
		st.StartedAt = nanos(c.cs.StartedAt)
	}
	if c.cs.State == sandbox.StateTerminated {
		st.FinishedAt = nanos(c.cs.FinishedAt)
		st.ExitCode = int32(c.cs.ExitCode)
		switch {
		case c.cs.Reason == sandbox.ReasonOOMKilled || c.cs.Reason == sandbox.ReasonStartError:
			st.Reason = c.cs.Reason
		case c.cs.ExitCode == 0:
			st.Reason = sandbox.ReasonCompleted
		default:
			st.Reason = sandbox.ReasonError
		}
		st.Message = c.cs.Message
		if st.StartedAt == 0 {
			st.StartedAt = st.FinishedAt
		}
	}
	st.Resources = &runtimeapi.ContainerResources{Linux: resourcesOf(c.cfg)}
	return st
}

// user is the identity the container runs as.
func (c *ctr) user() *runtimeapi.ContainerUser {
	var uid, gid int64
	if c.cfg.UID != nil {
		uid = *c.cfg.UID
	}
	if c.cfg.GID != nil {
		gid = *c.cfg.GID
	}
	// The process's groups: its primary group, then the others (as the
	// kernel reports them to id -G).
	groups := []int64{gid}
	for _, g := range append(slices.Clone(c.cfg.SupplementalGroups), c.cfg.ImageGroups...) {
		if !slices.Contains(groups, g) {
			groups = append(groups, g)
		}
	}
	return &runtimeapi.ContainerUser{Linux: &runtimeapi.LinuxContainerUser{Uid: uid, Gid: gid, SupplementalGroups: groups}}
}

// ListContainers lists the containers, filtered by ID (or prefix), state,
// sandbox and labels.
func (s *Server) ListContainers(ctx context.Context, req *runtimeapi.ListContainersRequest) (*runtimeapi.ListContainersResponse, error) {
	all, err := s.allContainers(ctx)
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListContainersResponse{}
	for _, c := range all {
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(c.meta.ID, f.Id) {
				continue
			}
			if f.PodSandboxId != "" && !strings.HasPrefix(c.pod.meta.ID, f.PodSandboxId) {
				continue
			}
			if f.State != nil && f.State.State != c.state() {
				continue
			}
			if !labelsMatch(c.meta.Labels, f.LabelSelector) {
				continue
			}
		}
		st := c.status()
		resp.Containers = append(resp.Containers, &runtimeapi.Container{
			Id: st.Id, PodSandboxId: c.pod.meta.ID, Metadata: st.Metadata, Image: st.Image, ImageRef: st.ImageRef,
			ImageId: st.ImageId, State: st.State, CreatedAt: st.CreatedAt, Labels: st.Labels, Annotations: st.Annotations,
		})
	}
	return resp, nil
}

// ReopenContainerLog has a running container's log file opened again.
func (s *Server) ReopenContainerLog(ctx context.Context, req *runtimeapi.ReopenContainerLogRequest) (*runtimeapi.ReopenContainerLogResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	if c.cs.State != sandbox.StateRunning {
		return nil, status.Errorf(codes.FailedPrecondition, "container %s is not running", c.meta.ID)
	}
	if err := s.m.ReopenLog(ctx, c.pod.ref(), c.cfg.Name); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.ReopenContainerLogResponse{}, nil
}

// ExecSync runs a command in a running container and returns its output
// and exit code; past the timeout the command is killed and the call
// fails with DeadlineExceeded.
func (s *Server) ExecSync(ctx context.Context, req *runtimeapi.ExecSyncRequest) (*runtimeapi.ExecSyncResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	if len(req.Cmd) == 0 {
		return nil, invalid("exec: a command is required")
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout)*time.Second)
		defer cancel()
	}
	var stdout, stderr limitedBuffer
	code, err := s.m.Exec(ctx, c.pod.ref(), c.cfg.Name, &sandbox.ExecProcess{Args: req.Cmd, Stdout: &stdout, Stderr: &stderr})
	if ctx.Err() != nil {
		return nil, status.Errorf(codes.DeadlineExceeded, "exec in container %s: command %q timed out after %ds", c.meta.ID, req.Cmd, req.Timeout)
	}
	if err != nil && code < 0 {
		return nil, grpcError(err)
	}
	return &runtimeapi.ExecSyncResponse{Stdout: stdout.Bytes(), Stderr: stderr.Bytes(), ExitCode: int32(code)}, nil
}

// maxExecOutput bounds what ExecSync keeps of each stream (16 MiB, the
// kubelet's gRPC message limit).
const maxExecOutput = 16 << 20

// limitedBuffer keeps the first maxExecOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxExecOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func nowNanos() int64 { return time.Now().UnixNano() }
