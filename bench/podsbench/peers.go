package main

// The peers podbox is measured against besides runc: podman (kube play of
// the same manifest; per-pod processes conmon and catatonit) and containerd
// (containerd-shim-runc-v2 per pod, as the CRI plugin groups a pod's
// containers into one shim). pods.sh installs and starts them; an empty
// flag leaves the peer out.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// podmanPod is onePod for podman: its imported image has no PATH, and
// Never keeps it from asking a registry.
const podmanPod = `apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  containers:
  - {name: main, image: localhost/busybox-bench, imagePullPolicy: Never, command: [/bin/sleep, "3600"]}
`

// podman runs podman with the bench's storage, network config and
// containers.conf (nofile and nproc limits the host can give).
func (b *bench) podman(args ...string) *exec.Cmd {
	base := []string{"--root", filepath.Join(b.work, "podman"), "--runroot", filepath.Join(b.work, "podman-run"),
		"--network-config-dir", filepath.Join(b.work, "podman-net"), "--cgroup-manager", "cgroupfs", "--events-backend", "file"}
	cmd := exec.Command(b.podmanBin, append(base, args...)...)
	cmd.Env = append(os.Environ(), "CONTAINERS_CONF="+filepath.Join(b.work, "containers.conf"))
	return cmd
}

// podmanSetUp imports the busybox image and makes the bench's network
// (its own bridge, subnet and config directory).
func (b *bench) podmanSetUp() error {
	conf := "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1024:1024\"]\n"
	if err := os.WriteFile(filepath.Join(b.work, "containers.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(b.work, "podman-net"), 0o700); err != nil {
		return err
	}
	for _, args := range [][]string{
		{"import", "-q", b.busyboxTar, "localhost/busybox-bench"},
		{"network", "create", "--subnet", b.podmanSubnet, benchName},
	} {
		if out, err := b.podman(args...).CombinedOutput(); err != nil {
			return fmt.Errorf("podman %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

// podmanPlay times `podman kube play` of the one-container pod called name
// (the manifest is written before the clock starts).
func (b *bench) podmanPlay(name string) (time.Duration, error) {
	f := filepath.Join(b.work, "podman-"+name+".yaml")
	if err := os.WriteFile(f, []byte(fmt.Sprintf(podmanPod, name)), 0o644); err != nil {
		return 0, err
	}
	cmd := b.podman("kube", "play", "--network", benchName, f)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("podman kube play %s: %w: %s", name, err, out)
	}
	return d, nil
}

// podmanRm times `podman pod rm -f -t 0` (kill at once, as podbox rm -f).
func (b *bench) podmanRm(name string) (time.Duration, error) {
	cmd := b.podman("pod", "rm", "-f", "-t", "0", name)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	d := time.Since(t0)
	if err != nil {
		return 0, fmt.Errorf("podman pod rm %s: %w: %s", name, err, out)
	}
	return d, nil
}

// podmanPIDs are the per-pod processes of podman's pod name: the conmon of
// each container (infra and main) and the infra's catatonit.
func (b *bench) podmanPIDs(name string) ([]int, error) {
	var pids []int
	for _, ctr := range []string{"", name + "-main"} {
		id := ctr
		if ctr == "" {
			out, err := b.podman("pod", "inspect", "--format", "{{.InfraContainerID}}", name).Output()
			if err != nil {
				return nil, fmt.Errorf("podman pod inspect %s: %w", name, err)
			}
			id = strings.TrimSpace(string(out))
		}
		out, err := b.podman("inspect", "--format", "{{.State.ConmonPid}} {{.State.Pid}}", id).Output()
		if err != nil {
			return nil, fmt.Errorf("podman inspect %s: %w", id, err)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			return nil, fmt.Errorf("podman inspect %s: %q", id, out)
		}
		conmon, _ := strconv.Atoi(f[0])
		pid, _ := strconv.Atoi(f[1])
		pids = append(pids, conmon)
		if ctr == "" {
			pids = append(pids, pid) // catatonit, the infra's process
		}
	}
	return pids, nil
}

func (b *bench) podmanCleanup() error {
	if b.podmanBin == "" {
		return nil
	}
	var errs []error
	if _, err := os.Stat(filepath.Join(b.work, "podman")); err != nil {
		return nil
	}
	if out, err := b.podman("pod", "rm", "-af", "-t", "0").CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("podman pod rm -a: %w: %s", err, out))
	}
	b.podman("network", "rm", "-f", benchName).Run()
	// podman leaves its storage's overlay mount behind.
	exec.Command("umount", "-R", filepath.Join(b.work, "podman", "overlay")).Run()
	exec.Command("umount", "-R", filepath.Join(b.work, "podman")).Run()
	return errors.Join(errs...)
}

// ctr runs containerd's ctr against the bench's containerd, in the
// bench's containerd namespace.
func (b *bench) ctr(args ...string) *exec.Cmd {
	return exec.Command("ctr", append([]string{"--address", b.containerd, "--namespace", benchName}, args...)...)
}

// containerdPod starts what the CRI plugin starts for a one-container pod:
// a pause container (podbox's pause, in a root of its own) and the sleep
// container joining its network namespace, both annotated with the pod's
// sandbox ID so that one containerd-shim-runc-v2 runs them. It returns
// the shim's and the pause's PIDs.
func (b *bench) containerdPod(name string) ([]int, error) {
	group := "io.kubernetes.cri.sandbox-id=" + name
	out, err := b.ctr("run", "-d", "--annotation", group, "--cgroup", b.cgroup+"/ctrd-"+name+"-pause",
		"--rootfs", b.pauseRoot, name+"-pause", "/pause").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ctr run %s-pause: %w: %s", name, err, out)
	}
	pausePID, err := b.ctrTaskPID(name + "-pause")
	if err != nil {
		return nil, err
	}
	out, err = b.ctr("run", "-d", "--annotation", group, "--cgroup", b.cgroup+"/ctrd-"+name+"-main",
		"--with-ns", fmt.Sprintf("network:/proc/%d/ns/net", pausePID),
		"--rootfs", b.rootfs, name+"-main", "/bin/sleep", "3600").CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("ctr run %s-main: %w: %s", name, err, out)
	}
	shim, err := ppid(pausePID)
	if err != nil {
		return nil, err
	}
	if mainPID, err := b.ctrTaskPID(name + "-main"); err != nil {
		return nil, err
	} else if p, _ := ppid(mainPID); p != shim {
		return nil, fmt.Errorf("containerd pod %s: the pause's shim is %d, the container's %d: not grouped", name, shim, p)
	}
	return []int{shim, pausePID}, nil
}

