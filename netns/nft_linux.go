package netns

import (
	"errors"
	"fmt"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// firewall is the nftables side of a Network. Everything podbox adds lives
// in one table of family ip, Config.Table; no other table is read or written:
//
//	table ip TABLE {
//		chain prerouting  { type nat hook prerouting priority dstnat; fib daddr type local jump hostports }
//		chain output      { type nat hook output priority dstnat; fib daddr type local jump hostports }
//		chain input       { type filter hook input priority filter;
//			iifname BRIDGE ip daddr 127.0.0.0/8 ct state != { established, related } drop }
//		chain hostports   { [ip daddr HOSTIP] meta l4proto tcp th dport 8080 dnat to POD:80 comment "podbox pod=P tcp *:8080" ... }
//		chain postrouting { type nat hook postrouting priority srcnat;
//			ip saddr SUBNET ip daddr != SUBNET masquerade          # pods to the outside world
//			oifname BRIDGE ip saddr 127.0.0.0/8 masquerade           # 127.0.0.1:hostPort from the host
//			oifname BRIDGE ct status dnat ip saddr SUBNET masquerade # pod to a hostPort, its own included
//		}
//	}
//
// The table is created whole, in one atomic batch, when it is missing;
// afterwards only the hostports chain is edited, rule by rule. A table
// damaged by hand is not repaired: delete it and the next Attach or
// PublishPorts makes it anew (the pods' hostPorts must then be published
// again).
type firewall struct {
	table  *nftables.Table
	bridge string
	subnet netip.Prefix
}

const hostportsChain = "hostports"

func newFirewall(table, bridge string, subnet netip.Prefix) *firewall {
	return &firewall{
		table:  &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4},
		bridge: bridge,
		subnet: subnet,
	}
}

func (f *firewall) chain(name string) *nftables.Chain {
	return &nftables.Chain{Name: name, Table: f.table}
}

// queueCreate adds to c's batch the table with its chains and base rules.
func (f *firewall) queueCreate(c *nftables.Conn) {
	c.AddTable(f.table)
	pre := c.AddChain(&nftables.Chain{Name: "prerouting", Table: f.table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest})
	out := c.AddChain(&nftables.Chain{Name: "output", Table: f.table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookOutput, Priority: nftables.ChainPriorityNATDest})
	post := c.AddChain(&nftables.Chain{Name: "postrouting", Table: f.table, Type: nftables.ChainTypeNAT,
		Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource})
	in := c.AddChain(&nftables.Chain{Name: "input", Table: f.table, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookInput, Priority: nftables.ChainPriorityFilter})
	c.AddChain(f.chain(hostportsChain))
	toHostports := []expr.Any{
		// fib daddr type local
		&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)},
		&expr.Verdict{Kind: expr.VerdictJump, Chain: hostportsChain},
	}
	c.AddRule(&nftables.Rule{Table: f.table, Chain: pre, Exprs: toHostports})
	c.AddRule(&nftables.Rule{Table: f.table, Chain: out, Exprs: toHostports})

	loopback := netip.MustParsePrefix("127.0.0.0/8")
	masq := &expr.Masq{}
	rules := [][]expr.Any{
		join(ipPrefix(12, expr.CmpOpEq, f.subnet), ipPrefix(16, expr.CmpOpNeq, f.subnet), []expr.Any{masq}),
		join(oifname(f.bridge), ipPrefix(12, expr.CmpOpEq, loopback), []expr.Any{masq}),
		join(oifname(f.bridge), ctStatusDNAT(), ipPrefix(12, expr.CmpOpEq, f.subnet), []expr.Any{masq}),
	}
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: f.table, Chain: post, Exprs: r})
	}
	// route_localnet on the bridge would also let a pod reach the host's
	// 127.0.0.1 services (CVE-2020-8558); only replies may come that way.
	c.AddRule(&nftables.Rule{Table: f.table, Chain: in, Exprs: join(
		iifname(f.bridge), ipPrefix(16, expr.CmpOpEq, loopback), ctStateNotEstablished(), []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}})})
}

// ensure creates the table, in one atomic batch, unless it exists. Call
// it under the lease lock: two processes creating it at once would both
// add the base rules. (Checking first matters: a batch that touches NAT
// base chains costs ~10 ms; the check costs ~0.1 ms.)
func (f *firewall) ensure() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	_, err = c.ListTableOfFamily(f.table.Name, f.table.Family)
	if err == nil {
		return nil
	}
	if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("list nftables table %q: %w", f.table.Name, err)
	}
	f.queueCreate(c)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("create nftables table %q: %w", f.table.Name, err)
	}
	return nil
}

// remove deletes the whole table; a missing table is not an error.
//
// Equivalent to: nft delete table ip TABLE
func (f *firewall) remove() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(f.table)
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table %q: %w", f.table.Name, err)
	}
	return nil
}

// hostPortRule is one rule of the hostports chain, decoded from its comment.
type hostPortRule struct {
	pod  string
	port PortMapping
	rule *nftables.Rule
}

