package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// TestLogRotation: a container writing 30 MiB to stdout as fast as it can,
// with --container-log-max-size 1Mi: its logs live under the log root, not
// the state root, at most 5 files of about 1 MiB are kept, `logs` shows the
// tail, and the monitor's memory stays bounded.
func TestLogRotation(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	const line = "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopq"
	m := manifest(t, "chatty.yaml", `apiVersion: v1
kind: Pod
metadata: {name: chatty}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: talker
    image: busybox
    command: ["sh", "-c", "yes `+line+` | head -c 31457280; echo; echo END-OF-LOG; exec sleep 3600"]
`)
	mustPodbox(t, e, "--container-log-max-size", "1Mi", "run", m)
	eventually(t, 120*time.Second, "the log to end with END-OF-LOG", func() (bool, string) {
		out, _, _ := podbox(t, e, "logs", "chatty")
		return strings.HasSuffix(out, "\nEND-OF-LOG\n"), lastLines(out, 2)
	})
	in := e.inspect(t, "chatty")
	logDir := filepath.Join(in.LogDir, "talker")
	if !strings.HasPrefix(logDir, filepath.Join(e.root, "logs")+"/default_chatty_") {
		t.Errorf("log directory %s is not <log root>/default_chatty_<uid>", logDir)
	}
	ents, err := os.ReadDir(logDir)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	for _, ent := range ents {
		fi, err := ent.Info()
		if err != nil {
			t.Fatal(err)
		}
		total += fi.Size()
		if fi.Size() > 1<<20 {
			t.Errorf("%s is %d bytes, over the 1Mi rotation size", ent.Name(), fi.Size())
		}
		if !strings.HasPrefix(ent.Name(), "0.log") {
			t.Errorf("unexpected log file %s", ent.Name())
		}
	}
	if len(ents) > 5 || total < 3<<20 {
		t.Errorf("%d log files, %d bytes; want at most 5 files and the last few MiB of the output", len(ents), total)
	}
	// Nothing of the 30 MiB went to the state root (a tmpfs on most hosts).
	if n := treeSize(t, filepath.Join(e.root, "root")); n > 1<<20 {
		t.Errorf("the state root holds %d bytes", n)
	}
	if hwm := vmHWM(t, in.MonitorPID); hwm > 96<<20 {
		t.Errorf("the monitor's peak RSS is %d bytes while copying 30 MiB of logs", hwm)
	} else {
		t.Logf("monitor peak RSS %d KiB", hwm>>10)
	}
	mustPodbox(t, e, "rm", "-f", "chatty")
	if _, err := os.Stat(in.LogDir); !os.IsNotExist(err) {
		t.Errorf("rm left the pod's logs: %v", err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// treeSize adds up the sizes of the files under dir, but not of those in
// containers' root filesystems (their image, mounted).
func treeSize(t *testing.T, dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.IsDir() && fi.Name() == "rootfs" {
			return filepath.SkipDir
		}
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// vmHWM is a process's peak resident set size, in bytes.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestLogsFollowToTheEnd: `logs -f` of a container that writes its last
// lines just before it ends prints them all, then returns.
func TestLogsFollowToTheEnd(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	m := manifest(t, "burst.yaml", `apiVersion: v1
kind: Pod
metadata: {name: burst}
spec:
  restartPolicy: Never
  containers:
  - name: app
    image: busybox
    command: ["sh", "-c", "sleep 1; i=0; while [ $i -lt 2000 ]; do i=$((i+1)); echo line $i; done"]
`)
	mustPodbox(t, e, "run", m)
	out := mustPodbox(t, e, "logs", "-f", "burst")
	if !strings.HasSuffix(out, "line 1999\nline 2000\n") {
		t.Errorf("logs -f ended with %q; want all 2000 lines", lastLines(out, 3))
	}
}

// TestEvictionForLocalStorage: a disk emptyDir over its sizeLimit, and a
// container writing past its ephemeral-storage limit, get their pod
// evicted as the kubelet does: phase Failed, reason Evicted, a message
// saying which limit, the containers stopped.
func TestEvictionForLocalStorage(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	e.vars = append(e.vars, "PODBOX_EVICTION_INTERVAL=300ms")
	for _, tc := range []struct{ name, manifest, message string }{
		{"scratch", `apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  terminationGracePeriodSeconds: 30
  volumes: [{name: scratch, emptyDir: {sizeLimit: 10Mi}}]
  containers:
  - name: filler
    image: busybox
    command: ["sh", "-c", "trap '' TERM; dd if=/dev/zero of=/scratch/fill bs=1M count=20; sleep 3600"]
    volumeMounts: [{name: scratch, mountPath: /scratch}]
`, `Usage of EmptyDir volume "scratch" exceeds the limit "10Mi".`},
		{"layer", `apiVersion: v1
kind: Pod
metadata: {name: layer}
spec:
  containers:
  - name: writer
    image: busybox
    command: ["sh", "-c", "dd if=/dev/zero of=/fill bs=1M count=20; sleep 3600"]
    resources: {limits: {ephemeral-storage: 10Mi}}
`, `Container writer exceeded its local ephemeral storage limit "10Mi".`},
	} {
		// --no-wait: the eviction may come before every container is seen running.
		mustPodbox(t, e, "run", "--no-wait", manifest(t, tc.name+".yaml", tc.manifest))
		var pod *v1.Pod
		eventually(t, 20*time.Second, tc.name+" evicted", func() (bool, string) {
			pod = e.getPod(t, tc.name)
			return pod.Status.Phase == v1.PodFailed, string(pod.Status.Phase) + " " + pod.Status.Reason
		})
		if pod.Status.Reason != "Evicted" || pod.Status.Message != tc.message {
			t.Errorf("%s: reason %q message %q; want Evicted, %q", tc.name, pod.Status.Reason, pod.Status.Message, tc.message)
		}
		for _, cs := range pod.Status.ContainerStatuses {
			if cs.State.Terminated == nil {
				t.Errorf("%s: container %s not terminated after the eviction: %+v", tc.name, cs.Name, cs.State)
			}
		}
		mustPodbox(t, e, "rm", "-f", tc.name)
	}
}
