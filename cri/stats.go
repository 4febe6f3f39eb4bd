package cri

import (
	"context"
	"strings"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/sandbox"
)

// ContainerStats reports one container's usage.
func (s *Server) ContainerStats(ctx context.Context, req *runtimeapi.ContainerStatsRequest) (*runtimeapi.ContainerStatsResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.ContainerStatsResponse{Stats: s.containerStats(ctx, c, s.podStats(ctx, c.pod))}, nil
}

// ListContainerStats reports the usage of the containers the filter
// picks (by ID, sandbox and labels), running or not: a container that
// does not run has no CPU or memory figures.
func (s *Server) ListContainerStats(ctx context.Context, req *runtimeapi.ListContainerStatsRequest) (*runtimeapi.ListContainerStatsResponse, error) {
	all, err := s.allContainers(ctx)
	if err != nil {
		return nil, err
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListContainerStatsResponse{}
	stats := map[string]*sandbox.PodStats{}
	for _, c := range all {
		if f != nil {
			if f.Id != "" && !strings.HasPrefix(c.meta.ID, f.Id) {
				continue
			}
			if f.PodSandboxId != "" && !strings.HasPrefix(c.pod.meta.ID, f.PodSandboxId) {
				continue
			}
			if !labelsMatch(c.meta.Labels, f.LabelSelector) {
				continue
			}
		}
		ps, ok := stats[c.pod.meta.ID]
		if !ok {
			ps = s.podStats(ctx, c.pod)
			stats[c.pod.meta.ID] = ps
		}
		resp.Stats = append(resp.Stats, s.containerStats(ctx, c, ps))
	}
	return resp, nil
}

// podStats reads a sandbox's cgroups; nil when it does not run.
func (s *Server) podStats(ctx context.Context, p *pod) *sandbox.PodStats {
	if !p.ready() {
		return nil
	}
	ps, err := s.m.Stats(ctx, p.ref())
	if err != nil {
		return nil
	}
	return ps
}

func (s *Server) containerStats(ctx context.Context, c *ctr, ps *sandbox.PodStats) *runtimeapi.ContainerStats {
	st := &runtimeapi.ContainerStats{Attributes: &runtimeapi.ContainerAttributes{
		Id: c.meta.ID, Metadata: c.meta.Metadata, Labels: c.meta.Labels, Annotations: c.meta.Annotations,
	}}
	if dir, used, err := s.m.WritableLayer(c.pod.ref(), c.cfg.Name); err == nil {
		st.WritableLayer = &runtimeapi.FilesystemUsage{
			Timestamp: nowNanos(), FsId: &runtimeapi.FilesystemIdentifier{Mountpoint: dir},
			UsedBytes: &runtimeapi.UInt64Value{Value: uint64(used)},
		}
	}
	if ps == nil {
		return st
	}
	for _, cs := range ps.Containers {
		if cs.Name == c.cfg.Name {
			st.Cpu, st.Memory = cpuMemory(ps, &cs.Stats)
			st.Swap = &runtimeapi.SwapUsage{Timestamp: ps.Time.UnixNano()}
		}
	}
	return st
}

func cpuMemory(ps *sandbox.PodStats, s *cgroups.Stats) (*runtimeapi.CpuUsage, *runtimeapi.MemoryUsage) {
	t := ps.Time.UnixNano()
	return &runtimeapi.CpuUsage{Timestamp: t, UsageCoreNanoSeconds: &runtimeapi.UInt64Value{Value: s.CPUNanos}},
		&runtimeapi.MemoryUsage{
			Timestamp:       t,
			WorkingSetBytes: &runtimeapi.UInt64Value{Value: s.MemoryWorkingSet},
			UsageBytes:      &runtimeapi.UInt64Value{Value: s.MemoryUsage},
			RssBytes:        &runtimeapi.UInt64Value{Value: s.MemoryRSS},
			PageFaults:      &runtimeapi.UInt64Value{Value: s.PageFaults},
			MajorPageFaults: &runtimeapi.UInt64Value{Value: s.MajorPageFaults},
		}
}

// PodSandboxStats reports a sandbox's usage and its containers'.
func (s *Server) PodSandboxStats(ctx context.Context, req *runtimeapi.PodSandboxStatsRequest) (*runtimeapi.PodSandboxStatsResponse, error) {
	p, err := s.findPod(ctx, req.PodSandboxId)
	if err != nil {
		return nil, err
	}
	return &runtimeapi.PodSandboxStatsResponse{Stats: s.sandboxStats(ctx, p)}, nil
}

// ListPodSandboxStats reports the usage of the sandboxes the filter picks.
func (s *Server) ListPodSandboxStats(ctx context.Context, req *runtimeapi.ListPodSandboxStatsRequest) (*runtimeapi.ListPodSandboxStatsResponse, error) {
	pods, err := s.pods(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	f := req.GetFilter()
	resp := &runtimeapi.ListPodSandboxStatsResponse{}
	for _, p := range pods {
		if f != nil && (f.Id != "" && !strings.HasPrefix(p.meta.ID, f.Id) || !labelsMatch(p.meta.Labels, f.LabelSelector)) {
			continue
		}
		resp.Stats = append(resp.Stats, s.sandboxStats(ctx, p))
	}
	return resp, nil
}

func (s *Server) sandboxStats(ctx context.Context, p *pod) *runtimeapi.PodSandboxStats {
	st := &runtimeapi.PodSandboxStats{
		Attributes: &runtimeapi.PodSandboxAttributes{Id: p.meta.ID, Metadata: p.meta.Metadata, Labels: p.meta.Labels, Annotations: p.meta.Annotations},
		Linux:      &runtimeapi.LinuxPodSandboxStats{},
	}
	ps := s.podStats(ctx, p)
	if ps != nil {
		st.Linux.Cpu, st.Linux.Memory = cpuMemory(ps, &ps.Stats)
		st.Linux.Process = &runtimeapi.ProcessUsage{Timestamp: ps.Time.UnixNano(), ProcessCount: &runtimeapi.UInt64Value{Value: ps.Pids}}
	}
	for _, c := range p.containers() {
		st.Linux.Containers = append(st.Linux.Containers, s.containerStats(ctx, c, ps))
	}
	return st
}

// UpdateContainerResources changes a container's CPU and memory in place
// (the kubelet's in-place resize).
func (s *Server) UpdateContainerResources(ctx context.Context, req *runtimeapi.UpdateContainerResourcesRequest) (*runtimeapi.UpdateContainerResourcesResponse, error) {
	c, err := s.findContainer(ctx, req.ContainerId)
	if err != nil {
		return nil, err
	}
	r := req.GetLinux()
	if r == nil {
		return &runtimeapi.UpdateContainerResourcesResponse{}, nil
	}
	defer s.lock(c.meta.ID)()
	var cfg sandbox.ContainerConfig
	applyResources(&cfg, r)
	if err := s.m.Update(ctx, c.pod.ref(), c.cfg.Name, sandbox.Resources{
		MemoryLimit: &cfg.MemoryLimit, CPULimitMillis: &cfg.CPULimitMillis, CPURequestMillis: &cfg.CPURequestMillis,
	}); err != nil {
		return nil, grpcError(err)
	}
	return &runtimeapi.UpdateContainerResourcesResponse{}, nil
}
