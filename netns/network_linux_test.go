package netns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/namespaces"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// testNetwork returns a Network whose every host-visible name carries the
// hex of testutil.Prefix(t) (bridge "pbb<hex>", veths "pv<hex>...", table
// and state dir "podbox-t<hex>") on a free 10.89.X.0/24, and removes it in
// t.Cleanup, failing the test if any of it is left.
func testNetwork(t testing.TB) *Network {
	t.Helper()
	prefix := testutil.Prefix(t)
	hx := strings.TrimPrefix(prefix, "podbox-t")
	dir := filepath.Join(os.TempDir(), prefix)
	cfg := Config{
		Bridge:     "pbb" + hx,
		VethPrefix: "pv" + hx,
		Subnet:     freeSubnet(t, hx),
		StateDir:   filepath.Join(dir, "net"),
		Table:      prefix,
	}
	n, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Pods the test left attached are detached as the sandbox would.
		if err := n.Reclaim(func(string) bool { return false }); err != nil {
			t.Errorf("Reclaim: %v", err)
		}
		if err := n.Remove(); err != nil {
			t.Errorf("Remove: %v", err)
		}
		os.RemoveAll(dir)
		assertNoLinks(t, cfg.Bridge, cfg.VethPrefix)
		c, _ := nftables.New()
		for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyBridge} {
			if _, err := c.ListTableOfFamily(cfg.Table, fam); !errors.Is(err, unix.ENOENT) {
				t.Errorf("nftables table %s (family %d) still there (or cannot tell: %v)", cfg.Table, fam, err)
			}
		}
	})
	return n
}

// freeSubnet picks 10.89.X.0/24, X from the test's hex, that no route of
// the host overlaps.
func freeSubnet(t testing.TB, hx string) string {
	t.Helper()
	seed, _ := strconv.ParseUint(hx, 16, 32)
	routes, err := netlink.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for i := range uint64(256) {
		p := netip.MustParsePrefix(fmt.Sprintf("10.89.%d.0/24", (seed+i)%256))
		free := true
		for _, r := range routes {
			if r.Dst == nil {
				continue
			}
			ones, _ := r.Dst.Mask.Size()
			a, _ := netip.AddrFromSlice(r.Dst.IP.To4())
			if ones > 0 && netip.PrefixFrom(a, ones).Overlaps(p) {
				free = false
			}
		}
		if free {
			return p.String()
		}
	}
	t.Fatal("no free 10.89.X.0/24")
	return ""
}

// assertNoLinks fails t when a link named bridge, or starting with
// vethPrefix, is still there after the kernel has had time to finish
// removing the veths of released namespaces (it does so asynchronously).
func assertNoLinks(t testing.TB, bridge, vethPrefix string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		left := ourLinks(t, bridge, vethPrefix)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("links left behind: %v", left)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ourLinks(t testing.TB, bridge, vethPrefix string) []string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range links {
		if name := l.Attrs().Name; name == bridge || strings.HasPrefix(name, vethPrefix) {
			out = append(out, name)
		}
	}
	return out
}

// testPod is a throwaway pod sandbox: a sleep process in fresh network and
// IPC namespaces, both pinned.
type testPod struct {
	name         string
	netns, ipcns string
	cmd          *exec.Cmd
	once         sync.Once
}

func newTestPod(t testing.TB, n *Network, name string) *testPod {
	t.Helper()
	cmd := exec.Command("sleep", "600")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET | syscall.CLONE_NEWIPC}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(filepath.Dir(n.Config().StateDir), "pods", name)
	p := &testPod{name: name, netns: filepath.Join(dir, "net"), ipcns: filepath.Join(dir, "ipc"), cmd: cmd}
	t.Cleanup(p.release)
	for kind, path := range map[string]string{"net": p.netns, "ipc": p.ipcns} {
		if err := namespaces.Pin(cmd.Process.Pid, kind, path); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// release ends the pod's namespaces as the sandbox does: unpin, kill the
// last holder and reap it.
func (p *testPod) release() {
	p.once.Do(func() {
		namespaces.Unpin(p.netns)
		namespaces.Unpin(p.ipcns)
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
}

// nsenter runs busybox applet args in the pod's network namespace.
func (p *testPod) nsenter(args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + p.netns, "busybox"}, args...)...)
}

