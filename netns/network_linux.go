package netns

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/namespaces"
)

// Defaults of Config.
const (
	DefaultBridge = "podbox0"
	// DefaultSubnet is one that no common tool takes by default (podman's
	// is 10.88.0.0/16, CRI-O's 10.85.0.0/16, Docker's 172.17.0.0/16,
	// flannel's 10.244.0.0/16, k3s' 10.42.0.0/16); it is checked against
	// the host's routes when the bridge is made.
	DefaultSubnet     = "10.87.0.0/16"
	DefaultVethPrefix = "pbx"
	// NetworksDir holds each network's leases, by bridge name:
	// NetworksDir/<bridge> is the default StateDir. It is the node's, not
	// a state root's: every podbox on the host that uses a bridge shares
	// its allocator, as CNI keeps /var/lib/cni/networks/<network>.
	NetworksDir  = "/run/podbox/networks"
	DefaultTable = "podbox"
)

// PodInterface is the name of the pod's end of its veth pair.
const PodInterface = "eth0"

// Config says where a Network lives on the host. Every name in it is
// host-visible, so tests and parallel installations use their own.
type Config struct {
	Bridge     string // bridge name, default DefaultBridge
	Subnet     string // IPv4 pod subnet, default DefaultSubnet; the gateway is its first host address, on the bridge
	VethPrefix string // host veth names are this plus hex of sha256(pod), 15 bytes in all; default DefaultVethPrefix
	StateDir   string // leases and their lock, default NetworksDir/<Bridge>
	Table      string // nftables table (family ip) holding every rule podbox makes, default DefaultTable
	MTU        int    // of the bridge ports and the pods' eth0; 0 leaves the kernel default (1500)
}

// Network is the pod network of one host: a bridge carrying the subnet's
// gateway address, one veth pair per pod (host end on the bridge, eth0 in
// the pod's network namespace), IP leases persisted under StateDir, and an
// nftables table for masquerade and hostPorts. A Network value is safe for
// concurrent use, and several processes may use the same Config at once:
// leases and table edits are serialised by a flock under StateDir.
//
// What it changes on the host, besides the bridge, veths and the table:
// net.ipv4.ip_forward=1 (pods reach the outside; never set back, other
// software may rely on it) and net.ipv4.conf.BRIDGE.route_localnet=1 (a
// connection to 127.0.0.1:hostPort may be DNATed to a pod; goes away with
// the bridge; the table drops new connections from the bridge to 127.0.0.0/8,
// which route_localnet would otherwise let pods make, CVE-2020-8558). Host
// veths are in hairpin mode, for hosts with br_netfilter loaded.
//
// A pod's network, as the sandbox uses it:
//
//	create: make and pin the pod's network namespace (Pin); a, err := Attach(ctx, pod, pinnedPath)
//	        (the path is recorded in the lease: Detach looks at it);
//	        PublishPorts(pod, ports) if it has hostPorts; ApplySysctls after Attach (net.ipv4.conf.eth0.*
//	        needs eth0); write HostsFile(a.IP, ...) and ResolvConf(...) into the pod's state dir.
//	        On any failure after Attach: Detach.
//	remove: stop the containers and the pause process, Unpin the namespace (the kernel then
//	        removes both veth ends), then Detach(ctx, pod): rules, veth if still there, lease.
//	boot / crash recovery: Reclaim(alive) with the sandbox's own view of which pods exist.
type Network struct {
	cfg   Config
	pool  pool
	store leaseStore
	fw    *firewall

	mu        sync.Mutex
	hostReady bool // bridge, sysctls and table were set up by this value
}

// Attachment is what Attach made for a pod.
type Attachment struct {
	Pod       string
	IP        netip.Addr       // the pod's address, e.g. 10.88.0.2
	Subnet    netip.Prefix     // 10.88.0.0/16
	Gateway   netip.Addr       // the bridge's address and the pod's default route, 10.88.0.1
	Interface string           // PodInterface, in the pod's namespace
	MAC       net.HardwareAddr // of the pod's eth0
	HostVeth  string           // host end, on the bridge
	Bridge    string
	// Warnings are what the network could not use but worked around: torn
	// lease files, whose addresses stay held. For the operator to see.
	Warnings []string
}

