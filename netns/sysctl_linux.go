package netns

import (
	"fmt"
	"os"

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
