package sandbox

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/podbox/podbox/netns"
)

// netKey is what the pod is called on the node's network (its lease, its
// veth's name, its hostPort rules): its UID, unique across every podbox
// state root sharing the network, or the name of a pod made before UIDs.
func netKey(st *PodStatus) string {
	if st.UID != "" {
		return st.UID
	}
	return st.Name
}

// podFiles are the per-pod files bind-mounted into every container, by
// their path in the container.
var podFiles = []string{"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

func podFile(dir, target string) string { return filepath.Join(dir, "etc", filepath.Base(target)) }

// setUpNetwork gives the pod its network: lo up, and unless hostNetwork a
// veth on the bridge with the pod's IP and route, its hostPorts and its
// namespaced sysctls; then the pod's /etc/hosts, /etc/hostname and
// /etc/resolv.conf. What Attach made is undone by teardown (Detach).
func (m *Manager) setUpNetwork(ctx context.Context, dir string, st *PodStatus) error {
	cfg := &st.Config
	var ip netip.Addr
	if !cfg.HostNetwork {
		if err := netns.LoopbackUp(st.Namespaces["net"]); err != nil {
			return err
		}
		// Leases of pods that no longer exist (a crash, a reboot), of
		// whichever state root, go back to the pool.
		m.net.ReclaimUnpinned()
		a, err := m.net.Attach(ctx, netKey(st), st.Namespaces["net"])
		if err != nil {
			return err
		}
		ip = a.IP
		st.PodIP, st.HostVeth = a.IP.String(), a.HostVeth
		st.Warnings = append(st.Warnings, a.Warnings...)
		if ports := hostPorts(cfg); len(ports) > 0 {
			if err := m.net.PublishPorts(netKey(st), ports); err != nil {
				return err
			}
		}
	}
	if len(cfg.Sysctls) > 0 {
		var sysctls []netns.Sysctl
		for _, s := range cfg.Sysctls {
			sysctls = append(sysctls, netns.Sysctl{Name: s.Name, Value: s.Value})
		}
		ipcRoot := 0
		if u := st.UserNamespace; u != nil {
			ipcRoot = int(u.HostID)
		}
		if err := netns.ApplySysctlsAs(st.Namespaces["net"], st.Namespaces["ipc"], ipcRoot, sysctls); err != nil {
			return err
		}
	}
	var aliases []netns.HostAlias
	for _, a := range cfg.HostAliases {
		aliases = append(aliases, netns.HostAlias{IP: a.IP, Hostnames: a.Hostnames})
	}
	var hosts []byte
	if cfg.HostNetwork {
		host, _ := os.ReadFile("/etc/hosts")
		hosts = netns.HostNetworkHostsFile(host, aliases)
	} else {
		hosts = netns.HostsFile(ip, cfg.hostname(), "", aliases)
	}
	_, hostResolv, err := netns.HostResolvConf()
	if err != nil {
		return err
	}
	resolv, err := netns.ResolvConf(hostResolv, cfg.DNS.Policy, cfg.DNS.Nameservers, cfg.DNS.Searches, cfg.DNS.Options)
	if err != nil {
		return fmt.Errorf("resolv.conf: %w", err)
	}
	hostname := cfg.hostname()
	if cfg.HostNetwork {
		hostname, _ = os.Hostname()
	}
	files := map[string][]byte{
		"/etc/hosts":       hosts,
		"/etc/hostname":    []byte(hostname + "\n"),
		"/etc/resolv.conf": resolv,
	}
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		return err
	}
	for _, target := range podFiles {
		if err := os.WriteFile(podFile(dir, target), files[target], 0o644); err != nil {
			return err
		}
	}
	return nil
}

// hostPorts lists the pod's published ports.
func hostPorts(cfg *PodConfig) []netns.PortMapping {
	var ports []netns.PortMapping
	for _, list := range [][]ContainerConfig{cfg.InitContainers, cfg.Containers, {{Ports: cfg.Ports}}} {
		for _, c := range list {
			for _, p := range c.Ports {
				if p.HostPort == 0 {
					continue
				}
				pm := netns.PortMapping{HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: strings.ToUpper(p.Protocol)}
				if p.HostIP != "" {
					pm.HostIP, _ = netip.ParseAddr(p.HostIP)
				}
				ports = append(ports, pm)
			}
		}
	}
	return ports
}

// NetworkLeases lists the owners of the pod network's leases: the pods of
// every podbox state root on this host that use the network now.
func (m *Manager) NetworkLeases() ([]string, error) {
	leases, err := m.net.Leases()
	if err != nil {
		return nil, err
	}
	var owners []string
	for _, l := range leases {
		if l.Torn == "" {
			owners = append(owners, l.Pod)
		}
	}
	return owners, nil
}
