package netns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// The anti-spoofing guard: a table of family bridge, named as the ip table
// (Config.Table), that only lets a pod's veth bring into the bridge frames
// that carry the pod's own addresses, whatever capabilities (NET_RAW, the
// default) its containers hold:
//
//	table bridge TABLE {
//		chain prerouting { type filter hook prerouting priority filter;
//			iifname VETH jump VETH comment "podbox veth=VETH" ... }
//		chain VETH {
//			ether saddr != MAC drop
//			ether type arp arp saddr ether != MAC drop
//			ether type arp arp saddr ip != IP drop
//			ether type ip ip saddr != IP drop
//			ether type { ip, arp, ip6 } return   (one rule each)
//			drop
//		}
//	}
//
// Each pod's chain and jump are made before its interface comes up and
// removed with the pod (unguard).
const guardChain = "prerouting"

const (
	etherTypeIPv4 = 0x0800
	etherTypeARP  = 0x0806
	etherTypeIPv6 = 0x86dd
)

func (f *firewall) bridgeTable() *nftables.Table {
	return &nftables.Table{Name: f.table.Name, Family: nftables.TableFamilyBridge}
}

// guard adds veth's chain, allowing only source MAC mac and IPv4 address
// ip, and the jump to it, in one batch, making the table first if it is
// missing. A chain of the same veth left from before is replaced. Call it
// under the lease lock.
//
// Equivalent to: nft add chain bridge TABLE VETH; nft add rule bridge TABLE VETH ...; nft add rule bridge TABLE prerouting iifname VETH jump VETH
func (f *firewall) guard(veth string, mac net.HardwareAddr, ip netip.Addr) error {
	if len(mac) != 6 || !ip.Is4() {
		return fmt.Errorf("guard %s: want an Ethernet address and an IPv4 address, have %q and %s", veth, mac, ip)
	}
	if err := f.unguard(veth); err != nil {
		return err
	}
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := f.bridgeTable()
	if _, err := c.ListTableOfFamily(t.Name, t.Family); errors.Is(err, unix.ENOENT) {
		c.AddTable(t)
		c.AddChain(&nftables.Chain{Name: guardChain, Table: t, Type: nftables.ChainTypeFilter,
			Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityFilter})
	} else if err != nil {
		return fmt.Errorf("list nftables table bridge %q: %w", t.Name, err)
	}
	ch := c.AddChain(&nftables.Chain{Name: veth, Table: t})
	drop := []expr.Any{&expr.Verdict{Kind: expr.VerdictDrop}}
	ret := []expr.Any{&expr.Verdict{Kind: expr.VerdictReturn}}
	rules := [][]expr.Any{
		join(linkField(6, 6, expr.CmpOpNeq, mac), drop),
		join(etherType(etherTypeARP), networkField(8, 6, expr.CmpOpNeq, mac), drop),
		join(etherType(etherTypeARP), networkField(14, 4, expr.CmpOpNeq, ip.AsSlice()), drop),
		join(etherType(etherTypeIPv4), networkField(12, 4, expr.CmpOpNeq, ip.AsSlice()), drop),
		join(etherType(etherTypeIPv4), ret),
		join(etherType(etherTypeARP), ret),
		join(etherType(etherTypeIPv6), ret),
		drop,
	}
	for _, r := range rules {
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r})
	}
	c.AddRule(&nftables.Rule{Table: t, Chain: &nftables.Chain{Name: guardChain, Table: t},
		Exprs:    join(iifname(veth), []expr.Any{&expr.Verdict{Kind: expr.VerdictJump, Chain: veth}}),
		UserData: userdata.AppendString(nil, userdata.TypeComment, guardComment(veth))})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("guard %s against spoofing: %w", veth, err)
	}
	return nil
}

func guardComment(veth string) string { return "podbox veth=" + veth }

// unguard removes veth's jump and chain; none, or no table, is fine.
//
// Equivalent to: nft delete rule bridge TABLE prerouting handle H; nft delete chain bridge TABLE VETH
func (f *firewall) unguard(veth string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	t := f.bridgeTable()
	rules, err := c.GetRules(t, &nftables.Chain{Name: guardChain, Table: t})
	if err != nil {
		if _, terr := c.ListTableOfFamily(t.Name, t.Family); errors.Is(terr, unix.ENOENT) {
			return nil
		}
		return fmt.Errorf("list nftables chain bridge %s %s: %w", t.Name, guardChain, err)
	}
	n := 0
	for _, r := range rules {
		if comment, _ := userdata.GetString(r.UserData, userdata.TypeComment); comment == guardComment(veth) {
			if err := c.DelRule(r); err != nil {
				return err
			}
			n++
		}
	}
	chains, err := c.ListChainsOfTableFamily(t.Family)
	if err != nil {
		return fmt.Errorf("list nftables chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name == t.Name && ch.Name == veth {
			c.FlushChain(ch)
			c.DelChain(ch)
			n++
		}
	}
	if n == 0 {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("remove the spoofing guard of %s: %w", veth, err)
	}
	return nil
}

// removeGuards deletes the bridge table; a missing table is not an error.
//
// Equivalent to: nft delete table bridge TABLE
func (f *firewall) removeGuards() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	c.DelTable(f.bridgeTable())
	if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("delete nftables table bridge %q: %w", f.table.Name, err)
	}
	return nil
}

// etherType matches the frame's Ethernet type: "ether type arp".
func etherType(t uint16) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: 12, Len: 2},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(t)},
	}
}

// linkField compares len bytes at offset of the Ethernet header with v
// ("ether saddr != MAC": offset 6).
func linkField(offset, length uint32, op expr.CmpOp, v []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseLLHeader, Offset: offset, Len: length},
		&expr.Cmp{Op: op, Register: 1, Data: v},
	}
}

// networkField compares len bytes at offset of the network header (the ARP
// or IP header) with v: ARP sender MAC at 8, sender IP at 14; IPv4 saddr 12.
func networkField(offset, length uint32, op expr.CmpOp, v []byte) []expr.Any {
	return []expr.Any{
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: length},
		&expr.Cmp{Op: op, Register: 1, Data: v},
	}
}
