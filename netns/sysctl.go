package netns

import (
	"fmt"
	"strings"
)

// Sysctl is one pod sysctl: securityContext.sysctls[] in Kubernetes.
type Sysctl struct {
	Name  string // "net.ipv4.ip_unprivileged_port_start", or the slash form "net/ipv4/conf/eth0.100/forwarding"
	Value string
}

// The namespaces a sysctl can belong to.
const (
	sysctlNet = "net"
	sysctlIPC = "ipc"
)

// NormalizeSysctl returns name in dot form. Kubernetes accepts both forms;
// in the slash form a dot is part of a component (an interface name such as
// eth0.100), so the two separators trade places: "net/ipv4/conf/eth0.100/forwarding"
// becomes "net.ipv4.conf.eth0/100.forwarding".
func NormalizeSysctl(name string) string {
	i := strings.IndexAny(name, "./")
	if i < 0 || name[i] == '.' {
		return name
	}
	return swapDotSlash(name)
}

func swapDotSlash(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '.':
			return '/'
		case '/':
			return '.'
		}
		return r
	}, s)
}

// sysctlPath returns the file under /proc/sys of name (either form):
// net.ipv4.conf.eth0/100.forwarding -> net/ipv4/conf/eth0.100/forwarding.
func sysctlPath(name string) string {
	return swapDotSlash(NormalizeSysctl(name))
}

// sysctlNamespace returns the namespace that holds the dot-form sysctl
// name, following the kernel and Kubernetes (pkg/kubelet/sysctl): the IPC
// namespace for kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.*, the
// network namespace for net.*, and "" for anything else (host-wide).
func sysctlNamespace(name string) string {
	switch {
	case name == "kernel.sem",
		strings.HasPrefix(name, "kernel.shm"),
		strings.HasPrefix(name, "kernel.msg"),
		strings.HasPrefix(name, "fs.mqueue."):
		return sysctlIPC
	case strings.HasPrefix(name, "net."):
		return sysctlNet
	}
	return ""
}

// ValidateSysctl checks that name (dot or slash form) is a well-formed
// sysctl that a pod may set: one that lives in the pod's IPC or network
// namespace. Any other, such as kernel.pid_max or vm.swappiness, would
// change the whole host and is refused with ErrNotNamespaced.
func ValidateSysctl(name string) error {
	dot := NormalizeSysctl(name)
	parts := strings.Split(dot, ".")
	for _, p := range parts {
		comp := strings.ReplaceAll(p, "/", ".")
		if comp == "" || comp == "." || comp == ".." || strings.ContainsAny(comp, "\x00\n ") {
			return fmt.Errorf("sysctl %q: malformed name", name)
		}
	}
	if len(parts) < 2 {
		return fmt.Errorf("sysctl %q: malformed name", name)
	}
	if sysctlNamespace(dot) == "" {
		return fmt.Errorf("sysctl %q: %w: not namespaced (only kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.* are)", name, ErrNotNamespaced)
	}
	return nil
}
