package sandbox

import (
	"sort"
	"strings"
	"sync"

	"github.com/moby/sys/capability"
	"github.com/opencontainers/cgroups"
	devconfig "github.com/opencontainers/cgroups/devices/config"
	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/mounts"
)

// defaultCapabilities is the set a containerd (and Docker) container gets by
// default: no CAP_SYS_ADMIN, no CAP_NET_ADMIN.
var defaultCapabilities = []string{
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_FSETID",
	"CAP_FOWNER",
	"CAP_MKNOD",
	"CAP_NET_RAW",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETFCAP",
	"CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT",
	"CAP_KILL",
	"CAP_AUDIT_WRITE",
}

// maskedPaths and readonlyPaths are containerd's defaults for /proc and /sys.
var (
	maskedPaths = []string{
		"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
		"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
	readonlyPaths = []string{
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	}
)

// containerSpec is what libcontainerConfig needs to know about where the pod
// lives on the host.
type containerSpec struct {
	ctr        *ContainerConfig
	rootfs     string                           // the mounted overlay
	cgroupPath string                           // absolute, under the pod cgroup
	podNS      map[configs.NamespaceType]string // pinned namespaces to join
	shm        string                           // the pod's /dev/shm on the host
	// files are the pod's /etc/hosts, /etc/hostname and /etc/resolv.conf on
	// the host, by their path in the container.
	files map[string]string
	// volumes are the container's volume mounts, ready for libcontainer.
	volumes []*configs.Mount
	// seccomp is the container's filter; nil: Unconfined.
	seccomp *configs.Seccomp
	// cgroupns gives the container a cgroup namespace of its own (on
	// cgroup v2 only, as containerd does for Kubernetes pods: on v1 the
	// container sees its cgroups through bind mounts instead).
	cgroupns bool
	// userns is the pod's user namespace, joined by its path in podNS;
	// nil without one.
	userns *UserNamespace
	// hostPID: the container is in the host's PID namespace.
	hostPID bool
}

// libcontainerConfig builds the libcontainer configuration of one container:
// it joins the pod's namespaces by path, gets a new mount namespace (and a
// PID namespace of its own unless the pod shares one, and a cgroup
// namespace on cgroup v2), and the default
// hardening a containerd user gets. It is plain data: no system calls.
func libcontainerConfig(s containerSpec) *configs.Config {
	const defaultMountFlags = unix.MS_NOEXEC | unix.MS_NOSUID | unix.MS_NODEV
	var rules []*devconfig.Rule
	for _, d := range specconv.AllowedDevices {
		rules = append(rules, &d.Rule)
	}
	ns := configs.Namespaces{{Type: configs.NEWNS}}
	for _, t := range []configs.NamespaceType{configs.NEWUSER, configs.NEWNET, configs.NEWIPC, configs.NEWUTS, configs.NEWPID} {
		if p, ok := s.podNS[t]; ok {
			ns = append(ns, configs.Namespace{Type: t, Path: p})
		} else if t == configs.NEWPID && !s.hostPID {
			ns = append(ns, configs.Namespace{Type: configs.NEWPID})
		}
	}
	if s.cgroupns {
		ns = append(ns, configs.Namespace{Type: configs.NEWCGROUP})
	}
	caps := capabilities(s.ctr)
	c := &configs.Config{
		Rootfs:          s.rootfs,
		Readonlyfs:      s.ctr.ReadOnlyRootfs,
		NoNewPrivileges: !s.ctr.Privileged && (s.ctr.AllowPrivilegeEscalation == nil || !*s.ctr.AllowPrivilegeEscalation),
		Capabilities: &configs.Capabilities{
			Bounding:  caps,
			Effective: caps,
			Permitted: caps,
		},
		Namespaces:    ns,
		Seccomp:       s.seccomp,
		MaskPaths:     maskedPaths,
		ReadonlyPaths: readonlyPaths,
		Devices:       specconv.AllowedDevices,
		Cgroups: &cgroups.Cgroup{
			Path: s.cgroupPath,
			Resources: &cgroups.Resources{
				Memory:    s.ctr.MemoryLimit,
				CpuShares: cpuShares(s.ctr.CPURequestMillis),
				Devices:   rules,
			},
		},
		Mounts: []*configs.Mount{
			{Source: "proc", Destination: "/proc", Device: "proc", Flags: defaultMountFlags},
			{Source: "tmpfs", Destination: "/dev", Device: "tmpfs", Flags: unix.MS_NOSUID | unix.MS_STRICTATIME, Data: "mode=755,size=65536k"},
			{Source: "devpts", Destination: "/dev/pts", Device: "devpts", Flags: unix.MS_NOSUID | unix.MS_NOEXEC, Data: "newinstance,ptmxmode=0666,mode=0620,gid=5"},
			// One /dev/shm for the whole pod, as its IPC namespace is one.
			{Source: s.shm, Destination: "/dev/shm", Device: "bind", Flags: unix.MS_BIND | unix.MS_REC},
			{Source: "mqueue", Destination: "/dev/mqueue", Device: "mqueue", Flags: defaultMountFlags},
			{Source: "sysfs", Destination: "/sys", Device: "sysfs", Flags: defaultMountFlags | unix.MS_RDONLY},
			// The container's own cgroup at /sys/fs/cgroup, read-only, as
			// containerd mounts it: on cgroup v2, in the container's cgroup
			// namespace, its cgroup is the root of the cgroup2 mount; on v1
			// libcontainer binds each hierarchy's container cgroup there.
			{Source: "cgroup", Destination: "/sys/fs/cgroup", Device: "cgroup", Flags: defaultMountFlags | unix.MS_RELATIME | unix.MS_RDONLY},
		},
	}
	if s.userns != nil {
		// Joined by path; the mappings are libcontainer's copy of the
		// namespace's (what its specconv caches), which it uses for the
		// IDs it hands out (the exec FIFO's owner, the console's).
		c.UIDMappings, c.GIDMappings = s.userns.mappings(), s.userns.mappings()
	}
	if s.ctr.MaskedPaths != nil {
		c.MaskPaths = s.ctr.MaskedPaths
	}
	if s.ctr.ReadonlyPaths != nil {
		c.ReadonlyPaths = s.ctr.ReadonlyPaths
	}
	if s.ctr.CPULimitMillis > 0 {
		c.Cgroups.Resources.CpuPeriod = cpuPeriod
		c.Cgroups.Resources.CpuQuota = cpuQuota(s.ctr.CPULimitMillis)
	}
	if s.ctr.Privileged {
		// As a privileged Kubernetes container: every capability and
		// device, nothing masked, /sys and /proc writable.
		c.MaskPaths, c.ReadonlyPaths = nil, nil
		c.Cgroups.Resources.Devices = []*devconfig.Rule{{Type: devconfig.WildcardDevice, Major: devconfig.Wildcard, Minor: devconfig.Wildcard, Permissions: "rwm", Allow: true}}
		for _, m := range c.Mounts {
			if m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
				m.Flags &^= unix.MS_RDONLY
			}
		}
	}
	for _, target := range podFiles {
		if src, ok := s.files[target]; ok {
			c.Mounts = append(c.Mounts, &configs.Mount{
				Source: src, Destination: target, Device: "bind",
				Flags: unix.MS_BIND, PropagationFlags: []int{unix.MS_PRIVATE},
			})
		}
	}
	c.Mounts = append(c.Mounts, s.volumes...)
	for _, m := range s.ctr.Mounts {
		// Checked by Validate: the options are valid.
		b, _ := mounts.VolumeBind(m.ReadOnly, m.RecursiveReadOnly, m.Propagation)
		c.Mounts = append(c.Mounts, &configs.Mount{
			Source:           m.Source,
			Destination:      m.Target,
			Device:           "bind",
			Flags:            b.Flags,
			PropagationFlags: b.PropagationFlags,
			RecAttr:          b.RecAttr,
		})
		// A mount that propagates needs a root that does too, as
		// containerd sets rootfsPropagation.
		switch m.Propagation {
		case "Bidirectional":
			c.RootPropagation = unix.MS_SHARED | unix.MS_REC
		case "HostToContainer":
			if c.RootPropagation == 0 {
				c.RootPropagation = unix.MS_SLAVE | unix.MS_REC
			}
		}
	}
	return c
}

