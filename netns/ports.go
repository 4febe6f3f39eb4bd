package netns

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// PortMapping publishes a pod port on the host: Kubernetes'
// containers[].ports[] entry with hostPort set.
type PortMapping struct {
	// HostIP, when set, limits the mapping to traffic for that local
	// address; unset or unspecified (0.0.0.0) means every local address,
	// 127.0.0.1 included.
	HostIP        netip.Addr
	HostPort      uint16
	ContainerPort uint16
	// Protocol is "TCP" (also when empty), "UDP" or "SCTP".
	Protocol string
}

// ipProto returns the IP protocol number and the lowercase name of m's protocol.
func (m PortMapping) ipProto() (byte, string, error) {
	switch strings.ToUpper(m.Protocol) {
	case "", "TCP":
		return 6, "tcp", nil
	case "UDP":
		return 17, "udp", nil
	case "SCTP":
		return 132, "sctp", nil
	}
	return 0, "", fmt.Errorf("protocol %q: want TCP, UDP or SCTP", m.Protocol)
}

// validatePorts checks a pod's port list: ports in range, IPv4 host
// addresses, and no host port published twice by the list itself.
func validatePorts(ports []PortMapping) error {
	for i, m := range ports {
		if _, _, err := m.ipProto(); err != nil {
			return fmt.Errorf("ports[%d]: %w", i, err)
		}
		if m.HostPort == 0 || m.ContainerPort == 0 {
			return fmt.Errorf("ports[%d]: hostPort and containerPort must be 1-65535", i)
		}
		if m.hasHostIP() && !m.HostIP.Is4() {
			return fmt.Errorf("ports[%d]: hostIP %s: only IPv4 is supported", i, m.HostIP)
		}
		for j := range i {
			if ports[j].overlaps(m) {
				return fmt.Errorf("ports[%d]: %s: %w by ports[%d]", i, m.hostSide(), ErrPortConflict, j)
			}
		}
	}
	return nil
}

// hostSide names what a mapping takes on the host: "tcp *:8080" or "udp 127.0.0.1:53".
func (m PortMapping) hostSide() string {
	_, proto, _ := m.ipProto()
	ip := "*"
	if m.hasHostIP() {
		ip = m.HostIP.String()
	}
	return proto + " " + ip + ":" + strconv.Itoa(int(m.HostPort))
}

// overlaps reports whether m and o claim the same traffic: same protocol and
// port, and the same host address or either one unset (every address).
func (m PortMapping) overlaps(o PortMapping) bool {
	_, p1, _ := m.ipProto()
	_, p2, _ := o.ipProto()
	return p1 == p2 && m.HostPort == o.HostPort &&
		(!m.hasHostIP() || !o.hasHostIP() || m.HostIP == o.HostIP)
}

// hasHostIP reports whether m is limited to one host address.
func (m PortMapping) hasHostIP() bool {
	return m.HostIP.IsValid() && !m.HostIP.IsUnspecified()
}

// The nftables comment of a hostPort rule says whose it is and what it
// takes, so rules are found, removed and checked for conflicts without
// decoding their expressions: "podbox pod=web-1 tcp *:8080".
func portComment(pod string, m PortMapping) string {
	return "podbox pod=" + pod + " " + m.hostSide()
}

// parsePortComment reverses portComment; ok is false for any other text.
func parsePortComment(s string) (pod string, m PortMapping, ok bool) {
	f := strings.Fields(s)
	if len(f) != 4 || f[0] != "podbox" || !strings.HasPrefix(f[1], "pod=") {
		return "", PortMapping{}, false
	}
	pod = strings.TrimPrefix(f[1], "pod=")
	m.Protocol = strings.ToUpper(f[2])
	host, port, found := strings.Cut(f[3], ":")
	if !found {
		return "", PortMapping{}, false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return "", PortMapping{}, false
	}
	m.HostPort = uint16(n)
	if host != "*" {
		if m.HostIP, err = netip.ParseAddr(host); err != nil {
			return "", PortMapping{}, false
		}
	}
	if _, _, err := m.ipProto(); err != nil || pod == "" {
		return "", PortMapping{}, false
	}
	return pod, m, true
}
