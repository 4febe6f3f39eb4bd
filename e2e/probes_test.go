package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
)

// podReady is the pod's Ready and ContainersReady conditions and ps's
// READY, as a user sees them.
func podReady(t *testing.T, e *env, name string) (string, bool) {
	pod := e.getPod(t, name)
	conds := map[v1.PodConditionType]v1.ConditionStatus{}
	for _, c := range pod.Status.Conditions {
		conds[c.Type] = c.Status
	}
	ready := ""
	for _, r := range e.ps(t) {
		if r.Name == name {
			ready = fmt.Sprintf("%d/%d", r.Ready, r.Containers)
		}
	}
	return fmt.Sprintf("READY %s, Ready %s, ContainersReady %s", ready, conds[v1.PodReady], conds[v1.ContainersReady]),
		conds[v1.PodReady] == v1.ConditionTrue
}

// Readiness drives READY and the Ready conditions both ways; a failing
// liveness probe restarts the container, whose postStart hook makes it
// healthy again.
func TestProbesThroughTheCLI(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "probes.yaml"))
	wantReady := func(want bool) func() (bool, string) {
		return func() (bool, string) {
			s, ok := podReady(t, e, "probes")
			return ok == want && strings.HasPrefix(s, map[bool]string{true: "READY 1/1, Ready True, ContainersReady True", false: "READY 0/1, Ready False, ContainersReady False"}[want]), s
		}
	}
	eventually(t, 10*time.Second, "ready", wantReady(true))
	mustPodbox(t, e, "exec", "probes", "--", "rm", "/www/ready")
	eventually(t, 10*time.Second, "not ready", wantReady(false))
	mustPodbox(t, e, "exec", "probes", "--", "touch", "/www/ready")
	eventually(t, 10*time.Second, "ready again", wantReady(true))

	mustPodbox(t, e, "exec", "probes", "--", "rm", "/tmp/alive")
	eventually(t, 15*time.Second, "a restart by the liveness probe", func() (bool, string) {
		cs := containerStatus(t, e.getPod(t, "probes"), "web")
		return cs.RestartCount == 1 && cs.Ready && cs.Started != nil && *cs.Started, fmt.Sprintf("%+v", cs)
	})
	cs := containerStatus(t, e.getPod(t, "probes"), "web")
	if lt := cs.LastTerminationState.Terminated; lt == nil || !strings.Contains(lt.Message, "liveness probe failed") {
		t.Errorf("last termination %+v, want the liveness probe's message", lt)
	}
}
