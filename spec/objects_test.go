package spec

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podbox/podbox/sandbox"
)

const withObjects = `apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {LEVEL: debug, "app.conf": "a=1\n", "bad-name": x}
binaryData: {blob: AAEC}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: creds}
  data: {password: aHVudGVyMg==}
  stringData: {user: admin}
---
apiVersion: v1
kind: Pod
metadata: {name: app, labels: {tier: web}}
spec:
  containers:
  - name: c
    image: busybox
    resources: {limits: {memory: 64Mi, cpu: 500m}}
    envFrom:
    - configMapRef: {name: settings}
      prefix: CFG_
    - secretRef: {name: absent, optional: true}
    env:
    - {name: CFG_LEVEL, value: override}
    - name: PASS
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    - name: MISSING
      valueFrom: {configMapKeyRef: {name: settings, key: nope, optional: true}}
    - name: MEM
      valueFrom: {resourceFieldRef: {resource: limits.memory, divisor: 1Mi}}
    - name: TIER
      valueFrom: {fieldRef: {fieldPath: "metadata.labels['tier']"}}
  volumes:
  - name: conf
    configMap:
      name: settings
      defaultMode: 0400
      items: [{key: app.conf, path: etc/app.conf}, {key: blob, path: blob, mode: 0600}]
  - name: secret
    secret: {secretName: creds}
  - name: all
    projected:
      defaultMode: 0440
      sources:
      - secret: {name: creds, items: [{key: user, path: user}]}
      - downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
          - {path: cpu, resourceFieldRef: {containerName: c, resource: limits.cpu, divisor: 1m}}
`

func TestConfigMapsAndSecrets(t *testing.T) {
	cs, err := ParseAll([]byte(withObjects))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 {
		t.Fatalf("%d pods", len(cs))
	}
	c := cs[0]
	equal(t, "env", c.Containers[0].Env, []sandbox.EnvVar{
		{Name: "CFG_LEVEL", Value: "debug"}, {Name: "CFG_app.conf", Value: "a=1\n"}, {Name: "CFG_bad-name", Value: "x"},
		{Name: "CFG_blob", Value: "\x00\x01\x02"},
		{Name: "CFG_LEVEL", Value: "override", Expand: true}, {Name: "PASS", Value: "hunter2"},
		{Name: "MEM", ResourceField: &sandbox.ResourceFieldRef{Container: "c", Resource: "limits.memory", Divisor: 1 << 20}},
		{Name: "TIER", FieldPath: "metadata.labels['tier']"},
	})
	files := func(i int) []sandbox.VolumeFile { return c.Volumes[i].Files.Files }
	equal(t, "configMap volume", files(0), []sandbox.VolumeFile{
		{Path: "etc/app.conf", Data: []byte("a=1\n"), Mode: 0o400}, {Path: "blob", Data: []byte{0, 1, 2}, Mode: 0o600}})
	equal(t, "secret volume", files(1), []sandbox.VolumeFile{
		{Path: "password", Data: []byte("hunter2"), Mode: 0o644}, {Path: "user", Data: []byte("admin"), Mode: 0o644}})
	equal(t, "projected volume", files(2), []sandbox.VolumeFile{
		{Path: "user", Data: []byte("admin"), Mode: 0o440},
		{Path: "labels", FieldPath: "metadata.labels", Mode: 0o440},
		{Path: "cpu", ResourceField: &sandbox.ResourceFieldRef{Container: "c", Resource: "limits.cpu", Divisor: 1}, Mode: 0o440}})
	// ParseAllKeep keeps the pod's own document.
	kept, err := ParseAllKeep([]byte(withObjects))
	if err != nil || !strings.Contains(string(kept[0].Manifest), `"kind":"Pod"`) {
		t.Errorf("ParseAllKeep: %v, manifest %s", err, kept[0].Manifest)
	}
}

