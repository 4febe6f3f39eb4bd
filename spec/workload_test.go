package spec

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
)

const clusterFields = `apiVersion: v1
kind: Pod
metadata: {name: sched}
spec:
  nodeSelector: {disktype: ssd}
  nodeName: node-1
  setHostnameAsFQDN: true
  priorityClassName: high
  serviceAccountName: builder
  automountServiceAccountToken: false
  tolerations: [{key: k, operator: Exists}]
  affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: a, operator: In, values: [b]}]}]}}}
  topologySpreadConstraints: [{maxSkew: 1, topologyKey: zone, whenUnsatisfiable: DoNotSchedule}]
  containers:
  - name: c
    image: busybox
    resizePolicy: [{resourceName: cpu, restartPolicy: NotRequired}]
    resources:
      limits: {example.com/dongle: "1", memory: 64Mi}
`

// Fields that only matter to a cluster are accepted with one warning line
// naming them, and refused with Strict.
func TestIgnoredFields(t *testing.T) {
	res, err := ParseWith([]byte(clusterFields), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := `pod "sched": podbox does not act on spec.affinity, spec.containers[0].resizePolicy, ` +
		`spec.containers[0].resources.limits[example.com/dongle], spec.nodeName, spec.nodeSelector, ` +
		`spec.priorityClassName, spec.serviceAccountName, spec.setHostnameAsFQDN, spec.tolerations, spec.topologySpreadConstraints (they only matter to a cluster)`
	if len(res.Warnings) != 1 || res.Warnings[0] != want {
		t.Errorf("warnings = %q\nwant one: %q", res.Warnings, want)
	}
	if res.Pods[0].Containers[0].MemoryLimit != 64<<20 {
		t.Errorf("the memory limit beside an extended resource is lost: %+v", res.Pods[0].Containers[0])
	}
	_, err = ParseWith([]byte(clusterFields), Options{Strict: true})
	if err == nil || !errors.Is(err, ErrIgnored) {
		t.Fatalf("Strict: %v, want ErrIgnored", err)
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 10 || lines[0] != "spec.affinity: only matters to a cluster: podbox does not act on it" {
		t.Errorf("Strict errors:\n%v", err)
	}
	// A pod that says what podbox does anyway gets no warning.
	res, err = ParseWith([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p, managedFields: [{manager: kubectl, operation: Update}]}\nspec: {automountServiceAccountToken: false, enableServiceLinks: false, containers: [{name: pause, image: busybox}]}\n"), Options{Strict: true})
	if err != nil || len(res.Warnings) != 0 {
		t.Errorf("a plain pod (with a container named pause): %v, warnings %q", err, res.Warnings)
	}
	// hugepages stay refused: a limit podbox can not enforce.
	_, err = Parse([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox, resources: {limits: {hugepages-2Mi: 2Mi, kubernetes.io/x: 1}}}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "limits[hugepages-2Mi]: not supported by podbox") || !strings.Contains(err.Error(), "limits[kubernetes.io/x]: not supported by podbox") {
		t.Errorf("hugepages: %v", err)
	}
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {team: a}}
spec:
  replicas: 3
  strategy: {type: RollingUpdate}
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}, annotations: {note: x}}
    spec:
      nodeSelector: {a: b}
      containers:
      - {name: web, image: busybox, args: [httpd, -f]}
`

func TestWorkloads(t *testing.T) {
	res, err := ParseWith([]byte(deployment), Options{Keep: true})
	if err != nil {
		t.Fatal(err)
	}
	c := res.Pods[0]
	equal(t, "name", c.Name, "web-pod")
	equal(t, "labels", c.Labels, map[string]string{"app": "web"})
	equal(t, "annotations", c.Annotations, map[string]string{"note": "x"})
	equal(t, "restartPolicy", c.RestartPolicy, "Always")
	equal(t, "warnings", res.Warnings, []string{`Deployment "web" (pod "web-pod"): podbox does not act on spec.replicas, spec.strategy, spec.template.spec.nodeSelector (they only matter to a cluster)`})
	var p v1.Pod
	if err := json.Unmarshal(c.Manifest, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "Deployment" || p.OwnerReferences[0].Name != "web" || p.OwnerReferences[0].APIVersion != "apps/v1" {
		t.Errorf("ownerReferences = %+v", p.OwnerReferences)
	}
	// The pod podbox get shows loads again (ownerReferences: ignored).
	if _, err := Parse(c.Manifest); err != nil {
		t.Errorf("the kept pod does not load again: %v", err)
	}

	job := `apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  backoffLimit: 2
  activeDeadlineSeconds: 30
  template:
    spec:
      activeDeadlineSeconds: 60
      restartPolicy: Never
      containers: [{name: pi, image: busybox, command: [sh, -c, "exit 1"]}]
`
	c, err = Parse([]byte(job))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "job pod", c.Name, "pi-pod")
	equal(t, "backoffLimit", *c.BackoffLimit, int32(2))
	equal(t, "deadline", *c.ActiveDeadlineSeconds, int64(30))
	equal(t, "job labels", c.Labels, map[string]string{"batch.kubernetes.io/job-name": "pi", "job-name": "pi"})
	equal(t, "restartPolicy", c.RestartPolicy, "Never")
	c, err = Parse([]byte(strings.Replace(job, "  backoffLimit: 2\n", "", 1)))
	if err != nil || *c.BackoffLimit != 6 {
		t.Errorf("default backoffLimit: %v %v", err, c)
	}

	cron := `apiVersion: batch/v1
kind: CronJob
metadata: {name: hello}
spec:
  schedule: "* * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: hello, image: busybox, args: [date]}]
`
	res, err = ParseWith([]byte(cron), Options{})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "cron pod", res.Pods[0].Name, "hello-pod")
	equal(t, "cron warning", res.Warnings, []string{`CronJob "hello" (pod "hello-pod"): its job runs once, now: podbox does not act on spec.schedule (they only matter to a cluster)`})

	sts := "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: db}\nspec:\n  serviceName: db\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: db, image: busybox}]}\n"
	c, err = Parse([]byte(sts))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "sts labels", c.Labels, map[string]string{"app": "db", "statefulset.kubernetes.io/pod-name": "db-pod", "apps.kubernetes.io/pod-index": "0"})
	// volumeClaimTemplates: claims named as the controller names them.
	res, err = ParseWith([]byte(strings.Replace(sts, "  serviceName: db\n", "  serviceName: db\n  volumeClaimTemplates:\n  - metadata: {name: www}\n    spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}\n", 1)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	vols := res.Pods[0].Volumes
	if len(vols) != 1 || vols[0].Name != "www" || vols[0].PersistentVolumeClaim == nil || vols[0].PersistentVolumeClaim.ClaimName != "www-db-0" {
		t.Errorf("volumes = %+v", vols)
	}
	equal(t, "sts warning", res.Warnings, []string{`StatefulSet "db" (pod "db-pod"): podbox does not act on spec.serviceName, spec.volumeClaimTemplates[0].spec.accessModes, spec.volumeClaimTemplates[0].spec.resources (they only matter to a cluster)`})
	for _, kind := range []string{"ReplicaSet", "DaemonSet"} {
		if _, err := Parse([]byte(strings.Replace(strings.Replace(deployment, "Deployment", kind, 1), "  strategy: {type: RollingUpdate}\n", "", 1))); err != nil && kind == "ReplicaSet" {
			t.Errorf("%s: %v", kind, err)
		} else if kind == "DaemonSet" && (err == nil || !strings.Contains(err.Error(), "spec.replicas: unknown field")) {
			t.Errorf("DaemonSet with replicas: %v", err)
		}
	}
}

func TestWorkloadRefusals(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"selector", strings.Replace(deployment, "{app: web}}\n  template", "{app: api}}\n  template", 1),
			[]string{`spec.template.metadata.labels: the selector "app=api" does not match the template's labels`}},
		{"no selector", strings.Replace(deployment, "  selector: {matchLabels: {app: web}}\n", "", 1),
			[]string{"spec.selector: is required"}},
		{"template errors have the template's paths", strings.Replace(deployment, "image: busybox", "image: busybox, volumeDevices: [{name: d, devicePath: /dev/x}], workingDir: rel", 1),
			[]string{"spec.template.spec.containers[0].volumeDevices: not supported by podbox",
				`spec.template.spec.containers[0].workingDir: "rel" is not an absolute path`}},
		{"deployment restartPolicy", strings.Replace(deployment, "      containers:", "      restartPolicy: Never\n      containers:", 1),
			[]string{`spec.template.spec.restartPolicy: "Never": a Deployment's pod takes only Always`}},
		{"job restartPolicy", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\nspec:\n  backoffLimit: -1\n  suspend: true\n  podFailurePolicy: {rules: []}\n  template:\n    spec: {containers: [{name: c, image: busybox}]}\n",
			[]string{`spec.suspend: not supported by podbox (only false is accepted)`,
				`spec.template.spec.restartPolicy: "": a Job's pod takes OnFailure or Never`, "spec.backoffLimit: -1 is negative"}},
		{"volume claim templates", "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: s}\nspec:\n  selector: {matchLabels: {a: b}}\n  volumeClaimTemplates: [{metadata: {name: data}, spec: {volumeMode: Block}}, {metadata: {name: Bad}}]\n  template:\n    metadata: {labels: {a: b}}\n    spec: {volumes: [{name: data, emptyDir: {}}], containers: [{name: c, image: busybox}]}\n",
			[]string{"spec.volumeClaimTemplates[0].spec.volumeMode: not supported by podbox (only Filesystem is accepted)",
				`spec.volumeClaimTemplates[1].metadata.name: "Bad" is not a DNS-1123 label`,
				`spec.volumeClaimTemplates[0].metadata.name: "data" is also a volume of the template`}},
		{"long name", "apiVersion: batch/v1\nkind: Job\nmetadata: {name: " + strings.Repeat("a", 61) + "}\nspec:\n  template:\n    spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}\n",
			[]string{`metadata.name: "` + strings.Repeat("a", 61) + `" names the pod "` + strings.Repeat("a", 61) + `-pod", which is longer than 63 characters`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.raw))
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("no line has %q; error:\n%v", w, err)
				}
			}
			if n := len(strings.Split(err.Error(), "\n")); n != len(tc.want) {
				t.Errorf("%d lines, want %d:\n%v", n, len(tc.want), err)
			}
		})
	}
}

