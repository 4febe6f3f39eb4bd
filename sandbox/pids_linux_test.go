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
	// Each shell waits for its two children, so the bomb holds what it got.
	bomb := e.container("bomb", "sh", "-c", "f() { f | f & wait; }; f & exec sleep 3600")
	st := e.run(&PodConfig{Name: "bomb", RestartPolicy: RestartNever, Containers: []ContainerConfig{
		e.container("calm", "sleep", "3600"), bomb,
	}})
	pod := cgroups.LoadPod(st.CgroupPath)
	if ps, err := pod.Pids(); err != nil || ps.Limit != limit {
		t.Fatalf("pod pids limit %d (%v), want %d", ps.Limit, err, limit)
	}
	// pids.events counts the forks the limit refused: the bomb failed
	// inside the pod.
	waitFor(t, 30*time.Second, "the pod's pids limit to refuse the fork bomb a fork", func() bool {
		ps, err := pod.Pids()
		return err == nil && ps.Denied > 0
	})
	if out, err := exec.Command("true").CombinedOutput(); err != nil {
		t.Fatalf("the host can not fork while the pod is at its limit: %v %s", err, out)
	}
	if ps, _ := pod.Pids(); ps.Current > limit {
		t.Fatalf("the pod holds %d pids, above its limit %d", ps.Current, limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	if err := e.m.Remove(ctx, "bomb", true); err != nil {
		t.Fatalf("remove the fork-bomb pod: %v", err)
	}
	t.Logf("removed the fork-bomb pod in %s", time.Since(start).Round(time.Millisecond))
	if _, err := pod.Pids(); err == nil {
		t.Errorf("the pod cgroup is left after Remove")
	}
}

func TestDefaultPodPidsLimit(t *testing.T) {
	e := newTestEnv(t)
	st := e.run(&PodConfig{Name: "calm", Containers: []ContainerConfig{e.container("c", "sleep", "3600")}})
	if ps, err := cgroups.LoadPod(st.CgroupPath).Pids(); err != nil || ps.Limit != cgroups.DefaultPidsLimit || ps.Current < 2 {
		t.Errorf("pod pids: %+v (%v); want limit %d and the pause and sleep counted", ps, err, cgroups.DefaultPidsLimit)
	}
}