func TestImagePullSecrets(t *testing.T) {
	cs, err := ParseAll([]byte(`apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Secret
  metadata: {name: regcred}
  type: kubernetes.io/dockerconfigjson
  stringData: {.dockerconfigjson: '{"auths":{"registry.example.com":{"username":"u","password":"pw-s3cret"}}}'}
- apiVersion: v1
  kind: Secret
  metadata: {name: legacy}
  type: kubernetes.io/dockercfg
  data: {.dockercfg: eyJvbGQuZXhhbXBsZSI6eyJhdXRoIjoiZFRwMyJ9fQ==}
- apiVersion: v1
  kind: Pod
  metadata: {name: p}
  spec:
    imagePullSecrets: [{name: regcred}, {name: legacy}]
    containers: [{name: c, image: registry.example.com/app:v1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	k := cs[0].PullSecrets
	if got := k.Lookup("registry.example.com/app:v1"); len(got) != 1 || got[0].Username != "u" || got[0].Source != "Secret default/regcred" {
		t.Errorf("regcred: %v", got)
	}
	if got := k.Lookup("old.example/app"); len(got) != 1 || got[0].Auth != "dTp3" || got[0].Source != "Secret default/legacy" {
		t.Errorf("legacy: %v", got)
	}
	// Never in the pod's state.
	b, _ := json.Marshal(cs[0])
	if strings.Contains(string(b), "pw-s3cret") || strings.Contains(string(b), "dTp3") || strings.Contains(string(b), "auths") {
		t.Errorf("credentials in the marshalled config: %s", b)
	}
}

func TestObjectRefusals(t *testing.T) {
	pod := func(body string) string {
		return "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n" + body
	}
	tests := []struct {
		name, manifest string
		want           []string
	}{
		{"missing configMap", pod("    envFrom: [{configMapRef: {name: cm}}]\n"),
			[]string{`spec.containers[0].envFrom[0].configMapRef.name: ConfigMap "cm" is not in the manifest (give it beside the pod, or set optional: true)`}},
		{"missing key", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n---\n" +
			pod("    env: [{name: X, valueFrom: {secretKeyRef: {name: s, key: k}}}]\n"),
			[]string{`document 2: spec.containers[0].env[0].valueFrom.secretKeyRef.key: Secret "s" has no key "k"`}},
		{"other namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm, namespace: other}\n---\n" +
			pod("  volumes: [{name: v, configMap: {name: cm}}]\n"),
			[]string{`document 2: spec.volumes[0].configMap.name: ConfigMap "cm" is not in the manifest (give it beside the pod, or set optional: true)`}},
		{"item path", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {a: b}\n---\n" +
			pod("  volumes: [{name: v, configMap: {name: cm, items: [{key: a, path: ../x, mode: 01000}]}}]\n"),
			[]string{`document 2: spec.volumes[0].configMap.items[0].path: "../x" must not contain '..' or start with '..'`,
				"document 2: spec.volumes[0].configMap.items[0].mode: 01000 is not a file mode from 0 to 0777"}},
		{"downward", pod("  volumes: [{name: v, downwardAPI: {items: [{path: a, fieldRef: {fieldPath: status.podIP}}, {path: b, resourceFieldRef: {resource: limits.cpu}}]}}]\n"),
			[]string{`spec.volumes[0].downwardAPI.items[0].fieldRef.fieldPath: "status.podIP" is not one of metadata.name, metadata.namespace, metadata.uid, metadata.labels, metadata.annotations, metadata.labels['KEY'] or metadata.annotations['KEY']`,
				"spec.volumes[0].downwardAPI.items[1].resourceFieldRef.containerName: is required in a volume"}},
		{"resource", pod("    env: [{name: X, valueFrom: {resourceFieldRef: {resource: limits.cpu, divisor: 2}}}, {name: Z, valueFrom: {resourceFieldRef: {resource: limits.ephemeral-storage}}}]\n"),
			[]string{"spec.containers[0].env[0].valueFrom.resourceFieldRef.divisor: 2: a cpu divisor is 1 or 1m",
				`spec.containers[0].env[1].valueFrom.resourceFieldRef.resource: "limits.ephemeral-storage" not supported by podbox (only limits.cpu, requests.cpu, limits.memory and requests.memory)`}},
		{"bad objects", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name, generateName: x}\ndata: {\"a b\": c}\nextra: 1\n---\n" + pod(""),
			[]string{"document 1: extra: unknown field",
				"document 1: metadata.generateName: not supported by podbox",
				`document 1: metadata.name: "Bad_Name": a lowercase RFC 1123 subdomain must consist of`,
				`document 1: data[a b]: key "a b": a valid config key must consist of`}},
		{"pull secrets", "apiVersion: v1\nkind: Secret\nmetadata: {name: opaque}\nstringData: {a: b}\n---\n" +
			"apiVersion: v1\nkind: Secret\nmetadata: {name: nokey}\ntype: kubernetes.io/dockerconfigjson\nstringData: {a: b}\n---\n" +
			"apiVersion: v1\nkind: Secret\nmetadata: {name: broken}\ntype: kubernetes.io/dockercfg\nstringData: {.dockercfg: \"[\"}\n---\n" +
			pod("  imagePullSecrets: [{name: absent}, {name: opaque}, {name: nokey}, {name: broken}, {}]\n"),
			[]string{`document 4: spec.imagePullSecrets[0].name: Secret "absent" is not in the manifest (give it beside the pod, or with --configmap)`,
				`document 4: spec.imagePullSecrets[1].name: Secret "opaque" is of type Opaque, not kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg`,
				`document 4: spec.imagePullSecrets[2].name: Secret "nokey" (type kubernetes.io/dockerconfigjson) has no key ".dockerconfigjson"`,
				`document 4: spec.imagePullSecrets[3].name: Secret "broken": key ".dockercfg": not a .dockercfg`,
				`document 4: spec.imagePullSecrets[4].name: is required`}},
		{"twice", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\n---\n" + pod(""),
			[]string{`document 2: metadata.name: ConfigMap "cm" is given twice`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAll([]byte(tt.manifest))
			if err == nil {
				t.Fatalf("parsed:\n%s", tt.manifest)
			}
			got := strings.Split(err.Error(), "\n")
			ok := len(got) == len(tt.want)
			for i := 0; ok && i < len(got); i++ {
				ok = strings.HasPrefix(got[i], tt.want[i])
			}
			if !ok {
				t.Errorf("errors\n%s\nwant\n%s", err, strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestObjectsApart gives ConfigMaps and Secrets in files of their own
// (podbox run --configmap).
func TestObjectsApart(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cm := write("cm.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {LEVEL: debug}\n---\n"+
		"apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\nstringData: {password: hunter2}\n")
	list := write("list.json", `{"apiVersion":"v1","kind":"List","items":[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"more"},"data":{"X":"1"}}]}`)
	objs, err := LoadObjects(cm, list)
	if err != nil {
		t.Fatal(err)
	}
	pod := "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    image: busybox\n" +
		"    envFrom: [{configMapRef: {name: settings}}, {configMapRef: {name: more}}]\n" +
		"    env: [{name: P, valueFrom: {secretKeyRef: {name: creds, key: password}}}]\n"
	cs, err := ParseAllWith([]byte(pod), objs)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "env", cs[0].Containers[0].Env, []sandbox.EnvVar{{Name: "LEVEL", Value: "debug"}, {Name: "X", Value: "1"}, {Name: "P", Value: "hunter2"}})

	// A name in both the pod's file and a --configmap file, or in two of
	// those, is refused, naming the other file.
	_, err = ParseAllWith([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n---\n"+pod), objs)
	if err == nil || !strings.Contains(err.Error(), `document 1: metadata.name: ConfigMap "settings" is also given in "`+cm+`" (--configmap)`) {
		t.Errorf("a ConfigMap in both: %v", err)
	}
	again := write("again.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: creds}\n")
	if _, err := LoadObjects(cm, again); err == nil || !strings.Contains(err.Error(), `"`+again+`": document 1: metadata.name: Secret "creds" is also given in "`+cm+`"`) {
		t.Errorf("two files: %v", err)
	}
	for body, want := range map[string]string{
		pod: `document 1: kind: a Pod: this file holds only ConfigMaps and Secrets`,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n": `document 2: metadata.name: ConfigMap "a" is given twice`,
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ../a}\n":                                                         `metadata.name: "../a"`,
		"":                                     "holds no ConfigMap or Secret",
		strings.Repeat("#", MaxManifestSize+1): "over 3145728 bytes",
	} {
		if _, err := LoadObjects(write("bad.yaml", body)); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "bad.yaml") {
			t.Errorf("LoadObjects(%.40q): %v, want %q", body, err, want)
		}
	}
}
