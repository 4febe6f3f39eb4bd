package netns

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

func TestNewPool(t *testing.T) {
	p, err := newPool("10.88.0.0/16")
	if err != nil {
		t.Fatal(err)
	}
	want := pool{
		prefix:  netip.MustParsePrefix("10.88.0.0/16"),
		gateway: netip.MustParseAddr("10.88.0.1"),
		first:   netip.MustParseAddr("10.88.0.2"),
		last:    netip.MustParseAddr("10.88.255.254"),
	}
	if p != want {
		t.Fatalf("pool = %+v, want %+v", p, want)
	}
	for _, bad := range []string{"10.88.0.5/16", "10.88.0.0/31", "fd00::/64", "10.88.0.0", "nonsense"} {
		if _, err := newPool(bad); err == nil {
			t.Errorf("newPool(%q) succeeded", bad)
		}
	}
	if p, err := newPool("10.89.3.0/30"); err != nil || p.first != p.last || p.first != netip.MustParseAddr("10.89.3.2") {
		t.Errorf("/30: %+v %v, want one pod address 10.89.3.2", p, err)
	}
}

func TestPoolNext(t *testing.T) {
	p, _ := newPool("10.89.1.0/29") // pods .2-.6
	a := func(s string) netip.Addr { return netip.MustParseAddr(s) }
	used := map[netip.Addr]bool{}
	cases := []struct {
		prev netip.Addr
		want string
	}{
		{netip.Addr{}, "10.89.1.2"},     // nothing allocated yet
		{a("10.89.1.2"), "10.89.1.3"},   // round robin
		{a("10.89.1.6"), "10.89.1.2"},   // wraps at the end
		{a("192.168.0.9"), "10.89.1.2"}, // a prev from another subnet
		{a("10.89.1.1"), "10.89.1.2"},   // the gateway is never handed out
		{a("10.89.1.7"), "10.89.1.2"},   // nor the broadcast address
	}
	for _, c := range cases {
		got, err := p.next(c.prev, used)
		if err != nil || got != a(c.want) {
			t.Errorf("next(%v) = %v, %v; want %s", c.prev, got, err, c.want)
		}
	}
	used[a("10.89.1.3")], used[a("10.89.1.4")] = true, true
	if got, _ := p.next(a("10.89.1.2"), used); got != a("10.89.1.5") {
		t.Errorf("next skips used: got %v, want 10.89.1.5", got)
	}
	for i := 2; i <= 6; i++ {
		used[a(fmt.Sprintf("10.89.1.%d", i))] = true
	}
	if _, err := p.next(a("10.89.1.4"), used); !errors.Is(err, ErrSubnetFull) {
		t.Errorf("full pool: err = %v, want ErrSubnetFull", err)
	}
	// Allocating every address in turn hands out each pod address once.
	used = map[netip.Addr]bool{}
	prev := netip.Addr{}
	for range 5 {
		ip, err := p.next(prev, used)
		if err != nil || used[ip] || !p.contains(ip) {
			t.Fatalf("next = %v, %v (used %v)", ip, err, used)
		}
		used[ip], prev = true, ip
	}
}

func TestVethName(t *testing.T) {
	for _, prefix := range []string{"pbx", "pb1234abc"} {
		for _, pod := range []string{"a", "web-1", strings.Repeat("x", 128)} {
			n := vethName(prefix, pod)
			if len(n) != IfNameMax || !strings.HasPrefix(n, prefix) {
				t.Errorf("vethName(%q, %q) = %q: want %d bytes starting with the prefix", prefix, pod, n, IfNameMax)
			}
			if n != vethName(prefix, pod) {
				t.Errorf("vethName is not stable")
			}
		}
	}
	if vethName("pbx", "web-1") == vethName("pbx", "web-2") {
		t.Error("two pods share a veth name")
	}
	if err := checkVethPrefix("pb12345678"); err == nil {
		t.Error("a 10-byte prefix leaves 5 hex digits and should be refused")
	}
	for _, bad := range []string{"", "a b", "a/b"} {
		if err := checkVethPrefix(bad); err == nil {
			t.Errorf("prefix %q accepted", bad)
		}
	}
}

func TestValidatePod(t *testing.T) {
	for _, ok := range []string{"web", "web-1", "Pod_1.x", strings.Repeat("a", 128)} {
		if err := validatePod(ok); err != nil {
			t.Errorf("validatePod(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "-x", ".", "..", "a/b", "a b", "a\n", strings.Repeat("a", 129)} {
		if err := validatePod(bad); err == nil {
			t.Errorf("validatePod(%q) accepted", bad)
		}
	}
}

func TestNewConfig(t *testing.T) {
	n, err := New(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	c := n.Config()
	if c.Bridge != DefaultBridge || c.Subnet != DefaultSubnet || c.VethPrefix != DefaultVethPrefix || c.Table != DefaultTable {
		t.Errorf("defaults not filled in: %+v", c)
	}
	if n.Gateway() != netip.MustParseAddr("10.87.0.1") {
		t.Errorf("gateway %v", n.Gateway())
	}
	if d, err := New(Config{Bridge: "br7"}); err != nil || d.Config().StateDir != "/run/podbox/networks/br7" {
		t.Errorf("default StateDir: %v, %v; want the node's, by bridge", d, err)
	}
	for _, bad := range []Config{
		{Bridge: "a-bridge-name-too-long"},
		{Subnet: "10.88.0.1/16"},
		{VethPrefix: "toolongprefix"},
		{Table: "has space"},
		{MTU: 100},
	} {
		if _, err := New(bad); err == nil {
			t.Errorf("New(%+v) succeeded", bad)
		}
	}
}