// Several pods and workloads in one file, with the ConfigMaps every one
// of them may use; a pod name made twice is refused.
func TestSeveralPods(t *testing.T) {
	doc := `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: a}
  spec: {containers: [{name: c, image: busybox, envFrom: [{configMapRef: {name: cfg}}]}]}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: cfg}
  data: {K: v}
---
` + deployment
	cs, err := ParseAll([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Name != "a" || cs[1].Name != "web-pod" || cs[0].Containers[0].Env[0].Value != "v" {
		t.Errorf("pods = %+v", cs)
	}
	twice := deployment + "---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-pod}\nspec: {containers: [{name: c, image: busybox}]}\n"
	_, err = ParseAll([]byte(twice))
	if err == nil || err.Error() != `document 2: metadata.name: pod "web-pod" is also made by document 1` {
		t.Errorf("a pod made twice: %v", err)
	}
}

// generateName, as the API server: a name of the prefix and 5 random
// characters, for a pod or a workload.
func TestGenerateName(t *testing.T) {
	for _, tc := range []struct{ doc, prefix, suffix string }{
		{"apiVersion: v1\nkind: Pod\nmetadata: {generateName: hello-}\nspec: {containers: [{name: c, image: busybox}]}\n", "hello-", ""},
		{"apiVersion: batch/v1\nkind: Job\nmetadata: {generateName: pi-}\nspec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox}]}}}\n", "pi-", "-pod"},
		{"apiVersion: v1\nkind: Pod\nmetadata: {generateName: " + strings.Repeat("a", 70) + "}\nspec: {containers: [{name: c, image: busybox}]}\n", strings.Repeat("a", 58), ""},
	} {
		c, err := Parse([]byte(tc.doc))
		if err != nil {
			t.Fatalf("%s: %v", tc.doc, err)
		}
		rest := strings.TrimSuffix(strings.TrimPrefix(c.Name, tc.prefix), tc.suffix)
		if !strings.HasPrefix(c.Name, tc.prefix) || !strings.HasSuffix(c.Name, tc.suffix) || len(rest) != 5 {
			t.Errorf("name %q: want %q, 5 characters, %q", c.Name, tc.prefix, tc.suffix)
		}
	}
	if _, err := Parse([]byte("apiVersion: v1\nkind: Pod\nmetadata: {}\nspec: {containers: [{name: c, image: busybox}]}\n")); err == nil || !strings.Contains(err.Error(), "metadata.name: name is required") {
		t.Errorf("no name: %v", err)
	}
}
