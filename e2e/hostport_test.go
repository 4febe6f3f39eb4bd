package e2e

import (
	"fmt"
	"net"
	"os"
	"testing"
)

// hostPortPod is a one-container pod publishing containerPort 80 on port.
func hostPortPod(t *testing.T, name string, port int) string {
	return manifest(t, name+".yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: %s}
spec:
  terminationGracePeriodSeconds: 0
  containers:
  - name: server
    image: busybox
    command: ["httpd", "-f", "-p", "80"]
    ports: [{containerPort: 80, hostPort: %d}]
`, name, port))
}

// TestHostPortInUseRefused: a hostPort that a host process listens on is
// refused, naming the port and the process, and nothing of the pod is made.
func TestHostPortInUseRefused(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	l, err := net.Listen("tcp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	failPodbox(t, e, 1, []string{
		fmt.Sprintf(`create pod "taken": hostPort tcp *:%d: host port already published: in use on the host by pid %d`, port, os.Getpid()),
	}, "run", hostPortPod(t, "taken", port))
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("ps after the refusal: %+v", rows)
	}
	e.assertNothingLeft(t)
}

// TestHostPortHeldAcrossRoots: a pod of one podbox state root holds its
// hostPort on the host, so a pod of another root asking for the same port
// is refused with the pod that has it; once that pod is gone the port is
// free again.
func TestHostPortHeldAcrossRoots(t *testing.T) {
	t.Parallel()
	a, b := newEnvWithBusybox(t), newEnvWithBusybox(t)
	port := freePort(t)
	mustPodbox(t, a, "run", hostPortPod(t, "first", port))
	failPodbox(t, b, 1, []string{
		fmt.Sprintf("hostPort tcp *:%d: host port already published: in use on the host by pid", port),
		"the pause of pod default/first of the podbox state root " + a.root + "/root",
	}, "run", hostPortPod(t, "second", port))
	mustPodbox(t, a, "rm", "-f", "first")
	mustPodbox(t, b, "run", hostPortPod(t, "second", port))
	mustPodbox(t, b, "rm", "-f", "second")
}
