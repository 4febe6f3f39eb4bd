package sandbox

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func httpGet(t *testing.T, url string) (string, error) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

func TestPodNetwork(t *testing.T) {
	e := newTestEnv(t)
	www := filepath.Join(e.opts.Root, "www")
	os.MkdirAll(www, 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte("pod page\n"), 0o644)
	hostPort := 20000 + rand.IntN(20000)
	web := e.container("web", "httpd", "-f", "-p", "8080", "-h", "/www")
	web.Mounts = []BindMount{{Source: www, Target: "/www", ReadOnly: true}}
	web.Ports = []Port{{ContainerPort: 8080, HostPort: hostPort}}
	client := e.container("client", "sleep", "3600")
	client.Env = []EnvVar{{Name: "POD_IP", FieldPath: "status.podIP"}, {Name: "POD_NAME", FieldPath: "metadata.name"}}
	st := e.run(&PodConfig{Name: "net", Containers: []ContainerConfig{web, client},
		HostAliases: []HostAlias{{IP: "10.1.2.3", Hostnames: []string{"db.local"}}}})
	if st.PodIP == "" || !strings.HasPrefix(st.PodIP, strings.TrimSuffix(e.opts.Network.Subnet, "0/24")) {
		t.Fatalf("pod IP %q is not in %s", st.PodIP, e.opts.Network.Subnet)
	}

	// From the host, at the pod IP.
	var body string
	waitFor(t, 5*time.Second, "httpd at the pod IP", func() bool {
		var err error
		body, err = httpGet(t, "http://"+st.PodIP+":8080/index.html")
		return err == nil
	})
	if body != "pod page\n" {
		t.Fatalf("GET pod IP: %q", body)
	}
	// Both containers see the same eth0 address: the pod IP.
	for _, c := range []string{"web", "client"} {
		out, code := e.exec("net", c, "ip", "-4", "-o", "addr", "show", "eth0")
		if code != 0 || !strings.Contains(out, "inet "+st.PodIP+"/") {
			t.Errorf("%s: eth0 = %q, want %s", c, out, st.PodIP)
		}
	}
	// hostPort, from the host's loopback.
	body, err := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(hostPort)+"/index.html")
	if err != nil || body != "pod page\n" {
		t.Fatalf("GET 127.0.0.1:%d: %q, %v", hostPort, body, err)
	}
	// The pod's files and field references.
	hosts, _ := e.exec("net", "client", "cat", "/etc/hosts")
	if !strings.Contains(hosts, st.PodIP+"\tnet") || !strings.Contains(hosts, "10.1.2.3\tdb.local") {
		t.Errorf("/etc/hosts:\n%s", hosts)
	}
	if out, _ := e.exec("net", "client", "cat", "/etc/hostname"); out != "net\n" {
		t.Errorf("/etc/hostname = %q", out)
	}
	if out, _ := e.exec("net", "client", "sh", "-c", "echo $POD_IP $POD_NAME"); out != st.PodIP+" net\n" {
		t.Errorf("field refs = %q", out)
	}

	// A second pod reaches the first over the bridge.
	other := e.run(&PodConfig{Name: "other", Containers: []ContainerConfig{e.container("c", "sleep", "3600")}})
	if other.PodIP == st.PodIP {
		t.Fatalf("two pods share IP %s", st.PodIP)
	}
	out, code := e.exec("other", "c", "wget", "-q", "-O", "-", "http://"+st.PodIP+":8080/index.html")
	if code != 0 || out != "pod page\n" {
		t.Errorf("pod to pod: %q (exit %d)", out, code)
	}

	// Removal releases the veth and the lease; the IP is free again.
	veth := st.HostVeth
	if err := e.m.Remove(context.Background(), "net", true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 2*time.Second, "the veth to go", func() bool {
		_, err := os.Stat("/sys/class/net/" + veth)
		return os.IsNotExist(err)
	})
	if leases, _ := e.m.net.Leases(); len(leases) != 1 {
		t.Errorf("leases after removing one of two pods: %v", leases)
	}
	if _, err := httpGet(t, "http://127.0.0.1:"+strconv.Itoa(hostPort)+"/"); err == nil {
		t.Errorf("the hostPort still answers after removal")
	}
}

func TestHostNetwork(t *testing.T) {
	e := newTestEnv(t)
	c := e.container("c", "sleep", "3600")
	c.CPULimitMillis = 500
	st := e.run(&PodConfig{Name: "hostnet", HostNetwork: true, Containers: []ContainerConfig{c}})
	// The CPU limit is a CFS quota on the container's cgroup (v1 or v2).
	quota, err := os.ReadFile("/sys/fs/cgroup/cpu" + st.Containers[0].CgroupPath + "/cpu.cfs_quota_us")
	if err != nil {
		quota, err = os.ReadFile("/sys/fs/cgroup" + st.Containers[0].CgroupPath + "/cpu.max")
	}
	if q := strings.Fields(string(quota)); err != nil || len(q) == 0 || q[0] != "50000" {
		t.Errorf("cpu quota of a 500m limit = %q (%v), want 50000 per 100000", quota, err)
	}
	if st.PodIP != "" || st.Namespaces["net"] != "" {
		t.Fatalf("a hostNetwork pod got a network: %+v", st)
	}
	if nsInode(t, st.Containers[0].PID, "net") != nsInode(t, 0, "net") {
		t.Fatalf("the container is not in the host's network namespace")
	}
	if nsInode(t, st.Containers[0].PID, "uts") != nsInode(t, 0, "uts") {
		t.Fatalf("a hostNetwork pod has a UTS namespace of its own (containerd shares the host's)")
	}
	if nsInode(t, st.Containers[0].PID, "ipc") == nsInode(t, 0, "ipc") {
		t.Fatalf("a hostNetwork pod shares the host's IPC namespace")
	}
}
