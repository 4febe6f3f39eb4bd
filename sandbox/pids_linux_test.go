package sandbox

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/podbox/podbox/cgroups"
)

// A fork bomb in a pod with a pids limit fills the pod's cgroup and no
// more: the host still forks, and Remove (podbox rm -f) ends it promptly.
func TestForkBombHeldByPidsLimit(t *testing.T) {
	const limit = 64
	e := newTestEnvWith(t, func(o *Options) { o.PodPidsLimit = limit })
	bomb := e.container("bomb", "sh", "-c", "f() { f | f & }; f; exec sleep 3600")
	st := e.run(&PodConfig{Name: "bomb", RestartPolicy: RestartNever, Containers: []ContainerConfig{
		e.container("calm", "sleep", "3600"), bomb,
	}})
	pod := cgroups.LoadPod(st.CgroupPath)
	if l, _, err := pod.Pids(); err != nil || l != limit {
		t.Fatalf("pod pids limit %d (%v), want %d", l, err, limit)
	}
	waitFor(t, 20*time.Second, "the fork bomb to fill the pod's pids limit", func() bool {
		_, cur, err := pod.Pids()
		return err == nil && cur >= limit
	})
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Fatalf("the host can not fork while the pod is at its limit: %v %s", err, out)
	}
	// Inside, the pod can fork no more.
	if _, cur, _ := pod.Pids(); cur > limit {
		t.Fatalf("the pod holds %d pids, above its limit %d", cur, limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.m.Remove(ctx, "bomb", true); err != nil {
		t.Fatalf("remove the fork-bomb pod: %v", err)
	}
	t.Logf("removed the fork-bomb pod in %s", time.Since(start).Round(time.Millisecond))
	if _, _, err := pod.Pids(); err == nil {
		t.Errorf("the pod cgroup is left after Remove")
	}
}

func TestDefaultPodPidsLimit(t *testing.T) {
	e := newTestEnv(t)
	st := e.run(&PodConfig{Name: "calm", Containers: []ContainerConfig{e.container("c", "sleep", "3600")}})
	if l, cur, err := cgroups.LoadPod(st.CgroupPath).Pids(); err != nil || l != cgroups.DefaultPidsLimit || cur < 2 {
		t.Errorf("pod pids: limit %d, current %d (%v); want limit %d and the pause and sleep counted", l, cur, err, cgroups.DefaultPidsLimit)
	}
}