// currentCapabilities are the capabilities this process can hand on: those
// in its bounding set, as containerd's WithAllCurrentCapabilities gives a
// privileged container (a capability the runtime lacks can not be given, and
// asking for it fails the container's start).
var currentCapabilities = sync.OnceValue(func() []capability.Cap {
	known := capability.ListKnown()
	c, err := capability.NewPid2(0)
	if err != nil || c.Load() != nil {
		return known
	}
	var have []capability.Cap
	for _, k := range known {
		if c.Get(capability.BOUNDING, k) {
			have = append(have, k)
		}
	}
	return have
})

// capabilities is the container's capability set: the default one (or all
// that podbox holds, privileged) with CapDrop removed and CapAdd added; "ALL" drops or adds
// every one, and names may omit the CAP_ prefix, as in Kubernetes.
func capabilities(ctr *ContainerConfig) []string {
	all := currentCapabilities()
	set := map[string]bool{}
	if ctr.Privileged {
		for _, c := range all {
			set["CAP_"+strings.ToUpper(c.String())] = true
		}
	} else {
		for _, c := range defaultCapabilities {
			set[c] = true
		}
	}
	norm := func(n string) string {
		n = strings.ToUpper(n)
		if !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		return n
	}
	for _, d := range ctr.CapDrop {
		if norm(d) == "CAP_ALL" {
			clear(set)
			continue
		}
		delete(set, norm(d))
	}
	for _, a := range ctr.CapAdd {
		if norm(a) == "CAP_ALL" {
			for _, c := range all {
				set["CAP_"+strings.ToUpper(c.String())] = true
			}
			continue
		}
		set[norm(a)] = true
	}
	caps := make([]string, 0, len(set))
	for c := range set {
		caps = append(caps, c)
	}
	sort.Strings(caps)
	return caps
}

// cpuPeriod is the CFS period for CPU limits, in microseconds (the
// kubelet's default, 100 ms).
const cpuPeriod = 100000

// cpuQuota is the kubelet's MilliCPUToQuota: the CFS quota of a cpu
// limit over cpuPeriod, at least 1 ms; 0 (no limit) is none.
func cpuQuota(millis int64) int64 {
	if millis <= 0 {
		return 0
	}
	return max(millis*cpuPeriod/1000, 1000)
}

// cpuShares is the kubelet's MilliCPUToShares: 1024 shares a CPU, at least
// 2; 0 (no request) leaves the default. libcontainer turns shares into
// cpu.weight on cgroup v2.
func cpuShares(millis int64) uint64 {
	if millis <= 0 {
		return 0
	}
	return uint64(max(millis*1024/1000, 2))
}
