package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// secondRoot is another podbox on the same host as e: a state root, log
// root and image store of its own, but e's bridge, subnet, nftables table
// and cgroup parent, as two users of one node's default network have. Its
// pods are removed before e's cleanup runs.
func (e *env) secondRoot(t *testing.T) *env {
	t.Helper()
	o := &env{t: t, prefix: e.prefix, hex: e.hex, bin: e.bin, root: filepath.Join(e.root, "second"),
		bridge: e.bridge, veth: e.veth, subnet: e.subnet}
	for _, kv := range e.vars {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PODBOX_ROOT", "PODBOX_LOG_ROOT", "PODBOX_IMAGE_ROOT":
			kv = k + "=" + filepath.Join(o.root, strings.ToLower(strings.TrimPrefix(k, "PODBOX_")))
		}
		o.vars = append(o.vars, kv)
	}
	mustPodbox(t, o, "image", "import", "busybox", busyboxTar(t))
	t.Cleanup(func() {
		for _, r := range o.ps(t) {
			podbox(t, o, "rm", "-f", r.Name)
		}
	})
	return o
}

// TestTwoRootsOneNetwork: two podbox state roots on one bridge, each with a
// pod called httpd: distinct IPs, cgroups and veths, both reachable, and
// rm -f in one leaves the other running and reachable.
func TestTwoRootsOneNetwork(t *testing.T) {
	t.Parallel()
	a := newEnvWithBusybox(t)
	b := a.secondRoot(t)
	mustPodbox(t, a, "run", localManifest(t, "httpd.yaml"))
	mustPodbox(t, b, "run", localManifest(t, "httpd.yaml"))
	ia, ib := a.inspect(t, "httpd"), b.inspect(t, "httpd")
	if ia.PodIP == ib.PodIP || ia.Veth == ib.Veth || ia.Cgroup.Path == ib.Cgroup.Path || ia.UID == ib.UID {
		t.Fatalf("two pods share host objects: IPs %s %s, veths %s %s, cgroups %s %s, uids %s %s",
			ia.PodIP, ib.PodIP, ia.Veth, ib.Veth, ia.Cgroup.Path, ib.Cgroup.Path, ia.UID, ib.UID)
	}
	if want := "/" + a.prefix + "/pod" + ia.UID; ia.Cgroup.Path != want {
		t.Errorf("pod cgroup %s, want %s (named from the UID)", ia.Cgroup.Path, want)
	}
	for _, ip := range []string{ia.PodIP, ib.PodIP} {
		fetchEventually(t, 5*time.Second, "http://"+ip+"/", "served by httpd")
	}
	mustPodbox(t, b, "rm", "-f", "httpd")
	if rows := a.ps(t); len(rows) != 1 || rows[0].Phase != "Running" {
		t.Fatalf("the first root's pod after rm -f in the second: %+v", rows)
	}
	fetchEventually(t, 5*time.Second, "http://"+ia.PodIP+"/", "served by httpd")
	if rows := b.ps(t); len(rows) != 0 {
		t.Errorf("the second root still lists %+v", rows)
	}
}

// TestNamespaces: -n scopes every verb; two namespaces hold pods of the
// same name, each with its own UID, IP and cgroup; ps -A shows both.
func TestNamespaces(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := localManifest(t, "httpd.yaml")
	mustPodbox(t, e, "run", m)
	mustPodbox(t, e, "-n", "team", "run", m)
	if rows := e.ps(t); len(rows) != 1 || rows[0].Namespace != "default" {
		t.Errorf("ps in the default namespace: %+v", rows)
	}
	out := mustPodbox(t, e, "ps", "-A")
	if !strings.Contains(out, "NAMESPACE") || !regexp.MustCompile(`(?m)^default\s+httpd\s+Running`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^team\s+httpd\s+Running`).MatchString(out) {
		t.Errorf("ps -A:\n%s", out)
	}
	var team v1.Pod
	if err := json.Unmarshal([]byte(mustPodbox(t, e, "-n", "team", "get", "pod", "httpd", "-o", "json")), &team); err != nil {
		t.Fatal(err)
	}
	def := e.getPod(t, "httpd")
	if team.Namespace != "team" || def.Namespace != "default" || team.UID == def.UID || team.Status.PodIP == def.Status.PodIP {
		t.Errorf("two pods httpd: team %s/%s %s, default %s/%s %s", team.Namespace, team.UID, team.Status.PodIP, def.Namespace, def.UID, def.Status.PodIP)
	}
	if out := mustPodbox(t, e, "exec", "-n", "team", "httpd", "--", "hostname"); out != "httpd\n" {
		t.Errorf("exec in team/httpd: %q", out)
	}
	failPodbox(t, e, 1, []string{`the manifest's namespace "team" does not match -n "other"`},
		"-n", "other", "run", manifest(t, "ns.yaml", strings.Replace(readFile(t, m), "name: httpd", "name: httpd\n  namespace: team", 1)))
	mustPodbox(t, e, "rm", "-n", "team", "-f", "httpd")
	if rows := e.ps(t); len(rows) != 1 || rows[0].Phase != "Running" {
		t.Errorf("the default namespace's httpd after rm -n team: %+v", rows)
	}
	if out := mustPodbox(t, e, "ps", "-A"); strings.Contains(out, "team") {
		t.Errorf("ps -A after rm -n team:\n%s", out)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestTornLeaseSkipped: a lease file that can not be read (a crash, a full
// disk) no longer blocks every later pod: its address stays held, the pod
// gets another, and run says so.
func TestTornLeaseSkipped(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	// The first address of the test's subnet, torn.
	first := strings.TrimSuffix(e.subnet, "0/24") + "2"
	leases := filepath.Join("/run/podbox/networks", e.bridge, "leases")
	if err := os.MkdirAll(leases, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(leases, first), []byte(`{"pod": "half`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := podbox(t, e, "run", localManifest(t, "httpd.yaml"))
	if code != 0 || !strings.Contains(stderr, "warning: lease file "+filepath.Join(leases, first)+" is unreadable") ||
		!strings.Contains(stderr, "address "+first+" is held") {
		t.Fatalf("run with a torn lease: exit %d, stderr %q", code, stderr)
	}
	if ip := e.inspect(t, "httpd").PodIP; ip == first || ip == "" {
		t.Errorf("the pod got %q, the torn lease's address is %s", ip, first)
	}
	mustPodbox(t, e, "rm", "-f", "httpd")
	os.Remove(filepath.Join(leases, first))
}
