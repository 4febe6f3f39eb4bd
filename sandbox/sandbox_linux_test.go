package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/namespaces"
)

// nsInode returns the inode of a process's namespace; pid 0 means this
// thread's (not /proc/self's: see mounts.MountsUnder).
func nsInode(t *testing.T, pid int, kind string) uint64 {
	t.Helper()
	p := "/proc/thread-self/ns/" + kind
	if pid != 0 {
		p = "/proc/" + strconv.Itoa(pid) + "/ns/" + kind
	}
	ino, err := namespaces.Inode(p)
	if err != nil {
		t.Fatal(err)
	}
	return ino
}

func TestContainersShareThePodNamespaces(t *testing.T) {
	e := newTestEnv(t)
	shared := filepath.Join(e.opts.Root, "shared")
	if err := os.MkdirAll(shared, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(shared, "index.html"), []byte("hello from web\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	web := e.container("web", "httpd", "-f", "-p", "8080", "-h", "/www")
	web.Mounts = []BindMount{{Source: shared, Target: "/www"}}
	client := e.container("client", "sleep", "3600")
	client.Mounts = []BindMount{{Source: shared, Target: "/data"}}
	client.SupplementalGroups = []int64{4242}
	st := e.run(&PodConfig{Name: "web", Hostname: "webhost", Containers: []ContainerConfig{web, client}})

	if st.Phase != PhaseRunning {
		t.Fatalf("phase = %s, want Running", st.Phase)
	}
	for _, kind := range []string{"net", "ipc", "uts"} {
		want := nsInode(t, st.PausePID, kind)
		pinned, err := namespaces.Inode(st.Namespaces[kind])
		if err != nil || pinned != want {
			t.Fatalf("%s: pinned inode %d (%v), pause %d", kind, pinned, err, want)
		}
		for _, c := range st.Containers {
			if got := nsInode(t, c.PID, kind); got != want {
				t.Errorf("%s: container %s has %s namespace %d, pause has %d", kind, c.Name, kind, got, want)
			}
		}
		if host := nsInode(t, 0, kind); host == want {
			t.Errorf("%s: the pod shares the host's namespace", kind)
		}
	}
	mnt0, mnt1 := nsInode(t, st.Containers[0].PID, "mnt"), nsInode(t, st.Containers[1].PID, "mnt")
	if mnt0 == mnt1 || mnt0 == nsInode(t, 0, "mnt") {
		t.Errorf("mount namespaces are not private: %d, %d", mnt0, mnt1)
	}
	pid0, pid1 := nsInode(t, st.Containers[0].PID, "pid"), nsInode(t, st.Containers[1].PID, "pid")
	if pid0 == pid1 {
		t.Errorf("containers share a PID namespace without shareProcessNamespace")
	}

	// Over the pod's localhost.
	var out string
	waitFor(t, 5*time.Second, "httpd to answer on 127.0.0.1:8080", func() bool {
		var code int
		out, code = e.exec("web", "client", "wget", "-q", "-O", "-", "http://127.0.0.1:8080/index.html")
		return code == 0
	})
	if out != "hello from web\n" {
		t.Fatalf("client fetched %q", out)
	}
	// One hostname for the pod, set in its UTS namespace.
	if out, _ := e.exec("web", "client", "hostname"); strings.TrimSpace(out) != "webhost" {
		t.Errorf("hostname in the pod = %q, want webhost", out)
	}
	if h, _ := os.Hostname(); h == "webhost" {
		t.Errorf("the host was renamed")
	}
	// A file written by one container into the shared directory is read by
	// the other.
	if _, code := e.exec("web", "web", "sh", "-c", "echo written-by-web > /www/note"); code != 0 {
		t.Fatalf("write: exit %d", code)
	}
	if out, _ := e.exec("web", "client", "cat", "/data/note"); out != "written-by-web\n" {
		t.Fatalf("client read %q", out)
	}
	// The image layer is shared read-only; each container writes its own
	// overlay.
	e.exec("web", "web", "sh", "-c", "echo mine > /etc/only-web")
	if _, code := e.exec("web", "client", "cat", "/etc/only-web"); code == 0 {
		t.Errorf("a write to web's root filesystem is visible in client")
	}
	if _, err := os.Stat(filepath.Join(e.rootfs, "etc/only-web")); err == nil {
		t.Errorf("a container wrote into the image directory")
	}
	// Hardening: no CAP_SYS_ADMIN, no_new_privs, masked /proc paths.
	status, _ := e.exec("web", "client", "cat", "/proc/self/status")
	if !strings.Contains(status, "NoNewPrivs:\t1") {
		t.Errorf("no_new_privs is not set:\n%s", status)
	}
	if capEff := field(status, "CapEff:"); capEff == "" || mustHex(t, capEff)&(1<<21) != 0 {
		t.Errorf("CapEff %q includes CAP_SYS_ADMIN", capEff)
	}
	// Masked: /dev/null is mounted over it.
	if out, _ := e.exec("web", "client", "stat", "-c", "%t:%T", "/proc/timer_list"); strings.TrimSpace(out) != "1:3" {
		t.Errorf("/proc/timer_list is not masked (device %q, want /dev/null's 1:3)", out)
	}
	if _, code := e.exec("web", "client", "sh", "-c", "echo 1 > /proc/sys/kernel/domainname"); code == 0 {
		t.Errorf("/proc/sys is writable")
	}
	// Supplemental groups reach the container's process.
	cstatus, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", st.Containers[1].PID))
	if groups := field(string(cstatus), "Groups:"); !strings.Contains(groups, "4242") {
		t.Errorf("client's groups = %q, want 4242 among them", groups)
	}
	// The exit code of exec is the command's.
	if _, code := e.exec("web", "client", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exec exit code = %d, want 7", code)
	}
}

func field(status, name string) string {
	for _, l := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(l, name); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// sigMask is a signal mask line (SigCgt:, SigIgn:) of pid's status.
func sigMask(t *testing.T, pid int, line string) uint64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	return mustHex(t, field(string(b), line))
}

func mustHex(t *testing.T, s string) uint64 {
	v, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestSharedProcessNamespace(t *testing.T) {
	e := newTestEnv(t)
	st := e.run(&PodConfig{Name: "shared", ShareProcessNamespace: true, Containers: []ContainerConfig{
		e.container("a", "sleep", "3600"), e.container("b", "sleep", "3601"),
	}})
	podPID := nsInode(t, st.PausePID, "pid")
	for _, c := range st.Containers {
		if got := nsInode(t, c.PID, "pid"); got != podPID {
			t.Fatalf("container %s is not in the pod's PID namespace", c.Name)
		}
	}
	ps, _ := e.exec("shared", "b", "ps", "-o", "pid,args")
	if !strings.Contains(ps, "sleep 3600") || !strings.Contains(ps, "podbox-pause:") {
		t.Fatalf("b does not see a's process and the pause:\n%s", ps)
	}
	if !regexp.MustCompile(`(?m)^\s*1 .*podbox-pause:`).MatchString(ps) {
		t.Errorf("pause is not PID 1 of the pod:\n%s", ps)
	}
	// Orphans are reparented to the pause (PID 1) and reaped by it.
	if _, code := e.exec("shared", "a", "sh", "-c", "sleep 0.2 & sleep 0.2 & sleep 0.2 & exit 0"); code != 0 {
		t.Fatal("exec failed")
	}
	// Reaped: the sleeps are gone from the PID namespace altogether, not
	// left as zombies. Both looks must find nothing in the same round: a
	// sleep the first catches exiting (its command line gone, not yet a
	// zombie) is a zombie by the second, and is waited for, not taken for
	// one left unreaped.
	deadline := time.Now().Add(testutil.Wait(5 * time.Second))
	for {
		sleeps, z := procsIn(t, podPID, "sleep\x000.2\x00"), zombiesIn(t, podPID)
		if len(sleeps) == 0 && len(z) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphans not reaped: sleeps (or zombies) %v, then zombies %v", sleeps, z)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procsIn lists the processes whose command line is cmdline (NUL-separated
// and -ended as in /proc; a zombie has none left, so it counts whatever its
// command was) in the PID namespace with inode ns.
func procsIn(t *testing.T, ns uint64, cmdline string) []int {
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		if ino, err := namespaces.Inode("/proc/" + ent.Name() + "/ns/pid"); err != nil || ino != ns {
			continue
		}
		b, _ := os.ReadFile("/proc/" + ent.Name() + "/cmdline")
		st, _ := os.ReadFile("/proc/" + ent.Name() + "/status")
		if string(b) == cmdline || strings.Contains(string(st), "State:\tZ") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// zombiesIn lists zombie processes in the PID namespace with inode ns.
func zombiesIn(t *testing.T, ns uint64) []string {
	ents, _ := os.ReadDir("/proc")
	var z []string
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil {
			continue
		}
		ino, err := namespaces.Inode("/proc/" + ent.Name() + "/ns/pid")
		if err != nil || ino != ns {
			continue
		}
		b, _ := os.ReadFile("/proc/" + ent.Name() + "/status")
		if strings.Contains(string(b), "State:\tZ") {
			z = append(z, fmt.Sprint(pid))
		}
	}
	return z
}

// allocator holds about n MiB of anonymous memory until killed: dd reads n
// MiB of zeros into one buffer and blocks writing it to a FIFO nobody reads.
func allocator(n int) []string {
	return []string{"sh", "-c", fmt.Sprintf("mkfifo /tmp/f; sleep 3600 </tmp/f & exec dd if=/dev/zero bs=%dM count=1 of=/tmp/f", n)}
}

func TestPodQuotaOOMKillsOneContainer(t *testing.T) {
	e := newTestEnv(t)
	const mi = 1 << 20
	// A neighbour pod that must not be touched.
	e.run(&PodConfig{Name: "neighbour", Containers: []ContainerConfig{e.container("idle", "sleep", "3600")}})

	// a and b each fit their own limit, but together exceed the pod's
	// quota: b allocates a second after a did.
	a := e.container("a", allocator(30)...)
	a.MemoryLimit = 48 * mi
	b := e.container("b", "sh", "-c", "sleep 1; "+allocator(30)[2])
	b.MemoryLimit = 48 * mi
	st := e.run(&PodConfig{Name: "quota", MemoryLimit: 48 * mi, RestartPolicy: RestartNever, Containers: []ContainerConfig{a, b}})
	pod := cgroups.LoadPod(st.CgroupPath)

	var killed *ContainerStatus
	waitFor(t, 15*time.Second, "a container to be OOM-killed", func() bool {
		s, err := e.m.Status(context.Background(), "quota")
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range s.Containers {
			if c.State == StateTerminated {
				killed = &s.Containers[i]
				return true
			}
		}
		return false
	})
	if killed.Reason != ReasonOOMKilled || killed.ExitCode != 137 {
		t.Fatalf("container %s ended with exit %d, reason %q; want 137 OOMKilled", killed.Name, killed.ExitCode, killed.Reason)
	}
	s, _ := e.m.Status(context.Background(), "quota")
	if s.Phase != PhaseRunning {
		t.Errorf("pod phase after the OOM kill = %s", s.Phase)
	}
	if !alive(s.PausePID, s.PauseStart) {
		t.Errorf("the pause died with the OOM kill")
	}
	// Lowering oom_score_adj takes CAP_SYS_RESOURCE, which some sandboxes
	// (this project's CI among them) do not grant even to root.
	self, _ := os.ReadFile("/proc/self/status")
	if mustHex(t, field(string(self), "CapEff:"))&(1<<24) != 0 {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/oom_score_adj", s.PausePID)); strings.TrimSpace(string(b)) != "-998" {
			t.Errorf("pause oom_score_adj = %q, want -998", b)
		}
	} else {
		t.Log("no CAP_SYS_RESOURCE here: the pause's oom_score_adj can not be lowered")
	}
	if limit, _, _ := pod.Memory(); limit != 48*mi {
		t.Errorf("pod quota = %d", limit)
	}
	n, _ := e.m.Status(context.Background(), "neighbour")
	if n.Phase != PhaseRunning || n.Containers[0].State != StateRunning {
		t.Errorf("the neighbour pod was touched: %+v", n)
	}
}

func TestStopGracePeriod(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	running := e.run(&PodConfig{Name: "stop", Containers: []ContainerConfig{
		// Exits on TERM. (It must handle TERM: as PID 1 of its own PID
		// namespace, a process without a handler ignores it.)
		e.container("polite", "sh", "-c", "trap 'exit 3' TERM; while :; do sleep 0.05; done"),
		// Ignores TERM: needs the SIGKILL after the grace period.
		e.container("stubborn", "sh", "-c", "trap '' TERM; while :; do sleep 1; done"),
	}})
	// Once the shells have set their traps: TERM caught by one (SigCgt),
	// ignored by the other (SigIgn).
	waitFor(t, 5*time.Second, "the TERM traps to be set", func() bool {
		return sigMask(t, running.Containers[0].PID, "SigCgt:")&(1<<(syscall.SIGTERM-1)) != 0 &&
			sigMask(t, running.Containers[1].PID, "SigIgn:")&(1<<(syscall.SIGTERM-1)) != 0
	})
	start := time.Now()
	if err := e.m.Stop(ctx, "stop", 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("stop took %s with a 500ms grace period", took)
	}
	st, err := e.m.Status(ctx, "stop")
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != PhaseStopped {
		t.Errorf("phase = %s", st.Phase)
	}
	want := map[string]int{"polite": 3, "stubborn": 128 + int(syscall.SIGKILL)}
	if st.Phase != PhaseStopped {
		t.Errorf("phase = %s, want Stopped", st.Phase)
	}
	for _, c := range st.Containers {
		if c.State != StateTerminated || c.ExitCode != want[c.Name] {
			t.Errorf("%s: state %s exit %d, want terminated %d", c.Name, c.State, c.ExitCode, want[c.Name])
		}
	}
	// The pause is killed last; its death, like any SIGKILL's, takes a
	// moment on a busy host.
	waitFor(t, 5*time.Second, "the pause to be gone after stop", func() bool { return !alive(st.PausePID, st.PauseStart) })
	if err := e.m.Remove(ctx, "stop", false); err != nil {
		t.Fatalf("remove a stopped pod: %v", err)
	}
}

func TestRemoveRefusesRunningAndIsIdempotent(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.run(&PodConfig{Name: "rm", Containers: []ContainerConfig{e.container("c", "sleep", "3600")}})
	if err := e.m.Remove(ctx, "rm", false); !errors.Is(err, ErrRunning) {
		t.Fatalf("remove of a running pod without force: %v", err)
	}
	if err := e.m.Remove(ctx, "rm", true); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Remove(ctx, "rm", true); err != nil {
		t.Fatalf("second forced remove: %v", err)
	}
	if err := e.m.Remove(ctx, "rm", false); !errors.Is(err, ErrNotExist) {
		t.Fatalf("remove of a missing pod: %v", err)
	}
	if _, err := e.m.Status(ctx, "rm"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("status after remove: %v", err)
	}
	e.assertNoLeaks()
}

func TestCreateRefusals(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	e.run(&PodConfig{Name: "dup", Containers: []ContainerConfig{e.container("c", "sleep", "3600")}})
	if _, err := e.m.Create(ctx, &PodConfig{Name: "dup", Containers: []ContainerConfig{e.container("c", "true")}}); !errors.Is(err, ErrExist) {
		t.Fatalf("second pod of the same name: %v", err)
	}
	if st, err := e.m.Status(ctx, "dup"); err != nil || st.Phase != PhaseRunning {
		t.Fatalf("the refused create touched the existing pod: %v %v", st, err)
	}
	// A container whose image is missing is refused at Create, naming
	// the field and the path.
	bad := e.container("c", "true")
	bad.Rootfs = "/nonexistent-image"
	_, err := e.m.Create(ctx, &PodConfig{Name: "bad", Containers: []ContainerConfig{bad}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "/nonexistent-image") || !strings.Contains(err.Error(), "spec.containers[0].rootfs") {
		t.Fatalf("create with a missing image: %v", err)
	}
	// The rules a manifest is checked by refuse a configuration built by
	// hand at Create, with a manifest's messages, leaving nothing.
	hand := e.container("c", "true")
	hand.UID, hand.MemoryLimit, hand.SupplementalGroups = ptrTo(int64(1<<31)), 5<<20, []int64{-3}
	_, err = e.m.Create(ctx, &PodConfig{Name: "byhand", Containers: []ContainerConfig{hand},
		Volumes: []Volume{{Name: "v"}, {Name: "v", EmptyDir: &EmptyDirVolume{}}}})
	for _, want := range []string{
		"containers[0].securityContext.runAsUser: 2147483648 is not between 0 and 2147483647",
		"containers[0].securityContext.supplementalGroups[0]: -3 is not between 0 and 2147483647",
		"containers[0].resources.limits[memory]: 5Mi is below 6Mi",
		`volumes[0]: volume "v" has no source`,
		`volumes[1].name: volume "v" is defined twice`,
	} {
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("Create of a configuration built by hand: %v, want %q", err, want)
		}
	}
	if _, err := os.Stat(e.m.podDir("byhand")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused configuration left the pod's directory: %v", err)
	}
	// A missing command fails in libcontainer, after the overlay is mounted.
	if _, err := e.m.Create(ctx, &PodConfig{Name: "nocmd", Containers: []ContainerConfig{
		e.container("ok", "sleep", "3600"), e.container("broken", "/no/such/command"),
	}}); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Start(ctx, "nocmd", fastRestarts); err == nil || !strings.Contains(err.Error(), `"broken"`) || !strings.Contains(err.Error(), "/no/such/command") {
		t.Fatalf("start with a missing command: %v", err)
	}
	st, _ := e.m.Status(ctx, "nocmd")
	broken := st.Containers[1]
	if broken.Reason != ReasonStartError && (broken.LastTermination == nil || broken.LastTermination.Reason != ReasonStartError) {
		t.Errorf("broken: reason %q, last %+v; want StartError", broken.Reason, broken.LastTermination)
	}
	if st.Phase != PhaseStopped || st.Containers[0].State != StateTerminated {
		t.Fatalf("after a failed start: %+v", st)
	}
	// A pause that cannot start (gone since New checked it): nothing is
	// left.
	m2, err := New(e.opts)
	if err != nil {
		t.Fatal(err)
	}
	m2.opts.PauseBinary = "/nonexistent/pause"
	_, err = m2.Create(ctx, &PodConfig{Name: "nopause", Containers: []ContainerConfig{e.container("c", "true")}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/pause") {
		t.Fatalf("create with a missing pause: %v", err)
	}
	if _, err := os.Stat(e.m.podDir("nopause")); !os.IsNotExist(err) {
		t.Fatalf("failed create left its directory: %v", err)
	}
	if _, err := os.Stat("/sys/fs/cgroup/memory" + e.opts.CgroupParent + "/nopause"); !os.IsNotExist(err) {
		if _, err2 := os.Stat("/sys/fs/cgroup" + e.opts.CgroupParent + "/nopause"); !os.IsNotExist(err2) {
			t.Fatalf("failed create left its cgroup")
		}
	}
}

func TestManyCyclesLeaveNothing(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	cycles := 200
	if n, err := strconv.Atoi(os.Getenv("PODBOX_TEST_CYCLES")); err == nil {
		cycles = n
	}
	fds := func() int { ents, _ := os.ReadDir("/proc/self/fd"); return len(ents) }
	// One warm-up cycle: libraries open files once (e.g. the cgroup v2
	// mount check) and keep them.
	cycle := func(i int) {
		name := fmt.Sprintf("cycle-%d", i)
		if _, err := e.m.Create(ctx, &PodConfig{Name: name, Containers: []ContainerConfig{e.container("c", "sleep", "3600")}}); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Start(ctx, name, fastRestarts); err != nil {
			t.Fatal(err)
		}
		if err := e.m.Remove(ctx, name, true); err != nil {
			t.Fatal(err)
		}
	}
	cycle(0)
	before := fds()
	for i := 1; i < cycles; i++ {
		cycle(i)
	}
	if after := fds(); after > before {
		t.Errorf("open file descriptors grew from %d to %d over %d cycles", before, after, cycles)
	}
	e.assertNoLeaks()
}

// crashHelperEnv makes the test binary a helper process that creates and
// starts a pod and SIGKILLs itself at the crash point named by the value.
const crashHelperEnv = "PODBOX_TEST_CRASH_AT"

func crashHelper() {
	point := os.Getenv(crashHelperEnv)
	testHookCrash = func(p string) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	opts := testOptions(os.Getenv("PODBOX_TEST_PREFIX"))
	opts.PauseBinary = os.Getenv("PODBOX_TEST_PAUSE")
	m, err := New(opts)
	if err == nil {
		_, err = m.Create(context.Background(), &PodConfig{Name: "crash", ShareProcessNamespace: os.Getenv("PODBOX_TEST_SHAREPID") == "1",
			Containers: []ContainerConfig{
				{Name: "a", Rootfs: os.Getenv("PODBOX_TEST_ROOTFS"), Args: []string{"sleep", "3600"}},
				{Name: "b", Rootfs: os.Getenv("PODBOX_TEST_ROOTFS"), Args: []string{"sleep", "3600"}},
			}})
	}
	if err == nil {
		err = m.Start(context.Background(), "crash", RunOptions{})
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0) // the pod outlives its creator, as after `podbox run`
}

func TestRemoveAfterCreatorKilled(t *testing.T) {
	for _, point := range crashPoints {
		for _, share := range []string{"0", "1"} {
			t.Run(point+"/sharepid="+share, func(t *testing.T) {
				e := newTestEnv(t)
				cmd := exec.Command(os.Args[0])
				cmd.Env = append(os.Environ(), crashHelperEnv+"="+point,
					"PODBOX_TEST_PREFIX="+e.prefix,
					"PODBOX_TEST_PAUSE="+e.opts.PauseBinary, "PODBOX_TEST_ROOTFS="+e.rootfs, "PODBOX_TEST_SHAREPID="+share)
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
					t.Fatalf("helper did not die at %q: %v\n%s", point, err, out)
				}
				pods, err := e.m.List(context.Background())
				if err != nil || len(pods) != 1 {
					t.Fatalf("List after the crash = %v, %v", pods, err)
				}
				if err := e.m.Remove(context.Background(), "crash", true); err != nil {
					t.Fatal(err)
				}
				e.assertNoLeaks()
			})
		}
	}
}

func TestContainerStdinAndTTY(t *testing.T) {
	e := newTestEnv(t)
	waiter := e.container("waiter", "sh", "-c", "echo waiting; read line; echo got $line")
	waiter.Stdin = true
	term := e.container("term", "sh", "-c", "tty; sleep 3600")
	term.TTY = true
	st := e.run(&PodConfig{Name: "stdio", RestartPolicy: RestartNever, Containers: []ContainerConfig{waiter, term}})
	time.Sleep(300 * time.Millisecond)
	s, _ := e.m.Status(context.Background(), "stdio")
	if s.Containers[0].State != StateRunning {
		t.Errorf("a container with stdin open read end-of-file and ended: %+v", s.Containers[0])
	}
	waitFor(t, 3*time.Second, "the terminal's output in the log", func() bool {
		b, _ := os.ReadFile(st.Containers[1].LogPath)
		return strings.Contains(string(b), "stdout F /dev/")
	})
	b, _ := os.ReadFile(st.Containers[1].LogPath)
	if strings.Contains(string(b), "not a tty") || strings.Contains(string(b), "\r") {
		t.Errorf("tty log: %q", b)
	}
}

// TestRemoveNeverHalfDone: when the pod's processes can not all be killed
// (the cgroup can not be emptied), Remove fails and keeps the pod: its
// record (listed, with what went wrong), its IP lease, its cgroup. The next
// Remove finishes.
func TestRemoveNeverHalfDone(t *testing.T) {
	e := newTestEnv(t)
	st := e.run(&PodConfig{Name: "stuck", Containers: []ContainerConfig{e.container("app", "sleep", "3600")}})
	real := destroyCgroup
	destroyCgroup = func(string) error { return errors.New("processes [4242] still there 10s after SIGKILL") }
	err := e.m.Remove(context.Background(), "stuck", true)
	destroyCgroup = real
	if err == nil || !strings.Contains(err.Error(), "the pod is kept") {
		t.Fatalf("Remove with a cgroup that can not be emptied: %v", err)
	}
	kept, err := e.m.Status(context.Background(), "stuck")
	if err != nil {
		t.Fatalf("the pod's record is gone: %v", err)
	}
	if !strings.Contains(kept.Message, "removal incomplete") || !strings.Contains(kept.Message, "4242") {
		t.Errorf("status message %q does not say what is left", kept.Message)
	}
	if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", cgroupV1Prefix(), st.CgroupPath)); err != nil {
		t.Errorf("the pod's cgroup is gone: %v", err)
	}
	leases, _ := os.ReadDir(filepath.Join(e.m.net.Config().StateDir, "leases"))
	if len(leases) != 1 {
		t.Errorf("%d leases after the half-done remove, want the pod's still held", len(leases))
	}
	if err := e.m.Remove(context.Background(), "stuck", true); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
	if _, err := e.m.Status(context.Background(), "stuck"); !errors.Is(err, ErrNotExist) {
		t.Errorf("after the second Remove: %v", err)
	}
}

// cgroupV1Prefix is "memory" on cgroup v1 (where a pod cgroup has a copy
// per controller), "" on v2.
func cgroupV1Prefix() string {
	if cgroups.IsV2() {
		return ""
	}
	return "memory"
}