// New checks cfg, fills in defaults and returns the Network. It touches
// nothing on the host: the first Attach sets the host up.
func New(cfg Config) (*Network, error) {
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if cfg.Subnet == "" {
		cfg.Subnet = DefaultSubnet
	}
	if cfg.VethPrefix == "" {
		cfg.VethPrefix = DefaultVethPrefix
	}
	if cfg.StateDir == "" {
		cfg.StateDir = filepath.Join(NetworksDir, cfg.Bridge)
	}
	if cfg.Table == "" {
		cfg.Table = DefaultTable
	}
	if err := checkIfName("bridge", cfg.Bridge); err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	if err := checkVethPrefix(cfg.VethPrefix); err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	if strings.HasPrefix(cfg.Bridge, cfg.VethPrefix) && len(cfg.Bridge) == IfNameMax {
		return nil, fmt.Errorf("network config: bridge %q could be taken for a pod veth (prefix %q)", cfg.Bridge, cfg.VethPrefix)
	}
	if cfg.Table == "" || len(cfg.Table) > 255 || strings.ContainsAny(cfg.Table, " \t\n\"") {
		return nil, fmt.Errorf("network config: nftables table %q: want 1-255 characters, no spaces or quotes", cfg.Table)
	}
	if cfg.MTU != 0 && (cfg.MTU < 576 || cfg.MTU > 65535) {
		return nil, fmt.Errorf("network config: MTU %d: want 576-65535", cfg.MTU)
	}
	p, err := newPool(cfg.Subnet)
	if err != nil {
		return nil, fmt.Errorf("network config: %w", err)
	}
	return &Network{
		cfg:   cfg,
		pool:  p,
		store: leaseStore{dir: cfg.StateDir},
		fw:    newFirewall(cfg.Table, cfg.Bridge, p.prefix),
	}, nil
}

// Config returns the configuration with defaults filled in.
func (n *Network) Config() Config { return n.cfg }

// Gateway returns the bridge's address, the pods' default gateway.
func (n *Network) Gateway() netip.Addr { return n.pool.gateway }

// HostVeth returns the name of pod's host-side veth.
func (n *Network) HostVeth(pod string) string { return vethName(n.cfg.VethPrefix, pod) }

// Attach connects the pod whose network namespace is pinned at netnsPath:
// it leases the next free address, creates a veth pair with the host end
// on the bridge and the peer created directly in the pod namespace as eth0,
// gives eth0 the address, brings eth0 and lo up and routes the default via
// the gateway. The pod namespace is configured through a netlink handle
// opened in it; no thread changes namespace. The first Attach of a Network
// value also sets the host up (bridge, sysctls, nftables table), which is
// idempotent and safe against other processes doing the same.
//
// A pod that already holds a lease gets ErrExist. On failure nothing of
// the pod is left behind.
//
// Equivalent to:
//
//	ip link add VETH mtu MTU up master BRIDGE type veth peer name eth0 netns NS; bridge link set dev VETH hairpin on
//	nft add chain bridge TABLE VETH ...; nft add rule bridge TABLE prerouting iifname VETH jump VETH  (see guard)
//	ip -n NS addr add IP/BITS dev eth0; ip -n NS link set eth0 up; ip -n NS link set lo up
//	ip -n NS route add default via GATEWAY
func (n *Network) Attach(ctx context.Context, pod, netnsPath string) (_ *Attachment, retErr error) {
	if err := validatePod(pod); err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attach pod %q: %w", pod, err)
	}
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: open network namespace %q: %w", pod, netnsPath, err)
	}
	defer ns.Close()
	br, err := n.ensureHost()
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: %w", pod, err)
	}
	veth := n.HostVeth(pod)
	var lease Lease
	var warnings []string
	err = n.store.locked(func() error {
		var err error
		lease, err = n.store.allocate(n.pool, Lease{Pod: pod, HostVeth: veth, Netns: netnsPath, Created: time.Now().UTC()})
		all, _ := n.store.list()
		for _, l := range all {
			if l.Torn != "" {
				warnings = append(warnings, l.Torn)
			}
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: %w", pod, err)
	}
	defer func() {
		if retErr != nil {
			n.Detach(context.WithoutCancel(ctx), pod)
		}
	}()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("attach pod %q: %w", pod, err)
	}

	la := netlink.NewLinkAttrs()
	la.Name = veth
	la.MasterIndex = br.Attrs().Index
	la.Flags = net.FlagUp
	la.MTU = n.cfg.MTU
	link := &netlink.Veth{LinkAttrs: la, PeerName: PodInterface, PeerNamespace: netlink.NsFd(int(ns)), PeerMTU: uint32(n.cfg.MTU)}
	err = netlink.LinkAdd(link)
	if errors.Is(err, unix.EEXIST) {
		// The host end of an earlier life of this pod (its lease is gone, or
		// Attach failed after the link). The name is derived from the pod,
		// so it is ours: delete it and try once more.
		if old, lerr := netlink.LinkByName(veth); lerr == nil {
			netlink.LinkDel(old)
			link = &netlink.Veth{LinkAttrs: la, PeerName: PodInterface, PeerNamespace: netlink.NsFd(int(ns)), PeerMTU: uint32(n.cfg.MTU)}
			err = netlink.LinkAdd(link)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: ip link add %s master %s type veth peer name %s netns %s: %w",
			pod, veth, n.cfg.Bridge, PodInterface, netnsPath, err)
	}

	// Hairpin: the host's br_netfilter (bridge-nf-call-iptables=1) DNATs
	// a pod's packet for its own hostPort while bridging it, and the bridge
	// then sends it back out of the port it came in by.
	if err := netlink.LinkSetHairpin(link, true); err != nil {
		return nil, fmt.Errorf("attach pod %q: bridge link set dev %s hairpin on: %w", pod, veth, err)
	}

	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: netlink in %q: %w", pod, netnsPath, err)
	}
	defer h.Close()
	eth, err := h.LinkByName(PodInterface)
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: %s in %q: %w", pod, PodInterface, netnsPath, err)
	}
	// Before the pod's end comes up: from its veth the bridge carries only
	// frames with the pod's own MAC and IP (and ARP sender).
	err = n.store.locked(func() error { return n.fw.guard(veth, eth.Attrs().HardwareAddr, lease.IP) })
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: %w", pod, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: lease.IP.AsSlice(), Mask: net.CIDRMask(n.pool.prefix.Bits(), 32)}}
	if err := h.AddrAdd(eth, addr); err != nil {
		return nil, fmt.Errorf("attach pod %q: ip addr add %s dev %s: %w", pod, addr.IPNet, PodInterface, err)
	}
	if err := h.LinkSetUp(eth); err != nil {
		return nil, fmt.Errorf("attach pod %q: ip link set %s up: %w", pod, PodInterface, err)
	}
	lo, err := h.LinkByName("lo")
	if err == nil {
		err = h.LinkSetUp(lo)
	}
	if err != nil {
		return nil, fmt.Errorf("attach pod %q: ip link set lo up: %w", pod, err)
	}
	route := &netlink.Route{LinkIndex: eth.Attrs().Index, Gw: n.pool.gateway.AsSlice()}
	if err := h.RouteAdd(route); err != nil {
		return nil, fmt.Errorf("attach pod %q: ip route add default via %s: %w", pod, n.pool.gateway, err)
	}
	return &Attachment{
		Warnings:  warnings,
		Pod:       pod,
		IP:        lease.IP,
		Subnet:    n.pool.prefix,
		Gateway:   n.pool.gateway,
		Interface: PodInterface,
		MAC:       eth.Attrs().HardwareAddr,
		HostVeth:  veth,
		Bridge:    n.cfg.Bridge,
	}, nil
}

