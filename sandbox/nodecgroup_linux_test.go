package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/testutil"
)

// cgroupFile reads an interface file of the cgroup at path (absolute, such as
// "/podbox-t1/web/app") in the v2 hierarchy or in the v1 hierarchy named
// controller; "" when the file does not exist.
func cgroupFile(t *testing.T, controller, path, file string) string {
	t.Helper()
	dir := filepath.Join("/sys/fs/cgroup", path)
	if !cgroups.IsV2() {
		dir = filepath.Join("/sys/fs/cgroup", controller, path)
	}
	b, err := os.ReadFile(filepath.Join(dir, file))
	if os.IsNotExist(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestSwapFencedAsTheKubelet checks the kubelet's NoSwap on both layouts: on
// v2 memory.swap.max 0 on the pod and each container cgroup, and
// memory.oom.group 1 on each container; on v1 a memory+swap limit equal to
// the container's memory limit. With AllowSwap none of the swap settings.
func TestSwapFencedAsTheKubelet(t *testing.T) {
	e := newTestEnv(t)
	const mi = 1 << 20
	app := e.container("app", "sleep", "3600")
	app.MemoryLimit = 48 * mi
	fenced := e.run(&PodConfig{Name: "fenced", Containers: []ContainerConfig{app}})
	e.m.opts.AllowSwap = true
	swapping := e.run(&PodConfig{Name: "swapping", Containers: []ContainerConfig{app}})
	e.m.opts.AllowSwap = false

	if cgroups.IsV2() {
		if cgroupFile(t, "", fenced.CgroupPath, "memory.swap.max") == "" {
			t.Fatal("no memory.swap.max: this kernel does not account swap")
		}
		for _, tc := range []struct {
			path, file, want string
		}{
			{fenced.CgroupPath, "memory.swap.max", "0"},
			{fenced.Containers[0].CgroupPath, "memory.swap.max", "0"},
			{fenced.Containers[0].CgroupPath, "memory.oom.group", "1"},
			{fenced.Containers[0].CgroupPath, "memory.max", strconv.Itoa(48 * mi)},
			{swapping.CgroupPath, "memory.swap.max", "max"},
			{swapping.Containers[0].CgroupPath, "memory.swap.max", "max"},
			{swapping.Containers[0].CgroupPath, "memory.oom.group", "1"},
		} {
			if got := cgroupFile(t, "", tc.path, tc.file); got != tc.want {
				t.Errorf("%s/%s = %q, want %q", tc.path, tc.file, got, tc.want)
			}
		}
		return
	}
	memsw := cgroupFile(t, "memory", fenced.Containers[0].CgroupPath, "memory.memsw.limit_in_bytes")
	if memsw == "" {
		t.Skip("no memory.memsw.* here: the kernel does not account swap, nothing to fence")
	}
	if memsw != strconv.Itoa(48*mi) {
		t.Errorf("fenced container memory.memsw.limit_in_bytes = %s, want %d (its memory limit)", memsw, 48*mi)
	}
	if got := cgroupFile(t, "memory", swapping.Containers[0].CgroupPath, "memory.memsw.limit_in_bytes"); got == strconv.Itoa(48*mi) {
		t.Errorf("with AllowSwap the container's memory+swap limit is still its memory limit")
	}
}

// TestOOMKillTakesTheWholeContainer: with memory.oom.group, the OOM kill of
// one process of a container ends every process of it, as on a Kubernetes
// node with cgroup v2; the container is reported OOMKilled, once. Its
// neighbour in the pod is not touched.
func TestOOMKillTakesTheWholeContainer(t *testing.T) {
	testutil.RequiresRoot(t)
	testutil.RequiresCgroup2(t)
	e := newTestEnv(t)
	const mi = 1 << 20
	// The shell keeps running beside dd unless the whole container goes:
	// the kernel alone would kill only dd, the largest process.
	two := e.container("two", "sh", "-c", "mkfifo /tmp/f; sleep 3600 </tmp/f & dd if=/dev/zero bs=64M count=1 of=/tmp/f; wait")
	two.MemoryLimit = 32 * mi
	st := e.run(&PodConfig{Name: "group", RestartPolicy: RestartNever,
		Containers: []ContainerConfig{two, e.container("neighbour", "sleep", "3600")}})

	var got *ContainerStatus
	waitFor(t, 60*time.Second, "the container to terminate", func() bool {
		s, err := e.m.Status(context.Background(), "group")
		if err != nil {
			t.Fatal(err)
		}
		st = s
		got = &s.Containers[0]
		return got.State == StateTerminated
	})
	if got.Reason != ReasonOOMKilled || got.ExitCode != 137 || got.RestartCount != 0 {
		t.Errorf("container ended with exit %d, reason %q, %d restarts; want 137 OOMKilled, 0", got.ExitCode, got.Reason, got.RestartCount)
	}
	if procs := cgroupFile(t, "", got.CgroupPath, "cgroup.procs"); procs != "" {
		t.Errorf("processes left in the OOM-killed container's cgroup: %q", procs)
	}
	if n := st.Containers[1]; n.State != StateRunning {
		t.Errorf("the neighbour container is %s: the group kill must stay in its container", n.State)
	}
	ev, err := cgroups.LoadPod(st.CgroupPath).MemoryEvents()
	if err != nil {
		t.Fatal(err)
	}
	if ev["oom_kill"] < 1 {
		t.Errorf("pod memory.events oom_kill = %d, want >= 1 (events: %v)", ev["oom_kill"], ev)
	}
	t.Logf("pod memory.events: %v", ev)
}
