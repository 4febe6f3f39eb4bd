package netns

import (
	"fmt"
	"net/netip"
)

// pool is the address plan of a pod subnet: the network address and the
// broadcast address are never handed out, the first host address is the
// gateway (on the bridge), pods get the rest.
type pool struct {
	prefix  netip.Prefix // e.g. 10.88.0.0/16
	gateway netip.Addr   // 10.88.0.1
	first   netip.Addr   // 10.88.0.2
	last    netip.Addr   // 10.88.255.254
}

// newPool parses an IPv4 subnet in CIDR form. It must be a network address
// (no host bits) and hold at least the gateway and one pod (/30 or wider).
func newPool(subnet string) (pool, error) {
	p, err := netip.ParsePrefix(subnet)
	if err != nil {
		return pool{}, fmt.Errorf("subnet %q: %w", subnet, err)
	}
	if !p.Addr().Is4() {
		return pool{}, fmt.Errorf("subnet %q: only IPv4 is supported", subnet)
	}
	if p.Masked() != p {
		return pool{}, fmt.Errorf("subnet %q: has host bits set (network address is %s)", subnet, p.Masked())
	}
	if p.Bits() > 30 {
		return pool{}, fmt.Errorf("subnet %q: too small, want /30 or wider", subnet)
	}
	a := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	bcast := fromUint32(toUint32(a) | host)
	gw := p.Addr().Next()
	return pool{prefix: p, gateway: gw, first: gw.Next(), last: bcast.Prev()}, nil
}

// next returns the first pod address after prev that is not in used,
// wrapping around at the end of the pool (round robin, as CNI host-local
// does: a released address is not reused at once, so stale ARP and
// conntrack entries of the pod that held it have time to expire). An
// invalid prev, or one outside the pool, starts at the pool's first address.
func (p pool) next(prev netip.Addr, used map[netip.Addr]bool) (netip.Addr, error) {
	start := p.first
	if prev.IsValid() && prev.Is4() && p.contains(prev) && prev != p.last {
		start = prev.Next()
	}
	a := start
	for {
		if !used[a] {
			return a, nil
		}
		if a == p.last {
			a = p.first
		} else {
			a = a.Next()
		}
		if a == start {
			return netip.Addr{}, fmt.Errorf("allocate address in %s: %w", p.prefix, ErrSubnetFull)
		}
	}
}

// contains reports whether a is a pod address of the pool.
func (p pool) contains(a netip.Addr) bool {
	return p.prefix.Contains(a) && a.Compare(p.first) >= 0 && a.Compare(p.last) <= 0
}

func toUint32(a [4]byte) uint32 {
	return uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
}

func fromUint32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}
