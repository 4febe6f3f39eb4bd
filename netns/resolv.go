package netns

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
)

// DNS policies of a pod (spec.dnsPolicy).
const (
	DNSClusterFirst            = "ClusterFirst"
	DNSClusterFirstWithHostNet = "ClusterFirstWithHostNet"
	DNSDefault                 = "Default"
	DNSNone                    = "None"
)

// Limits the kubelet applies to a pod's resolv.conf (formDNSConfigFitsLimits).
const (
	maxNameservers     = 3
	maxSearches        = 32
	maxSearchLineChars = 2048
	maxSearchChars     = 253
)

// Where the host's resolver configuration is read from.
const (
	EtcResolvConf     = "/etc/resolv.conf"
	SystemdResolvConf = "/run/systemd/resolve/resolv.conf"
)

// HostResolvConf returns the path and content of the host resolv.conf
// that pods should start from. A pod cannot reach the host's loopback, so
// when /etc/resolv.conf names only loopback nameservers (systemd-resolved's
// stub 127.0.0.53, a local dnsmasq) and systemd-resolved's list of the real
// upstream servers exists, that list is used, as the kubelet is configured
// to on such hosts.
func HostResolvConf() (path string, content []byte, err error) {
	return pickResolvConf(EtcResolvConf, SystemdResolvConf)
}

func pickResolvConf(etc, systemd string) (string, []byte, error) {
	data, err := os.ReadFile(etc)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return "", nil, fmt.Errorf("read host resolv.conf: %w", err)
	}
	if onlyLoopback(data) {
		if alt, aerr := os.ReadFile(systemd); aerr == nil {
			return systemd, alt, nil
		}
	}
	if err != nil {
		return "", nil, fmt.Errorf("read host resolv.conf: %w", err)
	}
	return etc, data, nil
}

// onlyLoopback reports whether resolv.conf content names no nameserver
// but loopback ones (the resolver then asks 127.0.0.1 too).
func onlyLoopback(content []byte) bool {
	servers, _, _ := parseResolvConf(content)
	for _, s := range servers {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.IsLoopback() {
			return false
		}
	}
	return true
}

// parseResolvConf reads nameserver, search and options lines as the kubelet
// does: nameservers accumulate, the last search line and the last options
// line win, search domains lose a trailing dot, comments (# or ;) are skipped.
func parseResolvConf(content []byte) (servers, searches, options []string) {
	for _, line := range strings.Split(string(content), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) >= 2 {
				servers = append(servers, f[1])
			}
		case "search":
			searches = nil
			for _, s := range f[1:] {
				if s != "." {
					searches = append(searches, strings.TrimSuffix(s, "."))
				}
			}
		case "options":
			options = append([]string(nil), f[1:]...)
		}
	}
	return servers, searches, options
}

// ResolvConf renders a pod's /etc/resolv.conf following the kubelet
// (GetPodDNS). hostResolv is the host file's content (HostResolvConf).
// Policy None starts empty; every other policy starts from the host's
// file, since a single host has no cluster DNS (the kubelet falls back to
// Default when no cluster DNS is configured, and so does ClusterFirst for
// a hostNetwork pod). The pod's dnsConfig is then merged: nameservers and
// searches appended without duplicates, options ("name" or "name:value")
// overriding same-named ones. The result is cut to the kubelet's limits:
// 3 nameservers, 32 search domains of at most 253 characters and 2048 in
// all. Policy None without any nameserver is an error, as in Kubernetes
// validation; so is an unknown policy.
func ResolvConf(hostResolv []byte, policy string, nameservers, searches, options []string) ([]byte, error) {
	var srv, sea, opt []string
	switch policy {
	case DNSNone:
		if len(nameservers) == 0 {
			return nil, fmt.Errorf("dnsPolicy %s: dnsConfig.nameservers must name at least one nameserver", DNSNone)
		}
	case "", DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault:
		srv, sea, opt = parseResolvConf(hostResolv)
	default:
		return nil, fmt.Errorf("dnsPolicy %q: want %s, %s, %s or %s", policy, DNSClusterFirst, DNSClusterFirstWithHostNet, DNSDefault, DNSNone)
	}
	for i, s := range nameservers {
		if _, err := netip.ParseAddr(s); err != nil {
			return nil, fmt.Errorf("dnsConfig.nameservers[%d]: %q is not an IP address", i, s)
		}
	}
	srv = uniq(append(srv, nameservers...))
	sea = uniq(append(sea, searches...))
	opt = mergeOptions(opt, options)

	if len(srv) > maxNameservers {
		srv = srv[:maxNameservers]
	}
	if len(sea) > maxSearches {
		sea = sea[:maxSearches]
	}
	var fit []string
	for _, s := range sea {
		if len(s) <= maxSearchChars {
			fit = append(fit, s)
		}
	}
	for len(strings.Join(fit, " ")) > maxSearchLineChars {
		fit = fit[:len(fit)-1]
	}

	var b bytes.Buffer
	if len(fit) > 0 {
		b.WriteString("search " + strings.Join(fit, " ") + "\n")
	}
	for _, s := range srv {
		b.WriteString("nameserver " + s + "\n")
	}
	if len(opt) > 0 {
		b.WriteString("options " + strings.Join(opt, " ") + "\n")
	}
	return b.Bytes(), nil
}

func uniq(list []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// mergeOptions merges resolver options by name: an option of extra
// replaces the same-named one of base in place, new ones are appended.
// (The kubelet merges through a map, so its order is random; this keeps
// the host's order and is deterministic.)
func mergeOptions(base, extra []string) []string {
	name := func(o string) string { n, _, _ := strings.Cut(o, ":"); return n }
	var out []string
	index := map[string]int{}
	for _, o := range append(append([]string(nil), base...), extra...) {
		if i, ok := index[name(o)]; ok {
			out[i] = o
			continue
		}
		index[name(o)] = len(out)
		out = append(out, o)
	}
	return out
}