// Detach undoes Attach and PublishPorts: it deletes the pod's hostPort
// rules, takes care of its host veth and then releases its lease. It is
// idempotent and works whether or not the pod's namespace still exists.
//
// The veth: when the namespace the pod was attached with is no longer
// pinned (the sandbox unpinned it and its processes are gone), the kernel
// deletes both veth ends on its own, asynchronously (10-30 ms later), so
// Detach only sets the host end down (~0.1 ms: the port carries nothing
// from then on, even if a leaked process still holds the namespace).
// Otherwise it deletes the veth (~20-30 ms of RCU waits).
//
// Equivalent to: nft delete rule ... (the pod's hostPorts and spoofing guard); ip link set VETH down or ip link del VETH; rm LEASE
func (n *Network) Detach(ctx context.Context, pod string) error {
	if err := validatePod(pod); err != nil {
		return fmt.Errorf("detach: %w", err)
	}
	var errs []error
	veth := n.HostVeth(pod)
	if err := n.store.locked(func() error { return errors.Join(n.fw.unpublish(pod), n.fw.unguard(veth)) }); err != nil {
		errs = append(errs, err)
	}
	lease, lerr := n.store.find(pod)
	if link, err := netlink.LinkByName(veth); err == nil {
		if lerr == nil && !namespaces.IsPinned(lease.Netns) {
			// The sandbox has released the namespace: the kernel deletes
			// both ends when its cleanup runs (10-30 ms later here). Fence
			// the port now, which is cheap, instead of deleting it, which
			// costs ~20 ms of RCU waits, most of it duplicated work.
			err = netlink.LinkSetDown(link)
		} else {
			err = netlink.LinkDel(link)
		}
		if err != nil && !isLinkGone(err) {
			errs = append(errs, fmt.Errorf("ip link del %s: %w", veth, err))
		}
	} else if !isLinkGone(err) {
		errs = append(errs, fmt.Errorf("ip link show %s: %w", veth, err))
	}
	// The lease goes last and only when the link is gone, so that its
	// address is never handed to a new pod while still in use.
	if len(errs) == 0 {
		err := n.store.locked(func() error {
			l, err := n.store.find(pod)
			if errors.Is(err, ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			return n.store.release(l.IP)
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("detach pod %q: %w", pod, err)
	}
	return nil
}

// PublishPorts makes hostPorts of the attached pod reach its IP: for each
// mapping, traffic to a local address (HostIP if set) on HostPort, from
// outside, from the host itself (127.0.0.1 included) and from pods (the
// pod itself included), is DNATed to podIP:ContainerPort. It replaces the
// pod's earlier mappings atomically; an empty list removes them. A host
// port that another pod publishes is refused with ErrPortConflict.
//
// Equivalent to: nft add rule ip TABLE hostports [ip daddr HOSTIP] meta l4proto PROTO th dport HOSTPORT dnat to IP:PORT
func (n *Network) PublishPorts(pod string, ports []PortMapping) error {
	if err := validatePod(pod); err != nil {
		return fmt.Errorf("publish ports: %w", err)
	}
	if err := validatePorts(ports); err != nil {
		return fmt.Errorf("publish ports of pod %q: %w", pod, err)
	}
	return n.store.locked(func() error {
		l, err := n.store.find(pod)
		if err != nil {
			return fmt.Errorf("publish ports of pod %q: %w", pod, err)
		}
		return n.fw.publish(pod, l.IP, ports)
	})
}

// UnpublishPorts removes the pod's hostPort rules; none is fine.
func (n *Network) UnpublishPorts(pod string) error {
	if err := validatePod(pod); err != nil {
		return fmt.Errorf("unpublish ports: %w", err)
	}
	return n.store.locked(func() error { return n.fw.unpublish(pod) })
}

// Leases lists the leases held, sorted by address.
func (n *Network) Leases() ([]Lease, error) {
	return n.store.list()
}

// Lease returns pod's lease, or an error wrapping ErrNotExist.
func (n *Network) Lease(pod string) (Lease, error) {
	return n.store.find(pod)
}

// Reclaim detaches every pod holding a lease for which alive returns false:
// after a crash or a reboot the sandbox passes its own view of which pods
// exist. It goes on past a failing pod and reports every failure.
func (n *Network) Reclaim(alive func(pod string) bool) error {
	leases, err := n.store.list()
	if err != nil {
		return fmt.Errorf("reclaim leases: %w", err)
	}
	var errs []error
	for _, l := range leases {
		if l.Torn == "" && !alive(l.Pod) {
			if err := n.Detach(context.Background(), l.Pod); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reclaim leases: %w", err)
	}
	return nil
}

// ReclaimUnpinned releases the leases (and hostPort rules) of pods whose
// network namespace is no longer pinned where their lease says: pods taken
// apart, or lost with a reboot or a crash, whichever podbox state root made
// them. A lease being made (its namespace pinned, Attach under way) is kept.
func (n *Network) ReclaimUnpinned() error {
	leases, err := n.store.list()
	if err != nil {
		return fmt.Errorf("reclaim leases: %w", err)
	}
	var errs []error
	for _, l := range leases {
		if l.Netns != "" && !namespaces.IsPinned(l.Netns) {
			if err := n.Detach(context.Background(), l.Pod); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reclaim leases: %w", err)
	}
	return nil
}

// Remove takes the Network off the host: its nftables table, its bridge and
// StateDir. Pods still attached lose their network (their veths go with the
// bridge's ports, not with the pods). For uninstalling and for tests;
// net.ipv4.ip_forward is left as it is. Idempotent.
//
// Equivalent to: nft delete table ip TABLE; nft delete table bridge TABLE; ip link del BRIDGE; rm -rf STATEDIR
func (n *Network) Remove() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hostReady = false
	var errs []error
	if err := errors.Join(n.fw.remove(), n.fw.removeGuards()); err != nil {
		errs = append(errs, err)
	}
	if br, err := netlink.LinkByName(n.cfg.Bridge); err == nil {
		if err := netlink.LinkDel(br); err != nil && !isLinkGone(err) {
			errs = append(errs, fmt.Errorf("ip link del %s: %w", n.cfg.Bridge, err))
		}
	} else if !isLinkGone(err) {
		errs = append(errs, fmt.Errorf("ip link show %s: %w", n.cfg.Bridge, err))
	}
	if err := os.RemoveAll(n.cfg.StateDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("remove network %q: %w", n.cfg.Bridge, err)
	}
	return nil
}

// ensureHost returns the bridge, setting the host up first when this value
// has not yet, or when the bridge has gone since.
func (n *Network) ensureHost() (netlink.Link, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.hostReady {
		br, err := netlink.LinkByName(n.cfg.Bridge)
		if err == nil {
			return br, nil
		}
		if !isLinkGone(err) {
			return nil, fmt.Errorf("ip link show %s: %w", n.cfg.Bridge, err)
		}
	}
	var br netlink.Link
	err := n.store.locked(func() error {
		var err error
		br, err = n.setupHost()
		return err
	})
	if err != nil {
		return nil, err
	}
	n.hostReady = true
	return br, nil
}

// checkRoutes refuses a subnet that overlaps a route of the host's main
// table (the default route aside).
//
// Equivalent to: ip -4 route show table main
func (n *Network) checkRoutes() error {
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("list the host's routes: %w", err)
	}
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		dst, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		p := netip.PrefixFrom(dst, ones).Masked()
		if ones == 0 || !p.Overlaps(n.pool.prefix) {
			continue
		}
		dev := ""
		if l, err := netlink.LinkByIndex(r.LinkIndex); err == nil {
			dev = " dev " + l.Attrs().Name
		}
		return fmt.Errorf("pod subnet %s overlaps the host's route to %s%s: choose a free one (--subnet)", n.pool.prefix, p, dev)
	}
	return nil
}

// setupHost makes the bridge exist, up, with the gateway address and a
// fixed MAC (a bridge without one takes the lowest MAC of its ports, which
// changes as pods come and go and leaves the pods' ARP caches stale), turns
// on forwarding and route_localnet, and ensures the nftables table. Every
// step is idempotent. Call it under the lease lock.
//
// Equivalent to:
//
//	ip link add BRIDGE address MAC type bridge; ip addr replace GATEWAY/BITS dev BRIDGE; ip link set BRIDGE up
//	sysctl -w net.ipv4.ip_forward=1 net.ipv4.conf.BRIDGE.route_localnet=1
func (n *Network) setupHost() (netlink.Link, error) {
	name := n.cfg.Bridge
	br, err := netlink.LinkByName(name)
	if isLinkGone(err) {
		// A new network: its subnet must not take addresses the host
		// already routes elsewhere (another tool's bridge, a VPN, the LAN).
		if err := n.checkRoutes(); err != nil {
			return nil, err
		}
		la := netlink.NewLinkAttrs()
		la.Name = name
		la.HardwareAddr = bridgeMAC(name)
		la.MTU = n.cfg.MTU
		err = netlink.LinkAdd(&netlink.Bridge{LinkAttrs: la})
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("ip link add %s type bridge: %w", name, err)
		}
		br, err = netlink.LinkByName(name)
	}
	if err != nil {
		return nil, fmt.Errorf("ip link show %s: %w", name, err)
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		return nil, fmt.Errorf("link %s is a %s, not a bridge", name, br.Type())
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{IP: n.pool.gateway.AsSlice(), Mask: net.CIDRMask(n.pool.prefix.Bits(), 32)}}
	if err := netlink.AddrReplace(br, addr); err != nil {
		return nil, fmt.Errorf("ip addr replace %s dev %s: %w", addr.IPNet, name, err)
	}
	if err := netlink.LinkSetUp(br); err != nil {
		return nil, fmt.Errorf("ip link set %s up: %w", name, err)
	}
	if err := writeSysctl("net/ipv4/conf/"+name+"/route_localnet", "1"); err != nil {
		return nil, err
	}
	if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	if err := n.fw.ensure(); err != nil {
		return nil, err
	}
	return br, nil
}

// bridgeMAC derives a stable, locally administered unicast MAC from name.
func bridgeMAC(name string) net.HardwareAddr {
	sum := sha256.Sum256([]byte("podbox bridge " + name))
	mac := net.HardwareAddr(sum[:6])
	mac[0] = mac[0]&0xfe | 0x02
	return mac
}

// writeSysctl writes value to /proc/sys/PATH in the caller's namespaces,
// skipping the write when the value is already there.
func writeSysctl(path, value string) error {
	p := "/proc/sys/" + path
	if cur, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(cur)) == value {
		return nil
	}
	if err := os.WriteFile(p, []byte(value), 0o644); err != nil {
		return fmt.Errorf("sysctl %s=%s: %w", strings.ReplaceAll(path, "/", "."), value, err)
	}
	return nil
}

// isLinkGone reports whether err says that a link does not exist.
func isLinkGone(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV) || errors.Is(err, unix.ENOENT)
}