func (b *bench) ctrTaskPID(id string) (int, error) {
	out, err := b.ctr("task", "ls").Output()
	if err != nil {
		return 0, fmt.Errorf("ctr task ls: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == id {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("ctr task ls: no task %s:\n%s", id, out)
}

func ppid(pid int) (int, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// pid (comm) state ppid ...; comm may hold spaces.
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
	}
	return strconv.Atoi(f[1])
}

func (b *bench) containerdCleanup() error {
	if b.containerd == "" {
		return nil
	}
	if _, err := os.Stat(b.containerd); err != nil {
		return nil
	}
	var errs []error
	out, err := b.ctr("task", "ls", "-q").Output()
	if err == nil {
		for _, id := range strings.Fields(string(out)) {
			b.ctr("task", "kill", "-s", "SIGKILL", id).Run()
		}
		// The pause last: the containers joined its network namespace.
		time.Sleep(200 * time.Millisecond)
		for _, id := range strings.Fields(string(out)) {
			if out, err := b.ctr("task", "rm", "-f", id).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ctr task rm %s: %w: %s", id, err, out))
			}
		}
	}
	if out, err := b.ctr("container", "ls", "-q").Output(); err == nil {
		for _, id := range strings.Fields(string(out)) {
			if out, err := b.ctr("container", "rm", id).CombinedOutput(); err != nil {
				errs = append(errs, fmt.Errorf("ctr container rm %s: %w: %s", id, err, out))
			}
		}
	}
	return errors.Join(errs...)
}

