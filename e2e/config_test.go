package e2e

import (
	"testing"
)

// A multi-document file: the Pod runs with its ConfigMap and Secret as env
// and files; a missing key is refused, naming the field.
func TestConfigMapsAndSecretsFromTheFile(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	mustPodbox(t, e, "run", localManifest(t, "config.yaml"))
	for cmd, want := range map[string]string{
		"echo $CFG_LEVEL $PASSWORD $POD":                            "debug hunter2 config\n",
		"cat /etc/app/app.conf; ls /etc/app":                        "listen=8080\napp.conf\n",
		"stat -c %a /etc/secret/password; cat /etc/secret/password": "400\nhunter2",
		"cat /etc/all/level; echo; cat /etc/all/labels":             "debug\ntier=\"web\"",
	} {
		if out := mustPodbox(t, e, "exec", "config", "--", "sh", "-c", cmd); out != want {
			t.Errorf("%s: %q, want %q", cmd, out, want)
		}
	}
	// The pod's own document is what get pod shows.
	if pod := e.getPod(t, "config"); pod.Spec.Containers[0].EnvFrom[0].Prefix != "CFG_" {
		t.Errorf("get pod: %+v", pod.Spec.Containers[0])
	}
	bad := manifest(t, "bad.yaml", `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {a: b}
---
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - name: c
    image: busybox
    env: [{name: X, valueFrom: {configMapKeyRef: {name: settings, key: missing}}}]
`)
	failPodbox(t, e, 1, []string{`document 2: spec.containers[0].env[0].valueFrom.configMapKeyRef.key: ConfigMap "settings" has no key "missing"`}, "run", bad)
}
