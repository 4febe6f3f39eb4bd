package netns

import (
	"bytes"
	"net/netip"
	"strings"
)

// HostAlias is an extra /etc/hosts line: spec.hostAliases[] in Kubernetes.
type HostAlias struct {
	IP        string
	Hostnames []string
}

// HostsFile renders a pod's /etc/hosts as the kubelet does
// (managedHostsFileContent): the localhost lines, then "IP\tFQDN\tHOSTNAME"
// (or "IP\tHOSTNAME" when domain is empty; domain is what the kubelet
// makes of spec.subdomain), then the host aliases.
func HostsFile(podIP netip.Addr, hostname, domain string, aliases []HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file.\n")
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("fe00::0\tip6-mcastprefix\n")
	b.WriteString("fe00::1\tip6-allnodes\n")
	b.WriteString("fe00::2\tip6-allrouters\n")
	if podIP.IsValid() {
		if domain != "" {
			b.WriteString(podIP.String() + "\t" + hostname + "." + domain + "\t" + hostname + "\n")
		} else {
			b.WriteString(podIP.String() + "\t" + hostname + "\n")
		}
	}
	b.Write(hostAliasLines(aliases))
	return b.Bytes()
}

// HostNetworkHostsFile renders /etc/hosts for a hostNetwork pod as the
// kubelet does: the host's own file (hostHosts, the content of
// /etc/hosts) under a header, then the host aliases.
func HostNetworkHostsFile(hostHosts []byte, aliases []HostAlias) []byte {
	var b bytes.Buffer
	b.WriteString("# Kubernetes-managed hosts file (host network).\n")
	b.Write(hostHosts)
	if len(hostHosts) > 0 && hostHosts[len(hostHosts)-1] != '\n' {
		b.WriteByte('\n')
	}
	b.Write(hostAliasLines(aliases))
	return b.Bytes()
}

// hostAliasLines is the kubelet's hostsEntriesFromHostAliases: one line
// per alias entry, its hostnames separated by tabs.
func hostAliasLines(aliases []HostAlias) []byte {
	if len(aliases) == 0 {
		return nil
	}
	var b bytes.Buffer
	b.WriteString("\n# Entries added by HostAliases.\n")
	for _, a := range aliases {
		b.WriteString(a.IP + "\t" + strings.Join(a.Hostnames, "\t") + "\n")
	}
	return b.Bytes()
}
