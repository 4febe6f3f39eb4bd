package netns

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// ApplySysctls sets the pod's sysctls: net.* ones in the network namespace
// pinned at netnsPath, IPC ones in the IPC namespace pinned at ipcnsPath.
// An empty path means the pod shares that namespace with the host, and a
// sysctl of it is refused (as Kubernetes refuses net.* with hostNetwork).
// Every name is validated before anything is written. Interface sysctls
// (net.ipv4.conf.eth0.*) need eth0: call it after Attach.
//
// The writes go to /proc/sys from a fresh, locked OS thread that joins the
// namespace and returns to its own (CNI's ns.Do); a thread that cannot
// return is never unlocked, so the Go runtime discards it.
//
// Equivalent to: nsenter --net=NETNS sysctl -w NAME=VALUE (and --ipc=IPCNS)
func ApplySysctls(netnsPath, ipcnsPath string, sysctls []Sysctl) error {
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
	for _, ns := range []struct {
		kind, path string
		flag       int
	}{{sysctlNet, netnsPath, unix.CLONE_NEWNET}, {sysctlIPC, ipcnsPath, unix.CLONE_NEWIPC}} {
		list := byNS[ns.kind]
		if len(list) == 0 {
			continue
		}
		err := inNamespace(ns.path, ns.kind, ns.flag, func() error {
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

// inNamespace runs fn on a fresh OS thread that has joined the namespace
// of the given kind ("net", "ipc") pinned at path, then restores the
// thread's own namespace. fn must not start goroutines that expect to be
// in the namespace.
func inNamespace(path, kind string, flag int, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s namespace %q: %w", kind, path, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/" + kind)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open own %s namespace: %w", kind, err)
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), flag); err != nil {
			runtime.UnlockOSThread() // setns failed: the thread is where it was
			errc <- fmt.Errorf("join %s namespace %q: %w", kind, path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), flag); err != nil {
			// Stay locked: the goroutine ends, and the runtime kills the
			// thread instead of reusing it in the wrong namespace.
			errc <- fmt.Errorf("return from %s namespace %q: %w", kind, path, err)
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
