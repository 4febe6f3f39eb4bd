package cri

import (
	"context"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/mounts"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criVersion is the CRI version served.
const criVersion = "v1"

// Version reports the runtime's name and version.
func (s *Server) Version(ctx context.Context, req *runtimeapi.VersionRequest) (*runtimeapi.VersionResponse, error) {
	return &runtimeapi.VersionResponse{
		Version:           "0.1.0",
		RuntimeName:       RuntimeName,
		RuntimeVersion:    s.cfg.Version,
		RuntimeApiVersion: criVersion,
	}, nil
}

// Status reports the runtime and its network ready: podbox's pod network
// is made on the first pod.
func (s *Server) Status(ctx context.Context, req *runtimeapi.StatusRequest) (*runtimeapi.StatusResponse, error) {
	return &runtimeapi.StatusResponse{
		Status: &runtimeapi.RuntimeStatus{Conditions: []*runtimeapi.RuntimeCondition{
			{Type: runtimeapi.RuntimeReady, Status: true},
			{Type: runtimeapi.NetworkReady, Status: true},
		}},
		RuntimeHandlers: []*runtimeapi.RuntimeHandler{{
			Features: &runtimeapi.RuntimeHandlerFeatures{RecursiveReadOnlyMounts: rroSupported()},
		}},
		Features: &runtimeapi.RuntimeFeatures{SupplementalGroupsPolicy: true},
	}, nil
}

// RuntimeConfig reports the cgroup driver: cgroupfs.
func (s *Server) RuntimeConfig(ctx context.Context, req *runtimeapi.RuntimeConfigRequest) (*runtimeapi.RuntimeConfigResponse, error) {
	return &runtimeapi.RuntimeConfigResponse{Linux: &runtimeapi.LinuxRuntimeConfiguration{
		CgroupDriver: runtimeapi.CgroupDriver_CGROUPFS,
	}}, nil
}

// UpdateRuntimeConfig takes the pod CIDR the kubelet gives; podbox's pod
// network has its own subnet (podbox --subnet), so it is not used.
func (s *Server) UpdateRuntimeConfig(ctx context.Context, req *runtimeapi.UpdateRuntimeConfigRequest) (*runtimeapi.UpdateRuntimeConfigResponse, error) {
	return &runtimeapi.UpdateRuntimeConfigResponse{}, nil
}

var rroSupported = sync.OnceValue(mounts.RecursiveReadOnlySupported)

// inodesUnder is the inodes used on the filesystem of path.
func inodesUnder(path string) uint64 {
	var st unix.Statfs_t
	if unix.Statfs(path, &st) != nil {
		return 0
	}
	return st.Files - st.Ffree
}
