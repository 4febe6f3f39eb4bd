package sandbox

import (
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/podbox/podbox/cgroups"
)

// HostIP is the host's address on its default route, as a node's
// InternalIP (Kubernetes' status.hostIP); "" when it has none.
func HostIP() string {
	conn, err := net.Dial("udp", "192.0.2.1:9") // no packet is sent: UDP "connect" only picks a route
	if err != nil {
		return ""
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).IP.String()
}

// podIP is the pod's IP; a hostNetwork pod's is the host's, as in
// Kubernetes.
func podIP(st *PodStatus) string {
	if st.PodIP == "" && st.Config.HostNetwork {
		return HostIP()
	}
	return st.PodIP
}

// formatMap writes labels or annotations as the kubelet's downward API
// files hold them: key="value" lines, sorted by key, quoted as Go quotes.
func formatMap(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	lines := make([]string, len(keys))
	for i, k := range keys {
		lines[i] = fmt.Sprintf("%s=%q", k, m[k])
	}
	return strings.Join(lines, "\n")
}

// fieldValue is the value of a downward API field of the pod.
func fieldValue(path string, st *PodStatus) string {
	for _, sub := range []struct {
		prefix string
		m      map[string]string
	}{{"metadata.labels", st.Config.Labels}, {"metadata.annotations", st.Config.Annotations}} {
		if path == sub.prefix {
			return formatMap(sub.m)
		}
		if k, ok := strings.CutPrefix(path, sub.prefix+"['"); ok {
			return sub.m[strings.TrimSuffix(k, "']")]
		}
	}
	switch path {
	case "metadata.name":
		return st.Name
	case "metadata.namespace":
		if st.Config.Namespace == "" {
			return "default"
		}
		return st.Config.Namespace
	case "metadata.uid":
		return st.UID
	case "spec.nodeName":
		h, _ := os.Hostname()
		return h
	case "spec.serviceAccountName":
		return "default" // what admission gives a pod that names none
	case "status.hostIP", "status.hostIPs":
		return HostIP()
	case "status.podIP", "status.podIPs":
		return podIP(st)
	}
	return ""
}

// resourceValue is a container's resource divided by the divisor, rounded
// up, as the kubelet's downward API gives it; a limit that is not set is
// the node's (every CPU; the allocatable memory).
func resourceValue(ref *ResourceFieldRef, st *PodStatus) string {
	c := st.containerConfig(ref.Container)
	if c == nil {
		return ""
	}
	var v int64
	switch ref.Resource {
	case "limits.cpu":
		v = c.CPULimitMillis
		if v == 0 {
			v = int64(runtime.NumCPU()) * 1000
		}
	case "requests.cpu":
		v = c.CPURequestMillis
	case "limits.memory":
		v = c.MemoryLimit
		if v == 0 {
			v, _ = cgroups.DefaultAllocatable()
		}
	case "requests.memory":
		v = c.MemoryRequest
	}
	d := max(ref.Divisor, 1)
	q, r := new(big.Int).QuoRem(big.NewInt(v), big.NewInt(d), new(big.Int))
	if r.Sign() > 0 {
		q.Add(q, big.NewInt(1))
	}
	return q.String()
}

// envValue is a variable's value: literal, or from the pod.
func envValue(v EnvVar, st *PodStatus) string {
	switch {
	case v.FieldPath != "":
		return fieldValue(v.FieldPath, st)
	case v.ResourceField != nil:
		return resourceValue(v.ResourceField, st)
	}
	return v.Value
}

// writeFiles fills a files volume at dir (a fresh tmpfs): each file with
// its mode, in directories of their own; with an fsGroup, given to that
// group and group-readable.
func writeFiles(dir string, fv *FilesVolume, st *PodStatus) error {
	for _, f := range fv.Files {
		data := f.Data
		switch {
		case f.FieldPath != "":
			data = []byte(fieldValue(f.FieldPath, st))
		case f.ResourceField != nil:
			data = []byte(resourceValue(f.ResourceField, st))
		}
		p := filepath.Join(dir, filepath.Clean("/"+f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(f.Mode & 0o777)
		if err := os.WriteFile(p, data, mode); err != nil {
			return err
		}
		if g := st.Config.FSGroup; g != nil {
			mode |= 0o040
			if err := os.Chown(p, -1, int(*g)); err != nil {
				return err
			}
		}
		if err := os.Chmod(p, mode); err != nil { // WriteFile's mode is masked by the umask
			return err
		}
	}
	return nil
}

// filesSize is the size of a files volume's tmpfs: its content and room
// for its inodes.
func filesSize(fv *FilesVolume) int64 {
	n := int64(1 << 20)
	for _, f := range fv.Files {
		n += int64(len(f.Data)) + 4096
	}
	return n
}
