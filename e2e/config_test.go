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

// podbox run --configmap: ConfigMaps and Secrets in files of their own,
// as podman kube play --configmap takes them; a name also in the pod's
// file is refused.
func TestRunConfigMapFiles(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	cm := manifest(t, "cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LEVEL: debug}\n")
	secret := manifest(t, "secret.json", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"creds"},"stringData":{"password":"hunter2"}}`)
	pod := manifest(t, "pod.yaml", `apiVersion: v1
kind: Pod
metadata: {name: apart}
spec:
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    envFrom: [{configMapRef: {name: settings}}]
    volumeMounts: [{name: s, mountPath: /etc/secret}]
  volumes: [{name: s, secret: {secretName: creds}}]
`)
	failPodbox(t, e, 1, []string{`spec.containers[0].envFrom[0].configMapRef.name: ConfigMap "settings" is not in the manifest`}, "run", pod)
	mustPodbox(t, e, "run", "--configmap", cm, "--configmap", secret, pod)
	if out := mustPodbox(t, e, "exec", "apart", "--", "sh", "-c", "echo $LEVEL; cat /etc/secret/password"); out != "debug\nhunter2" {
		t.Errorf("env and secret volume from --configmap files: %q", out)
	}
	both := manifest(t, "both.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LEVEL: info}\n---\n"+readFile(t, pod))
	failPodbox(t, e, 1, []string{`document 1: metadata.name: ConfigMap "settings" is also given in "` + cm + `" (--configmap)`},
		"run", "--name", "both", "--configmap", cm, "--configmap", secret, both)
	failPodbox(t, e, 1, []string{`run: --configmap "` + pod + `": document 1: kind: a Pod`}, "run", "--configmap", pod, pod)
}