// serveHTTP starts busybox httpd on port in the pod, serving a page that
// names the pod, and waits until the host can fetch it.
func serveHTTP(t *testing.T, p *testPod, ip netip.Addr, port int) {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte("hello from "+p.name+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := p.nsenter("httpd", "-f", "-p", strconv.Itoa(port), "-h", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	url := fmt.Sprintf("http://%s/", netip.AddrPortFrom(ip, uint16(port)))
	deadline := time.Now().Add(5 * time.Second)
	for {
		body, err := httpGet(url)
		if err == nil && body == "hello from "+p.name+"\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("httpd in pod %s not reachable at %s: %v %q", p.name, url, err, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var httpClient = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}

func httpGet(url string) (string, error) {
	resp, err := httpClient.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// wget fetches url from inside pod p. (Debian's busybox 1.35 wget
// crashes with -T, hence the context.)
func wget(p *testPod, url string) (string, error) {
	return wgetTimeout(p, url, 5*time.Second)
}

func wgetTimeout(p *testPod, url string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := p.nsenter("wget", "-q", "-O", "-", url)
	cmd = exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// freePort returns a TCP port nothing on the host listens on right now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func mustAttach(t testing.TB, n *Network, p *testPod) *Attachment {
	t.Helper()
	a, err := n.Attach(context.Background(), p.name, p.netns)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAttachReachableFromHostAndPods(t *testing.T) {
	testutil.RequiresRoot(t)
	n := testNetwork(t)
	p1, p2 := newTestPod(t, n, "web"), newTestPod(t, n, "client")
	a1, a2 := mustAttach(t, n, p1), mustAttach(t, n, p2)
	if a1.IP == a2.IP || !a1.Subnet.Contains(a1.IP) || a1.Gateway != n.Gateway() || len(a1.MAC) != 6 {
		t.Fatalf("attachments: %+v %+v", a1, a2)
	}

	// In the pod: eth0 with the address, lo up, default route via the gateway.
	out, err := exec.Command("nsenter", "--net="+p1.netns, "ip", "-o", "addr", "show").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "eth0    inet "+a1.IP.String()+"/24") || !strings.Contains(string(out), "lo    inet 127.0.0.1/8") {
		t.Errorf("pod addresses: %v\n%s", err, out)
	}
	out, err = exec.Command("nsenter", "--net="+p1.netns, "ip", "route", "show", "default").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "default via "+a1.Gateway.String()+" dev eth0") {
		t.Errorf("pod default route: %v\n%s", err, out)
	}

	// Host to pod.
	serveHTTP(t, p1, a1.IP, 8080)
	// Pod to pod, over the bridge.
	url := fmt.Sprintf("http://%s:8080/", a1.IP)
	if body, err := wget(p2, url); err != nil || body != "hello from web\n" {
		t.Fatalf("pod to pod %s: %v %q", url, err, body)
	}
	// Pod to the bridge (the gateway address answers).
	if out, err := p2.nsenter("ping", "-c", "1", "-W", "2", a1.Gateway.String()).CombinedOutput(); err != nil {
		t.Errorf("ping gateway from pod: %v\n%s", err, out)
	}

	if _, err := n.Attach(context.Background(), p1.name, p1.netns); !errors.Is(err, ErrExist) {
		t.Errorf("second Attach of a pod: %v, want ErrExist", err)
	}
	// The failed second Attach must not have hurt the first.
	if body, err := httpGet(url); err != nil || body != "hello from web\n" {
		t.Errorf("after a refused Attach: %v %q", err, body)
	}
}

func TestHostPort(t *testing.T) {
	testutil.RequiresRoot(t)
	n := testNetwork(t)
	web, client := newTestPod(t, n, "web"), newTestPod(t, n, "client")
	a := mustAttach(t, n, web)
	mustAttach(t, n, client)
	serveHTTP(t, web, a.IP, 8080)

	hp := freePort(t)
	ports := []PortMapping{{HostPort: uint16(hp), ContainerPort: 8080}, {HostPort: uint16(hp), ContainerPort: 8080, Protocol: "UDP"}}
	if err := n.PublishPorts(web.name, ports); err != nil {
		t.Fatal(err)
	}
	const want = "hello from web\n"
	local := fmt.Sprintf("http://127.0.0.1:%d/", hp)
	gw := fmt.Sprintf("http://%s:%d/", n.Gateway(), hp)
	if body, err := httpGet(local); err != nil || body != want {
		t.Errorf("host to %s: %v %q", local, err, body)
	}
	if body, err := httpGet(gw); err != nil || body != want {
		t.Errorf("host to %s: %v %q", gw, err, body)
	}
	if body, err := wget(client, gw); err != nil || body != want {
		t.Errorf("other pod to %s: %v %q", gw, err, body)
	}
	if body, err := wget(web, gw); err != nil || body != want {
		t.Errorf("pod to its own hostPort (hairpin) %s: %v %q", gw, err, body)
	}

	// Another pod may not take the same host port.
	if err := n.PublishPorts(client.name, ports[:1]); !errors.Is(err, ErrPortConflict) {
		t.Errorf("publishing a taken host port: %v, want ErrPortConflict", err)
	}
	if err := n.PublishPorts("nobody", ports[1:]); !errors.Is(err, ErrNotExist) {
		t.Errorf("publishing for a pod without lease: %v, want ErrNotExist", err)
	}

	// Republishing replaces: now only 127.0.0.1 (hostIP honoured).
	ports = []PortMapping{{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: uint16(hp), ContainerPort: 8080}}
	if err := n.PublishPorts(web.name, ports); err != nil {
		t.Fatal(err)
	}
	if got := podRules(t, n, web.name); len(got) != 1 {
		t.Errorf("after republishing: %d rules of the pod, want 1", len(got))
	}
	if body, err := httpGet(local); err != nil || body != want {
		t.Errorf("host to %s with hostIP 127.0.0.1: %v %q", local, err, body)
	}
	if body, err := wget(client, gw); err == nil {
		t.Errorf("pod to %s reached the pod although hostIP is 127.0.0.1: %q", gw, body)
	}

	if err := n.UnpublishPorts(web.name); err != nil {
		t.Fatal(err)
	}
	checkLoopbackGuard(t, n, client)
	if body, err := httpGet(local); err == nil {
		t.Errorf("after UnpublishPorts, %s still answers %q", local, body)
	}
	if got := podRules(t, n, web.name); len(got) != 0 {
		t.Errorf("after UnpublishPorts: %d rules left", len(got))
	}
}

// checkLoopbackGuard checks that a pod cannot reach a host service bound
// to a loopback address through the bridge, although route_localnet is on
// there for hostPorts (CVE-2020-8558). The pod is made to try: its own
// route_localnet on, a route to 127.1.2.3 via the gateway.
func checkLoopbackGuard(t *testing.T, n *Network, p *testPod) {
	t.Helper()
	l, err := net.Listen("tcp", "127.1.2.3:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "host loopback\n") }))
	script := fmt.Sprintf("echo 1 > /proc/sys/net/ipv4/conf/eth0/route_localnet && ip route add 127.1.2.3/32 via %s dev eth0", n.Gateway())
	if out, err := p.nsenter("sh", "-c", script).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v %s", script, err, out)
	}
	url := "http://" + l.Addr().String() + "/"
	if body, err := httpGet(url); err != nil || body != "host loopback\n" {
		t.Fatalf("host to its own %s: %v %q", url, err, body)
	}
	if body, err := wgetTimeout(p, url, 2*time.Second); err == nil {
		t.Errorf("pod reached the host's %s through the bridge: %q", url, body)
	}
}

// podRules lists the hostports rules of pod.
func podRules(t testing.TB, n *Network, pod string) []hostPortRule {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	all, err := n.fw.hostPorts(c)
	if err != nil {
		t.Fatal(err)
	}
	var out []hostPortRule
	for _, r := range all {
		if r.pod == pod {
			out = append(out, r)
		}
	}
	return out
}

// allRules counts every rule of every chain of the network's table, by chain.
func allRules(t testing.TB, n *Network) map[string]int {
	t.Helper()
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, ch := range chains {
		if ch.Table.Name != n.Config().Table {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			t.Fatal(err)
		}
		out[ch.Name] = len(rules)
	}
	return out
}

func TestParallelAttachDetach(t *testing.T) {
	testutil.RequiresRoot(t)
	const pods = 32
	n := testNetwork(t)
	// Several Network values share the config, as several processes do:
	// they meet only at the flock and in the kernel.
	nets := []*Network{n}
	for range 3 {
		o, err := New(n.Config())
		if err != nil {
			t.Fatal(err)
		}
		nets = append(nets, o)
	}
	tp := make([]*testPod, pods)
	for i := range tp {
		tp[i] = newTestPod(t, n, fmt.Sprintf("pod-%02d", i))
	}
	atts := make([]*Attachment, pods)
	errs := make([]error, pods)
	var wg sync.WaitGroup
	for i := range tp {
		wg.Go(func() {
			net := nets[i%len(nets)]
			atts[i], errs[i] = net.Attach(context.Background(), tp[i].name, tp[i].netns)
			if errs[i] == nil {
				errs[i] = net.PublishPorts(tp[i].name, []PortMapping{{HostPort: uint16(30000 + i), ContainerPort: 80}})
			}
		})
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for i, a := range atts {
		if errs[i] != nil {
			t.Fatalf("pod %d: %v", i, errs[i])
		}
		if other, dup := seen[a.IP]; dup {
			t.Fatalf("pods %s and %s both got %s", other, a.Pod, a.IP)
		}
		seen[a.IP] = a.Pod
		if _, err := netlink.LinkByName(a.HostVeth); err != nil {
			t.Errorf("host veth of %s: %v", a.Pod, err)
		}
	}
	leases, err := n.Leases()
	if err != nil || len(leases) != pods {
		t.Fatalf("%d leases, %v; want %d", len(leases), err, pods)
	}
	if got := allRules(t, n)[hostportsChain]; got != pods {
		t.Errorf("%d hostport rules, want %d", got, pods)
	}

	// Half the pods are gone before Detach (the usual order: the kernel
	// removes their veths), half are detached while their namespace lives.
	for i := range pods / 2 {
		tp[i].release()
	}
	for i := range tp {
		wg.Go(func() { errs[i] = nets[(i+1)%len(nets)].Detach(context.Background(), tp[i].name) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Detach pod %d: %v", i, err)
		}
	}
	if leases, err := n.Leases(); err != nil || len(leases) != 0 {
		t.Errorf("leases after Detach: %v %v", leases, err)
	}
	if got := allRules(t, n); got[hostportsChain] != 0 {
		t.Errorf("rules after Detach: %v", got)
	}
	// The veths of live namespaces went with Detach, the others go with
	// the kernel's cleanup of their namespace; until then they are down.
	for _, a := range atts[pods/2:] {
		if _, err := netlink.LinkByName(a.HostVeth); err == nil {
			t.Errorf("veth %s of a live namespace left after Detach", a.HostVeth)
		}
	}
	for _, a := range atts[:pods/2] {
		if l, err := netlink.LinkByName(a.HostVeth); err == nil && l.Attrs().Flags&net.FlagUp != 0 {
			t.Errorf("veth %s of a released namespace still up after Detach", a.HostVeth)
		}
	}
	assertNoLinks(t, "", n.Config().VethPrefix)
	// Detach is idempotent.
	if err := n.Detach(context.Background(), tp[0].name); err != nil {
		t.Errorf("second Detach: %v", err)
	}
}

func TestReclaim(t *testing.T) {
	testutil.RequiresRoot(t)
	n := testNetwork(t)
	dead, live := newTestPod(t, n, "crashed"), newTestPod(t, n, "alive")
	ad := mustAttach(t, n, dead)
	al := mustAttach(t, n, live)
	if err := n.PublishPorts(dead.name, []PortMapping{{HostPort: 31001, ContainerPort: 80}}); err != nil {
		t.Fatal(err)
	}
	// The crash: the pod's processes and pins are gone, nobody called Detach.
	dead.release()
	if _, err := n.Lease(dead.name); err != nil {
		t.Fatalf("lease of the crashed pod before Reclaim: %v", err)
	}
	if err := n.Reclaim(func(pod string) bool { return pod == live.name }); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Lease(dead.name); !errors.Is(err, ErrNotExist) {
		t.Errorf("lease of the crashed pod after Reclaim: %v", err)
	}
	if l, err := n.Lease(live.name); err != nil || l.IP != al.IP {
		t.Errorf("lease of the live pod after Reclaim: %+v %v", l, err)
	}
	if r := podRules(t, n, dead.name); len(r) != 0 {
		t.Errorf("%d hostport rules of the crashed pod left", len(r))
	}
	if l, err := netlink.LinkByName(ad.HostVeth); err == nil && l.Attrs().Flags&net.FlagUp != 0 {
		t.Errorf("veth %s of the crashed pod is still up", ad.HostVeth)
	}
	// Its address is free again, though not handed out at once.
	p3 := newTestPod(t, n, "next")
	if a := mustAttach(t, n, p3); a.IP == ad.IP || a.IP == al.IP {
		t.Errorf("new pod got %s; crashed had %s, live has %s", a.IP, ad.IP, al.IP)
	}
}

func TestAttachFailureLeavesNothing(t *testing.T) {
	testutil.RequiresRoot(t)
	n := testNetwork(t)
	p := newTestPod(t, n, "busy")
	// eth0 taken inside the pod: the veth peer cannot be created.
	if out, err := exec.Command("nsenter", "--net="+p.netns, "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth1").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if _, err := n.Attach(context.Background(), p.name, p.netns); err == nil {
		t.Fatal("Attach succeeded with eth0 taken")
	}
	if leases, _ := n.Leases(); len(leases) != 0 {
		t.Errorf("leases after a failed Attach: %v", leases)
	}
	if _, err := netlink.LinkByName(n.HostVeth(p.name)); err == nil {
		t.Errorf("veth left after a failed Attach")
	}
	if _, err := n.Attach(context.Background(), "x", "/nonexistent"); err == nil {
		t.Error("Attach to a missing namespace succeeded")
	}
}

func TestApplySysctls(t *testing.T) {
	testutil.RequiresRoot(t)
	n := testNetwork(t)
	p := newTestPod(t, n, "tuned")
	mustAttach(t, n, p)
	hostPortStart, _ := os.ReadFile("/proc/sys/net/ipv4/ip_unprivileged_port_start")
	hostShmmni, _ := os.ReadFile("/proc/sys/kernel/shmmni")

	err := ApplySysctls(p.netns, p.ipcns, []Sysctl{
		{Name: "net.ipv4.ip_unprivileged_port_start", Value: "80"},
		{Name: "net/ipv4/conf/eth0/arp_ignore", Value: "1"}, // slash form, an interface of the pod
		{Name: "kernel.shmmni", Value: "1234"},
	})
	if err != nil {
		t.Fatal(err)
	}
	read := func(flag, file string) string {
		out, err := exec.Command("nsenter", flag, "cat", "/proc/sys/"+file).CombinedOutput()
		if err != nil {
			t.Fatalf("%s cat %s: %v %s", flag, file, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := read("--net="+p.netns, "net/ipv4/ip_unprivileged_port_start"); got != "80" {
		t.Errorf("pod ip_unprivileged_port_start = %s, want 80", got)
	}
	if got := read("--net="+p.netns, "net/ipv4/conf/eth0/arp_ignore"); got != "1" {
		t.Errorf("pod eth0 arp_ignore = %s, want 1", got)
	}
	if got := read("--ipc="+p.ipcns, "kernel/shmmni"); got != "1234" {
		t.Errorf("pod kernel.shmmni = %s, want 1234", got)
	}
	// The host is untouched, on this thread and any other.
	for file, want := range map[string][]byte{"net/ipv4/ip_unprivileged_port_start": hostPortStart, "kernel/shmmni": hostShmmni} {
		if got, _ := os.ReadFile("/proc/sys/" + file); string(got) != string(want) {
			t.Errorf("host %s changed: %q -> %q", file, want, got)
		}
	}

	err = ApplySysctls(p.netns, p.ipcns, []Sysctl{{Name: "kernel.pid_max", Value: "4194304"}})
	if !errors.Is(err, ErrNotNamespaced) || !strings.Contains(err.Error(), "kernel.pid_max") {
		t.Errorf("kernel.pid_max: %v, want a refusal naming the key", err)
	}
}
