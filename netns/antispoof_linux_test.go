package netns

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// forgeEnv carries, to the helper below, the address to claim.
const forgeEnv = "PODBOX_TEST_FORGE_ARP"

// TestHelperForgeARP is not a test: run by forgeARP in a pod's network
// namespace (nsenter --net), it sends from eth0 a gratuitous ARP reply
// claiming the IPv4 address in $PODBOX_TEST_FORGE_ARP for eth0's own MAC,
// as a container with the default NET_RAW can. (The device machine and the
// cgroup v2 VM have no Go toolchain, so the test binary is the program.)
func TestHelperForgeARP(t *testing.T) {
	claim := os.Getenv(forgeEnv)
	if claim == "" {
		t.Skip("helper process")
	}
	if err := sendForgedARP(PodInterface, netip.MustParseAddr(claim)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

func sendForgedARP(ifname string, claim netip.Addr) error {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_ARP)))
	if err != nil {
		return fmt.Errorf("raw socket: %w", err)
	}
	defer unix.Close(fd)
	bcast := net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	var f bytes.Buffer
	f.Write(bcast)                                             // ether daddr
	f.Write(ifi.HardwareAddr)                                  // ether saddr: our own
	binary.Write(&f, binary.BigEndian, uint16(unix.ETH_P_ARP)) // ether type
	binary.Write(&f, binary.BigEndian, []uint16{1, 0x0800})    // Ethernet, IPv4
	f.Write([]byte{6, 4})                                      // address lengths
	binary.Write(&f, binary.BigEndian, uint16(2))              // reply
	f.Write(ifi.HardwareAddr)                                  // sender MAC: ours
	f.Write(claim.AsSlice())                                   // sender IP: the victim's
	f.Write(bcast)                                             // target MAC
	f.Write(claim.AsSlice())                                   // target IP = sender IP: gratuitous
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ARP), Ifindex: ifi.Index, Halen: 6}
	copy(sa.Addr[:], bcast)
	for range 3 {
		if err := unix.Sendto(fd, f.Bytes(), 0, sa); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	return nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// forgeARP runs the helper in p's network namespace.
func forgeARP(t *testing.T, p *testPod, claim netip.Addr) {
	t.Helper()
	cmd := exec.Command("nsenter", "--net="+p.netns, os.Args[0], "-test.run=^TestHelperForgeARP$")
	cmd.Env = append(os.Environ(), forgeEnv+"="+claim.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("forge ARP from %s: %v\n%s", p.name, err, out)
	}
}

// neighbourMAC is the host's neighbour entry for ip on the bridge.
func neighbourMAC(t *testing.T, bridge string, ip netip.Addr) string {
	t.Helper()
	br, err := netlink.LinkByName(bridge)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := netlink.NeighList(br.Attrs().Index, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		if n.IP.Equal(ip.AsSlice()) {
			return n.HardwareAddr.String()
		}
	}
	return ""
}

// ping sends one echo from the host (or, with p, from the pod) to ip.
func ping(p *testPod, ip netip.Addr) error {
	args := []string{"ping", "-c", "1", "-W", "2", ip.String()}
	cmd := exec.Command("busybox", args...)
	if p != nil {
		cmd = p.nsenter(args...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}

// A pod with NET_RAW claims another pod's IP with forged ARP replies: the
// bridge drops them, the host's neighbour entry keeps the victim's MAC and
// the victim stays reachable. Without the guard the same frames do take
// the address over, which shows that the test can fail.
func TestSpoofedARPIsDropped(t *testing.T) {
	n := testNetwork(t)
	victim, attacker := newTestPod(t, n, "victim"), newTestPod(t, n, "attacker")
	av, aa := mustAttach(t, n, victim), mustAttach(t, n, attacker)
	if err := ping(nil, av.IP); err != nil {
		t.Fatal(err)
	}
	if got := neighbourMAC(t, n.cfg.Bridge, av.IP); got != av.MAC.String() {
		t.Fatalf("the host's neighbour entry for %s is %q, want the victim's %s", av.IP, got, av.MAC)
	}
	forgeARP(t, attacker, av.IP)
	// The attacker's echo to the gateway goes after its forged frames down
	// the same path: once it is answered, they have been dealt with.
	if err := ping(attacker, n.Gateway()); err != nil {
		t.Fatal(err)
	}
	if got := neighbourMAC(t, n.cfg.Bridge, av.IP); got != av.MAC.String() {
		t.Errorf("after a forged ARP the host's entry for %s is %q (the attacker is %s), want the victim's %s", av.IP, got, aa.MAC, av.MAC)
	}
	if err := ping(nil, av.IP); err != nil {
		t.Errorf("the victim is not reachable after the forged ARP: %v", err)
	}
	// The control: without the guard the takeover works.
	if err := n.fw.unguard(aa.HostVeth); err != nil {
		t.Fatal(err)
	}
	forgeARP(t, attacker, av.IP)
	deadline := time.Now().Add(5 * time.Second)
	for neighbourMAC(t, n.cfg.Bridge, av.IP) != aa.MAC.String() {
		if time.Now().After(deadline) {
			t.Fatalf("without the guard the forged ARP did not take %s over either: the test can not tell", av.IP)
		}
		forgeARP(t, attacker, av.IP)
	}
}

// The guard goes with the pod: Detach removes its chain and jump, and
// Remove the table.
func TestGuardRemovedWithThePod(t *testing.T) {
	n := testNetwork(t)
	p := newTestPod(t, n, "p")
	a := mustAttach(t, n, p)
	if !hasGuard(t, n, a.HostVeth) {
		t.Fatalf("no spoofing guard for %s after Attach", a.HostVeth)
	}
	p.release()
	if err := n.Detach(t.Context(), "p"); err != nil {
		t.Fatal(err)
	}
	if hasGuard(t, n, a.HostVeth) {
		t.Errorf("the spoofing guard of %s is left after Detach", a.HostVeth)
	}
}

func hasGuard(t *testing.T, n *Network, veth string) bool {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyBridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chains {
		if ch.Table.Name == n.cfg.Table && ch.Name == veth {
			return true
		}
	}
	return false
}
