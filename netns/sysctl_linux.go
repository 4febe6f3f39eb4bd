package netns

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/namespaces"
)

// ApplySysctls sets the pod's sysctls: net.* ones in the network namespace
// pinned at netnsPath, IPC ones in the IPC namespace pinned at ipcnsPath.
// An empty path means the pod shares that namespace with the host, and a
// sysctl of it is refused (as Kubernetes refuses net.* with hostNetwork).
// Every name is validated before anything is written. Interface sysctls
// (net.ipv4.conf.eth0.*) need eth0: call it after Attach.
//
// The writes go to /proc/sys from a thread that joins the namespace
// (namespaces.Enter).
//
// Equivalent to: nsenter --net=NETNS sysctl -w NAME=VALUE (and --ipc=IPCNS)
func ApplySysctls(netnsPath, ipcnsPath string, sysctls []Sysctl) error {
	return ApplySysctlsAs(netnsPath, ipcnsPath, 0, sysctls)
}

// ApplySysctlsAs is ApplySysctls for a pod whose namespaces a user
// namespace owns, whose root is ipcRoot on the host (0: none). The kernel
// lets only the owner of an IPC namespace write its sysctls, by effective
// UID, whatever the writer's capabilities (ipc_permissions,
// mq_permissions): those are written by a thread of their own that joins
// the IPC namespace and takes ipcRoot as its effective UID, and ends with
// the write. The network namespace's are written as the host's root, which
// holds CAP_NET_ADMIN over it.
func ApplySysctlsAs(netnsPath, ipcnsPath string, ipcRoot int, sysctls []Sysctl) error {
	byNS := map[string][]Sysctl{}
	for _, s := range sysctls {
		if err := ValidateSysctl(s.Name); err != nil {
			return err
		}
		kind := sysctlNamespace(NormalizeSysctl(s.Name))
		if (kind == sysctlNet && netnsPath == "") || (kind == sysctlIPC && ipcnsPath == "") {
			return fmt.Errorf("sysctl %q: %w: the pod shares the host's %s namespace", s.Name, ErrNotNamespaced, kind)
		}
		byNS[kind] = append(byNS[kind], s)
	}
	for _, ns := range []struct{ kind, path string }{{sysctlNet, netnsPath}, {sysctlIPC, ipcnsPath}} {
		list := byNS[ns.kind]
		if len(list) == 0 {
			continue
		}
		if ns.kind == sysctlIPC && ipcRoot != 0 {
			if err := writeSysctlsAs(ns.path, ipcRoot, list); err != nil {
				return err
			}
			continue
		}
		err := namespaces.Enter(map[string]string{ns.kind: ns.path}, func() error {
			for _, s := range list {
				p := "/proc/sys/" + sysctlPath(s.Name)
				if err := os.WriteFile(p, []byte(s.Value), 0o644); err != nil {
					return fmt.Errorf("sysctl %s=%s in %s: %w", s.Name, s.Value, ns.path, err)
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// writeSysctlsAs writes IPC sysctls from a thread that joins the IPC
// namespace at nsPath and takes uid as its effective UID (setresuid on that
// thread alone). The thread is never given back to the Go runtime: it ends
// with its goroutine, whose locked thread is not unlocked.
func writeSysctlsAs(nsPath string, uid int, list []Sysctl) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		errc <- func() error {
			f, err := os.Open(nsPath)
			if err != nil {
				return fmt.Errorf("sysctls in %s: %w", nsPath, err)
			}
			defer f.Close()
			if err := unix.Unshare(unix.CLONE_FS); err != nil {
				return fmt.Errorf("sysctls in %s: unshare: %w", nsPath, err)
			}
			if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWIPC); err != nil {
				return fmt.Errorf("sysctls in %s: setns: %w", nsPath, err)
			}
			// This thread only (the raw call, not syscall.Setresuid,
			// which changes every thread of the process).
			if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(uid), ^uintptr(0)); e != 0 {
				return fmt.Errorf("sysctls in %s: setresuid: %w", nsPath, e)
			}
			for _, s := range list {
				if err := os.WriteFile("/proc/sys/"+sysctlPath(s.Name), []byte(s.Value), 0o644); err != nil {
					return fmt.Errorf("sysctl %s=%s in %s (as uid %d, its owner): %w", s.Name, s.Value, nsPath, uid, err)
				}
			}
			return nil
		}()
	}()
	return <-errc
}
