package netns

import (
	"errors"
	"net/netip"
	"testing"
)

func TestValidatePorts(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	ok := []PortMapping{
		{HostPort: 8080, ContainerPort: 80},
		{HostPort: 8080, ContainerPort: 80, Protocol: "UDP"},
		{HostIP: lo, HostPort: 9090, ContainerPort: 90},
		{HostIP: netip.MustParseAddr("10.0.0.1"), HostPort: 9090, ContainerPort: 90},
	}
	if err := validatePorts(ok); err != nil {
		t.Fatal(err)
	}
	bad := [][]PortMapping{
		{{HostPort: 0, ContainerPort: 80}},
		{{HostPort: 80, ContainerPort: 0}},
		{{HostPort: 80, ContainerPort: 80, Protocol: "ICMP"}},
		{{HostIP: netip.MustParseAddr("::1"), HostPort: 80, ContainerPort: 80}},
	}
	for _, b := range bad {
		if err := validatePorts(b); err == nil {
			t.Errorf("validatePorts(%+v) accepted", b)
		}
	}
	dup := []PortMapping{{HostPort: 80, ContainerPort: 80}, {HostIP: lo, HostPort: 80, ContainerPort: 81, Protocol: "tcp"}}
	if err := validatePorts(dup); !errors.Is(err, ErrPortConflict) {
		t.Errorf("overlapping mappings: %v, want ErrPortConflict", err)
	}
}

func TestPortComment(t *testing.T) {
	for _, m := range []PortMapping{
		{HostPort: 8080, ContainerPort: 80, Protocol: "TCP"},
		{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 53, ContainerPort: 53, Protocol: "UDP"},
		{HostPort: 1, ContainerPort: 2, Protocol: "SCTP"},
	} {
		c := portComment("web-1", m)
		pod, got, ok := parsePortComment(c)
		m.ContainerPort = 0 // not part of the comment
		if !ok || pod != "web-1" || got != m {
			t.Errorf("parsePortComment(%q) = %q %+v %v, want %+v", c, pod, got, ok, m)
		}
	}
	if got := portComment("p", PortMapping{HostPort: 8080, ContainerPort: 80}); got != "podbox pod=p tcp *:8080" {
		t.Errorf("comment %q", got)
	}
	for _, other := range []string{"", "hello", "podbox pod=x tcp", "podbox pod= tcp *:1", "podbox pod=x icmp *:1", "podbox pod=x tcp *:0"} {
		if _, _, ok := parsePortComment(other); ok {
			t.Errorf("parsePortComment(%q) ok", other)
		}
	}
}

func TestUnspecifiedHostIP(t *testing.T) {
	any4 := PortMapping{HostIP: netip.IPv4Unspecified(), HostPort: 80, ContainerPort: 80}
	lo := PortMapping{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: 80, ContainerPort: 8080}
	if any4.hasHostIP() || !any4.overlaps(lo) || portComment("p", any4) != "podbox pod=p tcp *:80" {
		t.Errorf("hostIP 0.0.0.0 must mean every address: %q", portComment("p", any4))
	}
}
