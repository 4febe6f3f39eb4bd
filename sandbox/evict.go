package sandbox

import (
	"fmt"
	"path/filepath"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/podbox/podbox/mounts"
)

// ReasonEvicted is a pod's reason when it was evicted for using more local
// storage than it said it would, as the kubelet's eviction manager does.
const ReasonEvicted = "Evicted"

// Why else a pod fails, as Kubernetes says it: its activeDeadlineSeconds
// passed (the kubelet's reason), or, the pod of a Job, its containers
// failed more often than the Job's backoffLimit allows (the Job
// controller's).
const (
	ReasonDeadlineExceeded     = "DeadlineExceeded"
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
)

// storageOverLimit says why the pod must be evicted for its local storage,
// as the kubelet words it, or "" when it stays within its limits: a disk
// emptyDir over its sizeLimit, a container whose writable layer and logs
// are over its ephemeral-storage limit, or, when every container has such a
// limit, all of them and the disk emptyDirs together over their sum. A
// memory emptyDir is a tmpfs of its sizeLimit: the kernel bounds it.
func (r *runner) storageOverLimit() string {
	cfg := &r.st.Config
	var podUsage int64
	for _, v := range cfg.Volumes {
		if v.EmptyDir == nil || v.EmptyDir.Medium == "Memory" {
			continue
		}
		used, err := mounts.DiskUsage(r.st.VolumePaths[v.Name])
		if err != nil {
			continue
		}
		podUsage += used
		if limit := v.EmptyDir.SizeLimit; limit > 0 && used > limit {
			return fmt.Sprintf("Usage of EmptyDir volume %q exceeds the limit %q.", v.Name, quantity(limit))
		}
	}
	var podLimit int64
	limited := true
	for _, list := range [][]ContainerConfig{cfg.InitContainers, cfg.Containers} {
		for i := range list {
			c := &list[i]
			used := r.containerStorage(c.Name)
			podUsage += used
			podLimit += c.EphemeralStorageLimit
			if c.EphemeralStorageLimit == 0 {
				limited = false
				continue
			}
			if used > c.EphemeralStorageLimit {
				return fmt.Sprintf("Container %s exceeded its local ephemeral storage limit %q.", c.Name, quantity(c.EphemeralStorageLimit))
			}
		}
	}
	if limited && podLimit > 0 && podUsage > podLimit {
		return fmt.Sprintf("Pod ephemeral local storage usage exceeds the total limit of containers %s.", quantity(podLimit))
	}
	return ""
}

// containerStorage is what a container uses of the node's disk: its
// writable layer and its logs.
func (r *runner) containerStorage(name string) int64 {
	layer, _ := mounts.DiskUsage(mounts.UpperDir(containerDir(r.dir, name)))
	var logs int64
	if r.st.LogDir != "" {
		logs, _ = mounts.DiskUsage(filepath.Join(r.st.LogDir, name))
	}
	return layer + logs
}

func quantity(n int64) string { return resource.NewQuantity(n, resource.BinarySI).String() }

// hasStorageLimits reports whether the pod states any local storage limit
// that eviction enforces.
func (c *PodConfig) hasStorageLimits() bool {
	for _, v := range c.Volumes {
		if v.EmptyDir != nil && v.EmptyDir.Medium != "Memory" && v.EmptyDir.SizeLimit > 0 {
			return true
		}
	}
	for _, list := range [][]ContainerConfig{c.InitContainers, c.Containers} {
		for _, ctr := range list {
			if ctr.EphemeralStorageLimit > 0 {
				return true
			}
		}
	}
	return false
}