// hostPorts lists the rules of the hostports chain; nil when the table
// does not exist.
func (f *firewall) hostPorts(c *nftables.Conn) ([]hostPortRule, error) {
	rules, err := c.GetRules(f.table, f.chain(hostportsChain))
	if err != nil {
		if _, terr := c.ListTableOfFamily(f.table.Name, f.table.Family); errors.Is(terr, unix.ENOENT) {
			return nil, nil
		}
		return nil, fmt.Errorf("list nftables chain %s %s: %w", f.table.Name, hostportsChain, err)
	}
	var out []hostPortRule
	for _, r := range rules {
		comment, _ := userdata.GetString(r.UserData, userdata.TypeComment)
		pod, m, ok := parsePortComment(comment)
		if !ok {
			pod = "" // not ours to judge; kept, and never matches a pod
		}
		out = append(out, hostPortRule{pod: pod, port: m, rule: r})
	}
	return out, nil
}

// publish replaces pod's hostPort rules with ports, DNAT to ip, in one
// atomic batch, creating the table first if it is missing. A port that another pod
// publishes already is refused with ErrPortConflict. Call it under the
// lease lock, which makes check-and-add atomic across processes.
func (f *firewall) publish(pod string, ip netip.Addr, ports []PortMapping) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	if err := f.ensure(); err != nil {
		return err
	}
	existing, err := f.hostPorts(c)
	if err != nil {
		return err
	}
	for _, e := range existing {
		if e.pod == pod {
			continue
		}
		for _, m := range ports {
			if e.pod != "" && e.port.overlaps(m) {
				return fmt.Errorf("publish %s for pod %q: %w by pod %q", m.hostSide(), pod, ErrPortConflict, e.pod)
			}
		}
	}
	hp := f.chain(hostportsChain)
	for _, e := range existing {
		if e.pod == pod {
			if err := c.DelRule(e.rule); err != nil {
				return err
			}
		}
	}
	for _, m := range ports {
		proto, _, _ := m.ipProto()
		var match []expr.Any
		if m.hasHostIP() {
			match = ipAddr(16, m.HostIP)
		}
		match = append(match,
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(m.HostPort)},
			&expr.Immediate{Register: 1, Data: ip.AsSlice()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(m.ContainerPort)},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true},
		)
		c.AddRule(&nftables.Rule{Table: f.table, Chain: hp, Exprs: match,
			UserData: userdata.AppendString(nil, userdata.TypeComment, portComment(pod, m))})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("publish ports of pod %q: %w", pod, err)
	}
	return nil
}

// unpublish deletes pod's hostPort rules; none, or no table, is fine.
func (f *firewall) unpublish(pod string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	existing, err := f.hostPorts(c)
	if err != nil {
		return err
	}
	n := 0
	for _, e := range existing {
		if e.pod == pod {
			if err := c.DelRule(e.rule); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("unpublish ports of pod %q: %w", pod, err)
	}
	return nil
}

func join(parts ...[]expr.Any) []expr.Any {
	var out []expr.Any
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// ipPrefix matches the IPv4 address at offset (12 saddr, 16 daddr) of the
// network header against p: "ip saddr 10.88.0.0/16".
func ipPrefix(offset uint32, op expr.CmpOp, p netip.Prefix) []expr.Any {
	m := make([]byte, 4)
	for i := 0; i < p.Bits(); i++ {
		m[i/8] |= 0x80 >> (i % 8)
	}
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: m, Xor: make([]byte, 4)},
		&expr.Cmp{Op: op, Register: 1, Data: p.Masked().Addr().AsSlice()},
	}
}

// ipAddr matches one IPv4 address at offset of the network header.
func ipAddr(offset uint32, a netip.Addr) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a.AsSlice()},
	}
}

// oifname matches the output interface: "oifname BRIDGE".
func oifname(name string) []expr.Any { return ifname(expr.MetaKeyOIFNAME, name) }

// iifname matches the input interface: "iifname BRIDGE".
func iifname(name string) []expr.Any { return ifname(expr.MetaKeyIIFNAME, name) }

func ifname(key expr.MetaKey, name string) []expr.Any {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, name)
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: b},
	}
}

// ctStateNotEstablished matches packets of no established or related
// connection: "ct state != { established, related }".
func ctStateNotEstablished() []expr.Any {
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATE},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(expr.CtStateBitESTABLISHED | expr.CtStateBitRELATED), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: make([]byte, 4)},
	}
}

// ctStatusDNAT matches connections whose destination was rewritten: "ct status dnat".
func ctStatusDNAT() []expr.Any {
	const ipsDstNAT = 1 << 5 // IPS_DST_NAT
	return []expr.Any{
		&expr.Ct{Register: 1, Key: expr.CtKeySTATUS},
		&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4,
			Mask: binaryutil.NativeEndian.PutUint32(ipsDstNAT), Xor: make([]byte, 4)},
		&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)},
	}
}
