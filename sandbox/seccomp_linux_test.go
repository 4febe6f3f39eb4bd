package sandbox

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// procStatus reads a field of a host process's /proc/PID/status.
func procStatus(t *testing.T, pid int, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		t.Fatal(err)
	}
	return field(string(b), name)
}

func (e *testEnv) writeProfile(name, body string) {
	e.t.Helper()
	p := filepath.Join(e.opts.SeccompRoot, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

func TestSeccompProfiles(t *testing.T) {
	e := newTestEnv(t)
	e.writeProfile("deny/mkdir.json", `{"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}`)
	def := e.container("default", "sleep", "3600")
	unconfined := e.container("unconfined", "sleep", "3600")
	unconfined.Seccomp = &SeccompProfile{Type: SeccompUnconfined}
	local := e.container("local", "sleep", "3600")
	local.Seccomp = &SeccompProfile{Type: SeccompLocalhost, LocalhostProfile: "deny/mkdir.json"}
	priv := e.container("priv", "sleep", "3600")
	priv.Privileged = true
	st := e.run(&PodConfig{Name: "sec", Containers: []ContainerConfig{def, unconfined, local, priv}})

	want := map[string]struct{ mode, desc string }{
		"default":    {"2", "RuntimeDefault"},
		"unconfined": {"0", "Unconfined"},
		"local":      {"2", "Localhost/deny/mkdir.json"},
		"priv":       {"0", "Unconfined"},
	}
	for _, c := range st.Containers {
		if got := procStatus(t, c.PID, "Seccomp:"); got != want[c.Name].mode {
			t.Errorf("container %s: Seccomp: %s in /proc/PID/status, want %s", c.Name, got, want[c.Name].mode)
		}
		if got := st.containerConfig(c.Name).SeccompDescription(); got != want[c.Name].desc {
			t.Errorf("container %s: seccomp %q, want %q", c.Name, got, want[c.Name].desc)
		}
	}
	// RuntimeDefault refuses a user namespace to a container without
	// CAP_SYS_ADMIN; Unconfined lets it make one.
	out, code := e.exec("sec", "default", "unshare", "-U", "true")
	if code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("unshare -U under RuntimeDefault: exit %d, %q; want EPERM", code, out)
	}
	if out, code := e.exec("sec", "unconfined", "unshare", "-U", "true"); code != 0 {
		t.Errorf("unshare -U when Unconfined: exit %d, %q", code, out)
	}
	// exec runs under the container's filter too.
	if out, _ := e.exec("sec", "default", "grep", "Seccomp:", "/proc/self/status"); !strings.Contains(out, "2") {
		t.Errorf("exec in a RuntimeDefault container: %q, want Seccomp: 2", out)
	}
	out, code = e.exec("sec", "local", "mkdir", "/tmp/d")
	if code == 0 || !strings.Contains(out, "Operation not permitted") {
		t.Errorf("mkdir under a profile that denies it: exit %d, %q", code, out)
	}
	if out, code := e.exec("sec", "local", "touch", "/tmp/f"); code != 0 {
		t.Errorf("touch under a profile that denies only mkdir: exit %d, %q", code, out)
	}
	if out, code := e.exec("sec", "default", "mkdir", "/tmp/d"); code != 0 {
		t.Errorf("mkdir under RuntimeDefault: exit %d, %q", code, out)
	}
}

func TestSeccompProfileRefusedBeforeStart(t *testing.T) {
	e := newTestEnv(t)
	e.writeProfile("bad.json", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [`)
	e.writeProfile("badaction.json", `{"defaultAction": "SCMP_ACT_SOMETIMES"}`)
	for _, tt := range []struct{ file, want string }{
		{"bad.json", "bad.json"},
		{"badaction.json", "badaction.json"},
		{"missing.json", "missing.json: no such file or directory"},
	} {
		c := e.container("c", "sleep", "3600")
		c.Seccomp = &SeccompProfile{Type: SeccompLocalhost, LocalhostProfile: tt.file}
		_, err := e.m.Create(context.Background(), &PodConfig{Name: "refused", Containers: []ContainerConfig{c}})
		if err == nil || !strings.Contains(err.Error(), filepath.Join(e.opts.SeccompRoot, tt.want)) {
			t.Errorf("profile %s: error %v, want one naming %s", tt.file, err, filepath.Join(e.opts.SeccompRoot, tt.want))
		}
		if _, err := e.m.Status(context.Background(), "refused"); !errors.Is(err, ErrNotExist) {
			t.Errorf("profile %s: the pod was made: %v", tt.file, err)
		}
	}
}
