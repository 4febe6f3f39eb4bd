package cri

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/sandbox"
)

// RunPodSandbox makes the sandbox (pause, namespaces, cgroup, network) as a
// managed podbox pod, with no container, and starts its lifecycle apart
// from the server.
func (s *Server) RunPodSandbox(ctx context.Context, req *runtimeapi.RunPodSandboxRequest) (*runtimeapi.RunPodSandboxResponse, error) {
	c := req.GetConfig()
	md := c.GetMetadata()
	if md == nil || md.Name == "" || md.Namespace == "" || md.Uid == "" {
		return nil, invalid("sandbox config: metadata name, namespace and uid are required")
	}
	if req.RuntimeHandler != "" {
		return nil, invalid("runtime handler %q: podbox has only the default one", req.RuntimeHandler)
	}
	pods, err := s.pods(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	ns := podboxName(md.Namespace, true)
	name := podboxName(md.Name, md.Attempt == 0)
	for _, p := range pods {
		o := p.meta.Metadata
		if o.Name == md.Name && o.Namespace == md.Namespace && o.Uid == md.Uid && o.Attempt == md.Attempt {
			return nil, grpcError(errors.New("sandbox " + md.Name + " (" + md.Uid + ", attempt " + attemptKey(md.Attempt) + ") already exists as " + p.meta.ID + ": " + sandbox.ErrExist.Error()))
		}
		if p.st.Name == name && p.st.Namespace() == ns {
			name = podboxName(md.Name, false, md.Uid, attemptKey(md.Attempt))
		}
	}
	meta := &sandboxMeta{
		ID: newID(), Metadata: md, LogDirectory: c.LogDirectory, Handler: req.RuntimeHandler,
		Labels: c.Labels, Annotations: c.Annotations,
	}
	cfg := &sandbox.PodConfig{
		Name:        name,
		Namespace:   ns,
		Managed:     true,
		Labels:      c.Labels,
		Annotations: c.Annotations,
	}
	if h := c.Hostname; h != "" {
		if sandbox.ValidateName("hostname", h) != nil {
			return nil, invalid("sandbox config: hostname %q is not a DNS-1123 label", h)
		}
		cfg.Hostname = h
	}
	if d := c.DnsConfig; d != nil && (len(d.Servers) > 0 || len(d.Searches) > 0 || len(d.Options) > 0) {
		cfg.DNS = sandbox.DNSConfig{Policy: "None", Nameservers: d.Servers, Searches: d.Searches, Options: d.Options}
	} else {
		cfg.DNS = sandbox.DNSConfig{Policy: "Default"}
	}
	for _, pm := range c.PortMappings {
		p := sandbox.Port{ContainerPort: int(pm.ContainerPort), HostPort: int(pm.HostPort), HostIP: pm.HostIp, Protocol: strings.ToUpper(pm.Protocol.String())}
		if p.HostIP == "0.0.0.0" {
			p.HostIP = ""
		}
		cfg.Ports = append(cfg.Ports, p)
	}
	if l := c.Linux; l != nil {
		meta.CgroupParent = l.CgroupParent
		nso := l.GetSecurityContext().GetNamespaceOptions()
		switch nso.GetNetwork() {
		case runtimeapi.NamespaceMode_NODE:
			cfg.HostNetwork, meta.NetworkNode = true, true
		}
		switch nso.GetPid() {
		case runtimeapi.NamespaceMode_POD:
			cfg.ShareProcessNamespace = true
		case runtimeapi.NamespaceMode_NODE:
			cfg.HostPID = true
		case runtimeapi.NamespaceMode_TARGET:
			return nil, invalid("sandbox config: linux.security_context.namespace_options.pid TARGET is for containers, not sandboxes")
		}
		cfg.HostIPC = nso.GetIpc() == runtimeapi.NamespaceMode_NODE
		meta.PIDMode, meta.IPCMode = nso.GetPid(), nso.GetIpc()
		for k, v := range l.Sysctls {
			cfg.Sysctls = append(cfg.Sysctls, sandbox.Sysctl{Name: k, Value: v})
		}
		if r := l.Resources; r != nil && r.MemoryLimitInBytes > 0 {
			cfg.MemoryLimit = r.MemoryLimitInBytes
		}
	}
	if cfg.Extra, err = json.Marshal(meta); err != nil {
		return nil, grpcError(err)
	}
	if err := s.cfg.RunPod(ctx, cfg); err != nil {
		return nil, grpcError(err)
	}
	s.events.sandbox(meta.ID, runtimeapi.ContainerEventType_CONTAINER_CREATED_EVENT)
	s.events.sandbox(meta.ID, runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT)
	return &runtimeapi.RunPodSandboxResponse{PodSandboxId: meta.ID}, nil
}

// StopPodSandbox stops every container of the sandbox at once (SIGKILL:
// the kubelet has stopped them with their grace periods before) and its
// pause. Stopping a stopped or missing sandbox succeeds.
func (s *Server) StopPodSandbox(ctx context.Context, req *runtimeapi.StopPodSandboxRequest) (*runtimeapi.StopPodSandboxResponse, error) {
	p, err := s.findPod(ctx, req.PodSandboxId)
	if isNotFound(err) {
		return &runtimeapi.StopPodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.lock(p.meta.ID)()
	if err := s.m.Stop(ctx, p.ref(), 0); err != nil && !errors.Is(err, sandbox.ErrNotExist) {
		return nil, grpcError(err)
	}
	s.events.sandbox(p.meta.ID, runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT)
	return &runtimeapi.StopPodSandboxResponse{}, nil
}

// RemovePodSandbox removes the sandbox and its containers, stopping them
// first if needed; removing a missing sandbox succeeds.
func (s *Server) RemovePodSandbox(ctx context.Context, req *runtimeapi.RemovePodSandboxRequest) (*runtimeapi.RemovePodSandboxResponse, error) {
	p, err := s.findPod(ctx, req.PodSandboxId)
	if isNotFound(err) {
		return &runtimeapi.RemovePodSandboxResponse{}, nil
	}
	if err != nil {
		return nil, err
	}
	defer s.lock(p.meta.ID)()
	cs := p.containers()
	if err := s.m.Remove(ctx, p.ref(), true); err != nil {
		return nil, grpcError(err)
	}
	for _, c := range cs {
		s.events.container(c, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	}
	s.events.sandbox(p.meta.ID, runtimeapi.ContainerEventType_CONTAINER_DELETED_EVENT)
	return &runtimeapi.RemovePodSandboxResponse{}, nil
}

func isNotFound(err error) bool {
	if err == nil {
		return false
	}
	return status.Code(err) == codes.NotFound
}

// PodSandboxStatus reports the sandbox.
func (s *Server) PodSandboxStatus(ctx context.Context, req *runtimeapi.PodSandboxStatusRequest) (*runtimeapi.PodSandboxStatusResponse, error) {
	p, err := s.findPod(ctx, req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	resp := &runtimeapi.PodSandboxStatusResponse{Status: p.status()}
	if req.Verbose {
		info, _ := json.Marshal(map[string]any{
			"pid":       p.st.PausePID,
			"podbox":    p.ref(),
			"uid":       p.st.UID,
			"cgroup":    p.st.CgroupPath,
			"netns":     p.st.Namespaces["net"],
			"phase":     p.st.Phase,
			"createdAt": p.st.Created,
		})
		resp.Info = map[string]string{"info": string(info)}
	}
	for _, c := range p.containers() {
		resp.ContainersStatuses = append(resp.ContainersStatuses, c.status())
	}
	resp.Timestamp = nowNanos()
	return resp, nil
}

func (p *pod) status() *runtimeapi.PodSandboxStatus {
	state := runtimeapi.PodSandboxState_SANDBOX_NOTREADY
	if p.ready() {
		state = runtimeapi.PodSandboxState_SANDBOX_READY
	}
	st := &runtimeapi.PodSandboxStatus{
		Id:          p.meta.ID,
		Metadata:    p.meta.Metadata,
		State:       state,
		CreatedAt:   nanos(p.st.Created),
		Labels:      p.meta.Labels,
		Annotations: p.meta.Annotations,
		Network:     &runtimeapi.PodSandboxNetworkStatus{Ip: p.st.PodIP},
		Linux: &runtimeapi.LinuxPodSandboxStatus{Namespaces: &runtimeapi.Namespace{Options: &runtimeapi.NamespaceOption{
			Network: map[bool]runtimeapi.NamespaceMode{true: runtimeapi.NamespaceMode_NODE, false: runtimeapi.NamespaceMode_POD}[p.meta.NetworkNode],
			Pid:     p.meta.PIDMode,
			Ipc:     p.meta.IPCMode,
		}}},
		RuntimeHandler: p.meta.Handler,
	}
	return st
}

// ListPodSandbox lists the sandboxes, filtered by ID (or a prefix of it),
// state and labels.
func (s *Server) ListPodSandbox(ctx context.Context, req *runtimeapi.ListPodSandboxRequest) (*runtimeapi.ListPodSandboxResponse, error) {
	pods, err := s.pods(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListPodSandboxResponse{}
	for _, p := range pods {
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(p.meta.ID, f.Id) {
				continue
			}
			st := p.status()
			if f.State != nil && f.State.State != st.State {
				continue
			}
			if !labelsMatch(p.meta.Labels, f.LabelSelector) {
				continue
			}
		}
		st := p.status()
		resp.Items = append(resp.Items, &runtimeapi.PodSandbox{
			Id: st.Id, Metadata: st.Metadata, State: st.State, CreatedAt: st.CreatedAt,
			Labels: st.Labels, Annotations: st.Annotations, RuntimeHandler: st.RuntimeHandler,
		})
	}
	return resp, nil
}

func labelsMatch(labels, selector map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}
