package spec

import (
	"reflect"
	"strings"
	"testing"

	"github.com/podbox/podbox/sandbox"
)

const probedPod = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  os: {name: linux}
  terminationGracePeriodSeconds: 20
  containers:
  - name: web
    image: busybox
    ports: [{name: http, containerPort: 8080}]
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
        scheme: HTTPS
        httpHeaders: [{name: X-Probe, value: "1"}]
      initialDelaySeconds: 2
      failureThreshold: 1
      terminationGracePeriodSeconds: 5
    readinessProbe:
      tcpSocket: {port: 8080}
      periodSeconds: 1
      successThreshold: 2
    startupProbe:
      grpc: {port: 9090, service: api}
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo hi"]}}
      preStop: {sleep: {seconds: 3}}
      stopSignal: SIGUSR1
  - name: side
    image: busybox
    readinessProbe: {exec: {command: [cat, /tmp/ready]}}
    lifecycle:
      preStop: {httpGet: {port: 80, host: 127.0.0.1, path: stop}}
`

func TestProbesAndHooks(t *testing.T) {
	c, err := Parse([]byte(probedPod))
	if err != nil {
		t.Fatal(err)
	}
	web, side := c.Containers[0], c.Containers[1]
	equal(t, "liveness", *web.LivenessProbe, sandbox.Probe{
		HTTPGet: &sandbox.HTTPGetAction{Scheme: "HTTPS", Path: "/healthz", PortName: "http",
			Headers: []sandbox.HTTPHeader{{Name: "X-Probe", Value: "1"}}},
		InitialDelaySeconds: 2, FailureThreshold: 1, TerminationGracePeriodSeconds: ptr(int64(5)),
	})
	equal(t, "readiness", *web.ReadinessProbe, sandbox.Probe{
		TCPSocket: &sandbox.TCPSocketAction{Port: 8080}, PeriodSeconds: 1, SuccessThreshold: 2})
	equal(t, "startup", *web.StartupProbe, sandbox.Probe{GRPC: &sandbox.GRPCAction{Port: 9090, Service: "api"}})
	equal(t, "lifecycle", *web.Lifecycle, sandbox.Lifecycle{
		PostStart:  &sandbox.LifecycleHandler{Exec: &sandbox.ExecAction{Command: []string{"sh", "-c", "echo hi"}}},
		PreStop:    &sandbox.LifecycleHandler{Sleep: &sandbox.SleepAction{Seconds: 3}},
		StopSignal: "SIGUSR1",
	})
	equal(t, "side readiness", *side.ReadinessProbe, sandbox.Probe{Exec: &sandbox.ExecAction{Command: []string{"cat", "/tmp/ready"}}})
	equal(t, "side preStop", *side.Lifecycle.PreStop.HTTPGet, sandbox.HTTPGetAction{Port: 80, Host: "127.0.0.1", Path: "stop"})
}

func TestProbeRefusals(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"no handler", `livenessProbe: {periodSeconds: 1}`,
			[]string{"spec.containers[0].livenessProbe: needs a handler (exec, httpGet, tcpSocket or grpc)"}},
		{"two handlers", `readinessProbe: {exec: {command: ["true"]}, tcpSocket: {port: 1}}`,
			[]string{"spec.containers[0].readinessProbe: has 2 handlers (exec, tcpSocket), exactly one is allowed"}},
		{"liveness success threshold", `livenessProbe: {exec: {command: ["true"]}, successThreshold: 2}`,
			[]string{"spec.containers[0].livenessProbe.successThreshold: must be 1 for a liveness or startup probe"}},
		{"negative", `startupProbe: {exec: {command: ["true"]}, periodSeconds: -1}`,
			[]string{"spec.containers[0].startupProbe.periodSeconds: -1 is negative"}},
		{"readiness grace", `readinessProbe: {exec: {command: ["true"]}, terminationGracePeriodSeconds: 3}`,
			[]string{"spec.containers[0].readinessProbe.terminationGracePeriodSeconds: may not be set for a readiness probe"}},
		{"missing port name", `livenessProbe: {httpGet: {port: web}}`,
			[]string{`spec.containers[0].livenessProbe.httpGet.port: container "c" has no TCP port named "web"`}},
		{"bad port", `readinessProbe: {tcpSocket: {port: 70000}}`,
			[]string{"spec.containers[0].readinessProbe.tcpSocket.port: 70000 is not a port number (1-65535)"}},
		{"scheme", `livenessProbe: {httpGet: {port: 80, scheme: FTP}}`,
			[]string{`spec.containers[0].livenessProbe.httpGet.scheme: "FTP" is not HTTP or HTTPS`}},
		{"empty exec", `livenessProbe: {exec: {command: []}}`,
			[]string{"spec.containers[0].livenessProbe.exec.command: a command is required"}},
		{"grpc port", `livenessProbe: {grpc: {port: 0}}`,
			[]string{"spec.containers[0].livenessProbe.grpc.port: 0 is not a port number (1-65535)"}},
		{"hook tcpSocket", `lifecycle: {preStop: {tcpSocket: {port: 80}}}`,
			[]string{"spec.containers[0].lifecycle.preStop.tcpSocket: not supported by podbox",
				"spec.containers[0].lifecycle.preStop: needs a handler (exec, httpGet or sleep)"}},
		{"sleep beyond grace", `lifecycle: {preStop: {sleep: {seconds: 31}}}`,
			[]string{"spec.containers[0].lifecycle.preStop.sleep.seconds: 31: must be from 0 to the pod's grace period (30 s)"}},
		{"stop signal without os", `lifecycle: {stopSignal: SIGUSR1}`,
			[]string{"spec.containers[0].lifecycle.stopSignal: may only be set when spec.os.name is set (linux)"}},
		{"unknown probe field", `livenessProbe: {exec: {command: ["true"]}, period: 3}`,
			[]string{"spec.containers[0].livenessProbe.period: unknown field"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n    " + tt.yaml + "\n"
			_, err := Parse([]byte(m))
			if err == nil {
				t.Fatalf("parsed:\n%s", m)
			}
			got := strings.Split(err.Error(), "\n")
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
	// An init container that is not a sidecar takes no probes; a sidecar does.
	m := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n  - name: i\n    image: busybox\n    startupProbe: {exec: {command: [\"true\"]}}\n  - name: s\n    image: busybox\n    restartPolicy: Always\n    startupProbe: {exec: {command: [\"true\"]}}\n  containers:\n  - {name: c, image: busybox}\n"
	_, err := Parse([]byte(m))
	if err == nil || err.Error() != "spec.initContainers[0].startupProbe: may not be set for init containers without restartPolicy: Always" {
		t.Errorf("init container probes: %v", err)
	}
}
