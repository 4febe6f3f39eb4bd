package sandbox

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/testutil"
)

// exec runs as the container's process does: its user, groups,
// capabilities, no_new_privs; a missing or non-executable command gives
// 127 or 126 with an error that says why and matches its errdefs class.
func TestExecAsTheContainer(t *testing.T) {
	e := newTestEnv(t)
	uid, gid := int64(1234), int64(5678)
	c := e.container("app", "sleep", "3600")
	c.UID, c.GID = &uid, &gid
	c.SupplementalGroups = []int64{4242}
	c.WorkingDir = "/tmp"
	e.run(&PodConfig{Name: "user", Containers: []ContainerConfig{c}})

	for cmd, want := range map[string]string{"id -u": "1234", "id -g": "5678", "pwd": "/tmp"} {
		if out, code := e.exec("user", "app", "sh", "-c", cmd); code != 0 || strings.TrimSpace(out) != want {
			t.Errorf("exec %s: %q (exit %d), want %s", cmd, out, code, want)
		}
	}
	if out, _ := e.exec("user", "app", "id", "-G"); !strings.Contains(out, "4242") {
		t.Errorf("exec id -G: %q, want 4242 among the groups", out)
	}
	status, _ := e.exec("user", "app", "cat", "/proc/self/status")
	if field(status, "NoNewPrivs:") != "1" || field(status, "Seccomp:") != "2" {
		t.Errorf("exec's process: NoNewPrivs %q, Seccomp %q; want 1 and 2", field(status, "NoNewPrivs:"), field(status, "Seccomp:"))
	}
	// A non-root user keeps no capability, as the container's own process.
	if capEff := field(status, "CapEff:"); mustHex(t, capEff) != 0 {
		t.Errorf("exec as uid 1234 has capabilities %s", capEff)
	}
	for _, tt := range []struct {
		args  []string
		code  int
		msg   string
		class error
	}{
		{[]string{"no-such-command"}, 127, `exec: "no-such-command": executable file not found in $PATH`, errdefs.ErrNotFound},
		{[]string{"/no/such/file"}, 127, "no such file or directory", errdefs.ErrNotFound},
		{[]string{"/etc/passwd"}, 126, "permission denied", errdefs.ErrPermissionDenied},
		{[]string{"/tmp"}, 126, "", errdefs.ErrPermissionDenied},
	} {
		code, err := e.m.Exec(context.Background(), "user", "app", &ExecProcess{Args: tt.args})
		if code != tt.code || err == nil || !strings.Contains(err.Error(), tt.msg) || !errors.Is(err, tt.class) {
			t.Errorf("exec %v: exit %d, %v; want %d and an error %q matching %v", tt.args, code, err, tt.code, tt.msg, tt.class)
		}
	}
}

// Each container sees its own cgroup at /sys/fs/cgroup, read-only: on v1
// through bind mounts of its cgroups (containerd's v1 behaviour, no cgroup
// namespace), on v2 in a cgroup namespace of its own.
func TestContainerSeesItsOwnCgroup(t *testing.T) {
	e := newTestEnv(t)
	c := e.container("app", "sleep", "3600")
	c.MemoryLimit = 64 << 20
	st := e.run(&PodConfig{Name: "cg", Containers: []ContainerConfig{c}})
	limitFile := "/sys/fs/cgroup/memory/memory.limit_in_bytes"
	if cgroups.IsV2() {
		limitFile = "/sys/fs/cgroup/memory.max"
	}
	if out, code := e.exec("cg", "app", "cat", limitFile); code != 0 || strings.TrimSpace(out) != strconv.Itoa(64<<20) {
		t.Errorf("cat %s in the container: %q (exit %d), want its limit %d", limitFile, out, code, 64<<20)
	}
	if out, code := e.exec("cg", "app", "sh", "-c", "echo 1 > "+limitFile); code == 0 {
		t.Errorf("the container could write its cgroup's %s (%q)", limitFile, out)
	}
	hostNS := nsInode(t, 0, "cgroup")
	ctrNS := nsInode(t, st.Containers[0].PID, "cgroup")
	if cgroups.IsV2() {
		if ctrNS == hostNS {
			t.Errorf("on cgroup v2 the container shares the host's cgroup namespace")
		}
		if out, _ := e.exec("cg", "app", "cat", "/proc/self/cgroup"); strings.TrimSpace(out) != "0::/" {
			t.Errorf("/proc/self/cgroup in the container: %q, want 0::/", out)
		}
	} else if ctrNS != hostNS {
		t.Errorf("on cgroup v1 the container has a cgroup namespace of its own; containerd gives none there")
	}
}

func TestCgroupNamespaceOnV2(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresCgroup2(t)
	e := newTestEnv(t)
	st := e.run(&PodConfig{Name: "ns", Containers: []ContainerConfig{e.container("a", "sleep", "3600"), e.container("b", "sleep", "3600")}})
	a, b := nsInode(t, st.Containers[0].PID, "cgroup"), nsInode(t, st.Containers[1].PID, "cgroup")
	if a == b {
		t.Errorf("two containers share a cgroup namespace")
	}
	// exec joins the container's cgroup namespace.
	if out, _ := e.exec("ns", "a", "cat", "/proc/self/cgroup"); strings.TrimSpace(out) != "0::/" {
		t.Errorf("exec: /proc/self/cgroup %q, want 0::/", out)
	}
}

// fsGroup: a non-root container writes the pod's emptyDir through the
// group, its files get that group, and a hostPath is left alone.
func TestFSGroup(t *testing.T) {
	e := newTestEnv(t)
	host := t.TempDir()
	uid, fsGroup := int64(1234), int64(3000)
	c := e.container("app", "sleep", "3600")
	c.UID, c.GID = &uid, &uid
	c.VolumeMounts = []VolumeMount{{Name: "data", Target: "/data"}, {Name: "host", Target: "/host"}}
	e.run(&PodConfig{Name: "fsg", FSGroup: &fsGroup, FSGroupChangePolicy: "OnRootMismatch",
		Volumes: []Volume{
			{Name: "data", EmptyDir: &EmptyDirVolume{}},
			{Name: "host", HostPath: &HostPathVolume{Path: host}},
		},
		Containers: []ContainerConfig{c}})
	if out, _ := e.exec("fsg", "app", "id", "-G"); !strings.Contains(out, "3000") {
		t.Errorf("id -G: %q, want the fsGroup 3000 among the groups", out)
	}
	out, code := e.exec("fsg", "app", "sh", "-c", "mkdir /data/d && echo x > /data/d/f && stat -c %g /data/d/f")
	if code != 0 || strings.TrimSpace(out) != "3000" {
		t.Errorf("write to the emptyDir as uid 1234: %q (exit %d), want a file of group 3000", out, code)
	}
	if out, _ := e.exec("fsg", "app", "stat", "-c", "%g", "/host"); strings.TrimSpace(out) != "0" {
		t.Errorf("the hostPath's group became %q; the kubelet leaves hostPath alone", out)
	}
}