// memPeers starts k idle one-container pods of podbox, podman and
// containerd, and compares the memory of what each keeps per pod besides
// the container: podbox's pause and monitor, podman's conmons and
// catatonit, containerd's shim and pause.
func (b *bench) memPeers(k int) error {
	type runtimePods struct {
		name  string
		what  string
		pids  [][]int
		names []string
	}
	var rts []*runtimePods
	pb := &runtimePods{name: "podbox", what: "pause + shim (+ lifecycle)"}
	for i := 0; i < k; i++ {
		name := fmt.Sprintf("mem-%02d", i)
		if _, err := b.podboxRun(name, b.one, nil); err != nil {
			return err
		}
		pb.names = append(pb.names, name)
	}
	rts = append(rts, pb)
	var pm, cd *runtimePods
	if b.podmanBin != "" {
		pm = &runtimePods{name: "podman kube play", what: "2 conmon + catatonit"}
		for i := 0; i < k; i++ {
			name := fmt.Sprintf("pmem-%02d", i)
			if _, err := b.podmanPlay(name); err != nil {
				return err
			}
			pids, err := b.podmanPIDs(name)
			if err != nil {
				return err
			}
			pm.names, pm.pids = append(pm.names, name), append(pm.pids, pids)
		}
		rts = append(rts, pm)
	}
	if b.containerd != "" {
		cd = &runtimePods{name: "containerd (CRI-style)", what: "containerd-shim-runc-v2 + pause"}
		for i := 0; i < k; i++ {
			name := fmt.Sprintf("cmem-%02d", i)
			pids, err := b.containerdPod(name)
			if err != nil {
				return err
			}
			cd.names, cd.pids = append(cd.names, name), append(cd.pids, pids)
		}
		rts = append(rts, cd)
	}
	for _, name := range pb.names {
		in, err := b.inspect(name)
		if err != nil {
			return err
		}
		pb.pids = append(pb.pids, append([]int{in.PausePID}, monitorPIDs(in.MonitorPID)...))
	}
	time.Sleep(3 * time.Second) // idle
	fmt.Printf("\n== per-pod memory, %d idle one-container pods of each runtime, same run (kB per pod, average)\n", k)
	fmt.Printf("%-24s %-34s %9s %9s %9s %8s\n", "runtime", "per-pod processes", "Pss", "VmRSS", "RssAnon", "threads")
	for _, rt := range rts {
		var sum procMem
		for _, pids := range rt.pids {
			for j, pid := range pids {
				m, err := readProc(pid)
				if err != nil && rt.name == "podbox" && j >= 2 {
					continue // a lifecycle that left meanwhile
				}
				if err != nil {
					return fmt.Errorf("%s pid %d: %w", rt.name, pid, err)
				}
				sum.add(m)
			}
		}
		n := int64(len(rt.pids))
		fmt.Printf("%-24s %-34s %9d %9d %9d %8.1f\n", rt.name, rt.what, sum.pss/n, sum.vmRSS/n, sum.rssAnon/n, float64(sum.threads)/float64(n))
	}
	// Each process of the first pod, for the record.
	for _, rt := range rts {
		var parts []string
		for _, pid := range rt.pids[0] {
			m, _ := readProc(pid)
			comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			parts = append(parts, fmt.Sprintf("%s Pss %d kB, VmRSS %d kB", strings.TrimSpace(string(comm)), m.pss, m.vmRSS))
		}
		fmt.Printf("  %s, one pod: %s\n", rt.name, strings.Join(parts, "; "))
	}
	for _, name := range pb.names {
		if _, err := b.podboxRm(name); err != nil {
			return err
		}
	}
	if pm != nil {
		for _, name := range pm.names {
			if _, err := b.podmanRm(name); err != nil {
				return err
			}
		}
	}
	return b.containerdCleanup()
}
