package cgroups

// ContainerKind says when a container runs in the pod's life, which decides how
// its memory limit counts towards the pod quota.
type ContainerKind int

const (
	// App is a container of spec.containers.
	App ContainerKind = iota
	// Init is a plain init container: it runs to completion, one at a time,
	// before the app containers start.
	Init
	// Sidecar is an init container with restartPolicy Always: it starts in
	// init order and keeps running beside everything after it.
	Sidecar
)

func (k ContainerKind) String() string {
	switch k {
	case App:
		return "app"
	case Init:
		return "init"
	case Sidecar:
		return "sidecar"
	}
	return "unknown"
}

// Container is what the quota needs to know of one container.
type Container struct {
	Name string
	Kind ContainerKind
	// MemLimit is resources.limits.memory in bytes; 0 means no limit.
	MemLimit int64
}

// PodQuota returns the memory quota of a pod (the pod cgroup's memory limit),
// following the kubelet: a quota is set only when every container, init
// containers included, has a memory limit; ok is false otherwise (and for a pod
// without containers), and the pod cgroup gets no limit.
//
// The quota is the larger of
//   - the sum of the app and sidecar limits (they all run together), and
//   - the effective init limit: the most that is running while some init
//     container runs, that is max over init containers i of (limit of i + the
//     limits of the sidecars declared before i; for a sidecar i, the sidecars
//     up to and including i),
//
// plus overhead (pod.spec.overhead.memory, may be 0). Init containers and
// sidecars are taken in the order they appear in containers; app containers
// may appear anywhere.
//
// This is k8s.io/component-helpers/resource.PodLimits (AggregateContainerLimits)
// for memory, which the kubelet uses for the pod cgroup's memory.max
// (pkg/kubelet/cm ResourceConfigForPod).
func PodQuota(containers []Container, overhead int64) (quota int64, ok bool) {
	if len(containers) == 0 {
		return 0, false
	}
	var running, sidecars, initPeak int64
	for _, c := range containers {
		if c.MemLimit <= 0 {
			return 0, false
		}
		switch c.Kind {
		case Sidecar:
			running += c.MemLimit
			sidecars += c.MemLimit
			initPeak = max(initPeak, sidecars)
		case Init:
			initPeak = max(initPeak, c.MemLimit+sidecars)
		default:
			running += c.MemLimit
		}
	}
	return max(running, initPeak) + overhead, true
}
