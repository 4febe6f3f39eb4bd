package spec

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const mi = 1 << 20

func ptr[T any](v T) *T { return &v }

func load(t *testing.T, name string) *sandbox.PodConfig {
	t.Helper()
	c, err := Load(filepath.Join("..", "testdata", "pods", name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return c
}

func names(cs []sandbox.ContainerConfig) []string {
	var n []string
	for _, c := range cs {
		n = append(n, c.Name)
	}
	return n
}

func equal[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// The testdata manifests are the end-to-end tests' and the demo's: each
// loads and says what it is meant to.
func TestTestdataPods(t *testing.T) {
	t.Run("two-containers-shared-hostpath", func(t *testing.T) {
		c := load(t, "two-containers-shared-hostpath.yaml")
		equal(t, "containers", names(c.Containers), []string{"writer", "reader"})
		equal(t, "volumes", c.Volumes, []sandbox.Volume{{Name: "shared",
			HostPath: &sandbox.HostPathVolume{Path: "/tmp/podbox-shared", Type: "DirectoryOrCreate"}}})
		equal(t, "writer mounts", c.Containers[0].VolumeMounts, []sandbox.VolumeMount{{Name: "shared", Target: "/shared"}})
		equal(t, "reader mounts", c.Containers[1].VolumeMounts, []sandbox.VolumeMount{{Name: "shared", Target: "/shared", ReadOnly: true}})
	})
	t.Run("web", func(t *testing.T) {
		c := load(t, "web.yaml")
		equal(t, "name", c.Name, "web")
		equal(t, "containers", names(c.Containers), []string{"server", "writer"})
		srv, w := c.Containers[0], c.Containers[1]
		equal(t, "server command", srv.Command, []string{"sh", "-c", "trap 'exit 0' TERM; httpd -f -p 80 -h /www & wait"})
		equal(t, "server ports", srv.Ports, []sandbox.Port{{Name: "http", ContainerPort: 80, HostPort: 8080, Protocol: "TCP"}})
		equal(t, "volumes", c.Volumes, []sandbox.Volume{{Name: "www", EmptyDir: &sandbox.EmptyDirVolume{}}})
		equal(t, "writer env", w.Env, []sandbox.EnvVar{{Name: "POD_NAME", FieldPath: "metadata.name"}, {Name: "POD_IP", FieldPath: "status.podIP"}})
		for _, ctr := range c.Containers {
			if ctr.Image != "busybox" || ctr.VolumeMounts[0].Target != "/www" {
				t.Errorf("container %s: image %q, mounts %v", ctr.Name, ctr.Image, ctr.VolumeMounts)
			}
		}
	})
	t.Run("init-artifact", func(t *testing.T) {
		c := load(t, "init-artifact.yaml")
		equal(t, "init containers", names(c.InitContainers), []string{"fetch"})
		equal(t, "init restartPolicy", c.InitContainers[0].RestartPolicy, sandbox.RestartPolicy(""))
		equal(t, "containers", names(c.Containers), []string{"server"})
		equal(t, "ports", c.Containers[0].Ports, []sandbox.Port{{Name: "http", ContainerPort: 8080, HostPort: 8001, Protocol: "TCP"}})
		equal(t, "init mount", c.InitContainers[0].VolumeMounts[0].Name, "artifacts")
		equal(t, "server mount", c.Containers[0].VolumeMounts[0], sandbox.VolumeMount{Name: "artifacts", Target: "/srv", ReadOnly: true})
	})
	t.Run("log-sidecar", func(t *testing.T) {
		c := load(t, "log-sidecar.yaml")
		equal(t, "sidecar", names(c.InitContainers), []string{"log-shipper"})
		equal(t, "sidecar restartPolicy", c.InitContainers[0].RestartPolicy, sandbox.RestartAlways)
		equal(t, "sidecar command", c.InitContainers[0].Command, []string{"sh", "-c", "trap 'exit 0' TERM; until [ -e /var/log/app.log ]; do sleep 0.2; done; tail -F /var/log/app.log & wait"})
		equal(t, "app mount", c.Containers[0].VolumeMounts, []sandbox.VolumeMount{{Name: "logs", Target: "/var/log"}})
	})
	t.Run("admission", func(t *testing.T) {
		c := load(t, "admission.yaml")
		equal(t, "containers", names(c.Containers), []string{"a", "b", "c"})
		for _, ctr := range c.Containers {
			equal(t, ctr.Name+" memory limit", ctr.MemoryLimit, int64(1<<30))
		}
		equal(t, "pod memory limit", c.MemoryLimit, int64(0))
	})
	t.Run("oom", func(t *testing.T) {
		c := load(t, "oom.yaml")
		equal(t, "restartPolicy", c.RestartPolicy, sandbox.RestartAlways)
		equal(t, "pod memory limit", c.MemoryLimit, int64(64*mi))
		equal(t, "containers", names(c.Containers), []string{"hog", "idle"})
		equal(t, "hog limit", c.Containers[0].MemoryLimit, int64(0))
		equal(t, "idle limit", c.Containers[1].MemoryLimit, int64(16*mi))
		if !strings.Contains(strings.Join(c.Containers[0].Command, " "), "bs=100M") {
			t.Errorf("hog command %q does not allocate 100M", c.Containers[0].Command)
		}
	})
	t.Run("shared-network", func(t *testing.T) {
		c := load(t, "shared-network.yaml")
		equal(t, "containers", names(c.Containers), []string{"one", "two"})
		equal(t, "hostNetwork", c.HostNetwork, false)
	})
}

func manifests(t *testing.T) []string {
	files, err := filepath.Glob(filepath.Join("..", "testdata", "pods", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata manifests: %v", err)
	}
	return files
}

// Every testdata manifest: all images are busybox, the JSON form gives the
// same config, and so does the pod written back with status and
// server-set metadata, as `podbox get pod -o yaml` or kubectl print it.
func TestTestdataRoundTrip(t *testing.T) {
	for _, f := range manifests(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			want, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			for _, ctr := range append(want.InitContainers, want.Containers...) {
				if ctr.Image != "busybox" {
					t.Errorf("container %s: image %q, want busybox", ctr.Name, ctr.Image)
				}
			}

			j, err := yaml.YAMLToJSON(data)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(j)
			if err != nil {
				t.Fatalf("as JSON: %v", err)
			}
			equal(t, "config from JSON", got, want)

			var p v1.Pod
			if err := yaml.UnmarshalStrict(data, &p); err != nil {
				t.Fatal(err)
			}
			p.UID = "0b7c4b5e-2b0e-4c1e-9d43-2d6b4f3f2a10"
			p.ResourceVersion = "1"
			p.CreationTimestamp = metav1.Now()
			p.Status = v1.PodStatus{Phase: v1.PodRunning, PodIP: "10.88.0.2",
				ContainerStatuses: []v1.ContainerStatus{{Name: p.Spec.Containers[0].Name, Ready: true, RestartCount: 1}}}
			out, err := yaml.Marshal(&p)
			if err != nil {
				t.Fatal(err)
			}
			got, err = Parse(out)
			if err != nil {
				t.Fatalf("written back: %v\n%s", err, out)
			}
			equal(t, "config written back", got, want)
		})
	}
}

// kubectl run --dry-run=client -o yaml writes this: the classic way to
// start a manifest.
const kubectlRun = `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    run: nginx
  name: nginx
spec:
  containers:
  - image: nginx
    name: nginx
    resources: {}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
`

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(kubectlRun))
	if err != nil {
		t.Fatal(err)
	}
	want := &sandbox.PodConfig{
		Name:          "nginx",
		Namespace:     "default",
		RestartPolicy: sandbox.RestartAlways,
		Labels:        map[string]string{"run": "nginx"},
		DNS:           sandbox.DNSConfig{Policy: "ClusterFirst"},
		Containers:    []sandbox.ContainerConfig{{Name: "nginx", Image: "nginx"}},
	}
	withAPIDefaults(want)
	equal(t, "config", c, want)

	c, err = Parse([]byte(`{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
		"spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 53, "protocol": "UDP"}, {"containerPort": 80}]}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "restartPolicy", c.RestartPolicy, sandbox.RestartAlways)
	equal(t, "namespace", c.Namespace, "default")
	equal(t, "dns policy", c.DNS.Policy, "ClusterFirst")
	equal(t, "grace", c.TerminationGracePeriodSeconds, (*int64)(nil))
	equal(t, "ports", c.Containers[0].Ports, []sandbox.Port{{ContainerPort: 53, Protocol: "UDP"}, {ContainerPort: 80, Protocol: "TCP"}})
}

// full sets every field podbox maps.
const full = `apiVersion: v1
kind: Pod
metadata:
  name: full
  namespace: team-a
  labels: {app: full, tier: web}
  annotations: {example.com/owner: me}
spec:
  restartPolicy: OnFailure
  terminationGracePeriodSeconds: 5
  hostname: box
  shareProcessNamespace: true
  dnsPolicy: None
  dnsConfig:
    nameservers: [1.1.1.1, "2606:4700:4700::1111"]
    searches: [example.com]
    options: [{name: ndots, value: "2"}, {name: edns0}]
  hostAliases:
  - {ip: 10.0.0.1, hostnames: [db, db.local]}
  automountServiceAccountToken: false
  enableServiceLinks: false
  hostUsers: true
  resources:
    requests: {memory: 256Mi, cpu: 500m}
    limits: {memory: 512Mi, cpu: "1"}
  securityContext:
    runAsUser: 1000
    runAsGroup: 1000
    sysctls:
    - {name: net.ipv4.ip_unprivileged_port_start, value: "0"}
    - {name: kernel.shm_rmid_forced, value: "1"}
  volumes:
  - name: data
    hostPath: {path: /srv/data, type: Directory}
  - name: cache
    emptyDir: {medium: Memory, sizeLimit: 64Mi}
  - name: scratch
    emptyDir: {}
  initContainers:
  - name: setup
    image: busybox:1.36
    imagePullPolicy: IfNotPresent
    command: [sh, -c, "echo ok"]
  - name: proxy
    image: busybox
    restartPolicy: Always
    args: [sleep, "3600"]
  containers:
  - name: app
    image: busybox
    imagePullPolicy: Never
    command: [sh]
    args: [-c, "exec sleep 3600"]
    workingDir: /work
    stdin: true
    tty: true
    env:
    - {name: B, value: "2"}
    - {name: A, value: "1"}
    - name: NS
      valueFrom: {fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}}
    ports:
    - {name: http, containerPort: 8080, hostPort: 18080, hostIP: 127.0.0.1}
    - {name: dns, containerPort: 53, protocol: UDP}
    volumeMounts:
    - {name: data, mountPath: /data, readOnly: true, subPath: app, mountPropagation: HostToContainer}
    - {name: cache, mountPath: /cache}
    resources:
      requests: {memory: 64Mi, cpu: 100m}
      limits: {memory: 128Mi, cpu: 250m}
    securityContext:
      runAsUser: 0
      readOnlyRootFilesystem: true
      capabilities: {add: [NET_ADMIN], drop: [ALL]}
  - name: privileged
    image: busybox
    securityContext:
      privileged: true
      runAsGroup: 7
    volumeMounts:
    - {name: scratch, mountPath: /scratch, mountPropagation: Bidirectional}
`

func TestFullMapping(t *testing.T) {
	c, err := Parse([]byte(full))
	if err != nil {
		t.Fatal(err)
	}
	want := &sandbox.PodConfig{
		Name:                          "full",
		Namespace:                     "team-a",
		Hostname:                      "box",
		ShareProcessNamespace:         true,
		MemoryLimit:                   512 * mi,
		TerminationGracePeriodSeconds: ptr(int64(5)),
		RestartPolicy:                 sandbox.RestartOnFailure,
		Labels:                        map[string]string{"app": "full", "tier": "web"},
		Annotations:                   map[string]string{"example.com/owner": "me"},
		HostAliases:                   []sandbox.HostAlias{{IP: "10.0.0.1", Hostnames: []string{"db", "db.local"}}},
		DNS: sandbox.DNSConfig{Policy: "None", Nameservers: []string{"1.1.1.1", "2606:4700:4700::1111"},
			Searches: []string{"example.com"}, Options: []string{"ndots:2", "edns0"}},
		Sysctls: []sandbox.Sysctl{{Name: "net.ipv4.ip_unprivileged_port_start", Value: "0"}, {Name: "kernel.shm_rmid_forced", Value: "1"}},
		Volumes: []sandbox.Volume{
			{Name: "data", HostPath: &sandbox.HostPathVolume{Path: "/srv/data", Type: "Directory"}},
			{Name: "cache", EmptyDir: &sandbox.EmptyDirVolume{Medium: "Memory", SizeLimit: 64 * mi}},
			{Name: "scratch", EmptyDir: &sandbox.EmptyDirVolume{}},
		},
		InitContainers: []sandbox.ContainerConfig{
			{Name: "setup", Image: "busybox:1.36", ImagePullPolicy: "IfNotPresent", Command: []string{"sh", "-c", "echo ok"}, UID: ptr(int64(1000)), GID: ptr(int64(1000))},
			{Name: "proxy", Image: "busybox", Args: []string{"sleep", "3600"}, RestartPolicy: sandbox.RestartAlways, UID: ptr(int64(1000)), GID: ptr(int64(1000))},
		},
		Containers: []sandbox.ContainerConfig{
			{
				Name: "app", Image: "busybox", ImagePullPolicy: "Never", Command: []string{"sh"}, Args: []string{"-c", "exec sleep 3600"},
				WorkingDir: "/work", Stdin: true, TTY: true,
				Env: []sandbox.EnvVar{{Name: "B", Value: "2", Expand: true}, {Name: "A", Value: "1", Expand: true}, {Name: "NS", FieldPath: "metadata.namespace"}},
				Ports: []sandbox.Port{
					{Name: "http", ContainerPort: 8080, HostPort: 18080, Protocol: "TCP", HostIP: "127.0.0.1"},
					{Name: "dns", ContainerPort: 53, Protocol: "UDP"},
				},
				VolumeMounts: []sandbox.VolumeMount{
					{Name: "data", Target: "/data", ReadOnly: true, SubPath: "app", Propagation: "HostToContainer"},
					{Name: "cache", Target: "/cache"},
				},
				MemoryLimit: 128 * mi, MemoryRequest: 64 * mi, CPULimitMillis: 250, CPURequestMillis: 100, UID: ptr(int64(0)), GID: ptr(int64(1000)), ReadOnlyRootfs: true,
				CapAdd: []string{"NET_ADMIN"}, CapDrop: []string{"ALL"},
			},
			{
				Name: "privileged", Image: "busybox", Privileged: true, UID: ptr(int64(1000)), GID: ptr(int64(7)),
				VolumeMounts: []sandbox.VolumeMount{{Name: "scratch", Target: "/scratch", Propagation: "Bidirectional"}},
			},
		},
		CPULimitMillis: 1000, CPURequestMillis: 500,
	}
	withAPIDefaults(want)
	equal(t, "config", c, want)
}

// withAPIDefaults gives c's containers the API server's defaults that
// spec applies (the termination message's path and policy) and the
// kubelet's $(VAR) expansion of command and args.
func withAPIDefaults(c *sandbox.PodConfig) {
	for _, list := range [][]sandbox.ContainerConfig{c.InitContainers, c.Containers} {
		for i := range list {
			list[i].TerminationMessagePath = "/dev/termination-log"
			list[i].TerminationMessagePolicy = "File"
			list[i].ExpandCommand = true
		}
	}
}

// base is a valid pod that the refusal cases change.
func base() *v1.Pod {
	return &v1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: v1.PodSpec{
			Volumes: []v1.Volume{{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}}},
			Containers: []v1.Container{
				{Name: "c", Image: "busybox", Command: []string{"sleep", "1"}},
				{Name: "d", Image: "busybox", Command: []string{"sleep", "1"}},
			},
		},
	}
}

func TestBaseIsValid(t *testing.T) {
	b, err := yaml.Marshal(base())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Parse(b); err != nil {
		t.Fatal(err)
	}
}

func TestRefusals(t *testing.T) {
	mem := resource.MustParse
	tests := []struct {
		name string
		mut  func(p *v1.Pod) // changes base; or
		raw  string          // the whole manifest
		is   error           // what every error wraps (nil: not checked)
		want []string        // each a line of the error
	}{
		// Refused: not supported by podbox.
		{name: "volume devices", is: ErrUnsupported,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].VolumeDevices = []v1.VolumeDevice{{Name: "d", DevicePath: "/dev/x"}}
			},
			want: []string{"spec.containers[0].volumeDevices: not supported by podbox"}},
		{name: "init lifecycle", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.InitContainers = []v1.Container{{Name: "i", Image: "busybox",
					Lifecycle: &v1.Lifecycle{PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: []string{"x"}}}}}}
			},
			want: []string{"spec.initContainers[0].lifecycle: may not be set for init containers without restartPolicy: Always"}},
		{name: "ephemeral containers on create", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.EphemeralContainers = []v1.EphemeralContainer{{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
			},
			want: []string{"spec.ephemeralContainers: can not be set on create: add them to the running pod (podbox debug, AddEphemeralContainer)"}},
		{name: "configMap volume", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Volumes[0].VolumeSource = v1.VolumeSource{ConfigMap: &v1.ConfigMapVolumeSource{LocalObjectReference: v1.LocalObjectReference{Name: "cm"}}}
			},
			want: []string{`spec.volumes[0].configMap.name: ConfigMap "cm" is not in the manifest (give it beside the pod, or set optional: true)`}},
		{name: "pod fields", is: ErrUnsupported,
			mut: func(p *v1.Pod) {
				p.Spec.NodeSelector = map[string]string{"a": "b"}
				p.Spec.HostPID = true
				p.Spec.ServiceAccountName = "sa"
				p.Spec.Tolerations = []v1.Toleration{{Key: "k"}}
			},
			// The others only matter to a cluster: TestIgnoredFields.
			want: []string{"spec.hostPID: not supported by podbox"}},
		{name: "metadata", is: ErrUnsupported,
			mut: func(p *v1.Pod) {
				p.GenerateName = "p-" // beside a name: ignored, as the API server does
				p.Finalizers = []string{"x"}
			},
			want: []string{"metadata.finalizers: not supported by podbox"}},
		{name: "security context", is: ErrUnsupported,
			mut: func(p *v1.Pod) {
				p.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr(int64(2)), RunAsNonRoot: ptr(true),
					SELinuxOptions: &v1.SELinuxOptions{Level: "s0"}}
				p.Spec.Containers[1].SecurityContext = &v1.SecurityContext{AllowPrivilegeEscalation: ptr(false),
					SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeRuntimeDefault}}
			},
			// runAsNonRoot, allowPrivilegeEscalation, fsGroup and
			// seccompProfile are honoured: only the others are refused.
			want: []string{"spec.securityContext.seLinuxOptions: not supported by podbox"}},
		{name: "env from secret", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "S", ValueFrom: &v1.EnvVarSource{
					SecretKeyRef: &v1.SecretKeySelector{LocalObjectReference: v1.LocalObjectReference{Name: "s"}, Key: "k"}}}}
				p.Spec.Containers[0].EnvFrom = []v1.EnvFromSource{{Prefix: "X"}}
			},
			want: []string{`spec.containers[0].env[0].valueFrom.secretKeyRef.name: Secret "s" is not in the manifest`,
				"spec.containers[0].envFrom[0]: needs a configMapRef or a secretRef"}},
		{name: "field ref", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].Env = []v1.EnvVar{{Name: "N", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "spec.schedulerName"}}}}
			},
			want: []string{`spec.containers[0].env[0].valueFrom.fieldRef.fieldPath: "spec.schedulerName" is not one of metadata.name, metadata.namespace, metadata.uid, spec.nodeName`}},
		{name: "resources", is: ErrUnsupported,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].Resources.Limits = v1.ResourceList{"hugepages-2Mi": mem("2Mi"), "nvidia.com/gpu": mem("1")}
				p.Spec.Containers[0].Resources.Claims = []v1.ResourceClaim{{Name: "gpu"}}
				p.Spec.Resources = &v1.ResourceRequirements{Limits: v1.ResourceList{"ephemeral-storage": mem("1Gi")}}
			},
			want: []string{"spec.containers[0].resources.claims: not supported by podbox",
				"spec.containers[0].resources.limits[hugepages-2Mi]: not supported by podbox",
				"spec.resources.limits[ephemeral-storage]: not supported by podbox"}},
		{name: "hostUsers false with hostNetwork", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.HostUsers = ptr(false)
				p.Spec.HostNetwork = true
			},
			want: []string{"spec.hostUsers: false can not go with hostNetwork: true (a pod's user namespace can not own the host's namespaces)"}},
		{name: "sctp", is: ErrUnsupported,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 9, Protocol: v1.ProtocolSCTP}}
			},
			want: []string{"spec.containers[0].ports[0].protocol: SCTP not supported by podbox (only TCP and UDP)"}},
		{name: "hugepages", is: ErrUnsupported,
			mut:  func(p *v1.Pod) { p.Spec.Volumes[0].EmptyDir.Medium = v1.StorageMediumHugePages },
			want: []string{`spec.volumes[0].emptyDir.medium: HugePages not supported by podbox (only "" and Memory)`}},
		{name: "kind", is: ErrUnsupported,
			raw:  "apiVersion: v1\nkind: Service\nmetadata: {name: d}\nspec: {replicas: 1}\n",
			want: []string{`kind: "Service" not supported by podbox (only Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ConfigMap, Secret and a List of them)`}},
		{name: "workload api version", is: ErrUnsupported,
			raw:  "apiVersion: extensions/v1beta1\nkind: Deployment\nmetadata: {name: d}\n",
			want: []string{`apiVersion: "extensions/v1beta1" not supported by podbox (only apps/v1)`}},

		// Invalid manifests.
		{name: "no apiVersion", is: ErrInvalid,
			raw:  "kind: Pod\nmetadata: {name: p}\n",
			want: []string{"apiVersion: is required (v1)"}},
		{name: "not an object", is: ErrInvalid, raw: "- a\n- b\n",
			want: []string{"invalid pod manifest: a manifest is an object with apiVersion v1 and kind Pod"}},
		{name: "yaml syntax", is: ErrInvalid, raw: "apiVersion: v1\nkind: [\n",
			want: []string{"invalid pod manifest: document 1: yaml: line"}},
		{name: "unknown and miscased fields", is: ErrInvalid,
			raw: "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    Image: busybox\n    imagee: busybox\n  restartpolicy: Never\n",
			want: []string{"spec.containers[0].Image: unknown field", "spec.containers[0].imagee: unknown field",
				"spec.restartpolicy: unknown field", "spec.containers[0].image: an image is required"}},
		{name: "duplicate key", is: ErrInvalid,
			raw:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p, name: q}\n",
			want: []string{`key "name" already set in map`}},
		{name: "wrong type", is: ErrInvalid,
			raw:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox, command: sleep}]}\n",
			want: []string{"invalid pod manifest: json: cannot unmarshal string into Go struct field"}},
		{name: "bad quantity", is: ErrInvalid,
			raw:  "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c, image: busybox, resources: {limits: {memory: lots}}}]}\n",
			want: []string{"invalid pod manifest: quantities must match"}},
		{name: "names", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Name = "Web_1"
				p.Namespace = "-x"
				p.Spec.Hostname = "a.b"
				p.Spec.Containers[1].Name = ""
			},
			want: []string{`metadata.name: "Web_1" is not a DNS-1123 label`, `metadata.namespace: "-x" is not a DNS-1123 label`,
				`spec.hostname: "a.b" is not a DNS-1123 label`, "spec.containers[1].name: name is required"}},
		{name: "no name", is: ErrInvalid,
			mut:  func(p *v1.Pod) { p.Name = "" },
			want: []string{"metadata.name: name is required"}},
		{name: "labels", is: ErrInvalid,
			mut:  func(p *v1.Pod) { p.Labels = map[string]string{"a b": "c", "ok": "bad value!"} },
			want: []string{`metadata.labels[a b]: key "a b": name part must consist of`, `metadata.labels[ok]: value "bad value!": a valid label must be`}},
		{name: "duplicate container names", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.InitContainers = []v1.Container{{Name: "d", Image: "busybox"}}
				p.Spec.Containers[0].Name = "pause" // a name like any other
			},
			want: []string{`spec.containers[1].name: container name "d" is already used by spec.initContainers[0]`}},
		{name: "no containers", is: ErrInvalid,
			mut:  func(p *v1.Pod) { p.Spec.Containers = nil },
			want: []string{"spec.containers: a pod needs at least one container"}},
		{name: "image missing", is: ErrInvalid,
			mut:  func(p *v1.Pod) { p.Spec.Containers[1].Image = "" },
			want: []string{"spec.containers[1].image: an image is required"}},
		{name: "volumes", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Volumes = []v1.Volume{
					{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
					{Name: "data", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}}},
					{Name: "none"},
					{Name: "two", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{}, HostPath: &v1.HostPathVolumeSource{Path: "/x"}}},
					{Name: "hp", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "rel", Type: ptr(v1.HostPathType("Dir"))}}},
					{Name: "ed", VolumeSource: v1.VolumeSource{EmptyDir: &v1.EmptyDirVolumeSource{Medium: "Disk", SizeLimit: ptr(mem("-1Mi"))}}},
					{Name: "up", VolumeSource: v1.VolumeSource{HostPath: &v1.HostPathVolumeSource{Path: "/srv/data/../../etc"}}},
					{Name: "c1", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "../../etc"}}},
					{Name: "c2", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: ".."}}},
					{Name: "c3", VolumeSource: v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{}}},
					{Name: "i1", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{Reference: "../../etc:x", PullPolicy: "Sometimes"}}},
					{Name: "i2", VolumeSource: v1.VolumeSource{Image: &v1.ImageVolumeSource{}}},
				}
			},
			want: []string{`spec.volumes[1].name: volume "data" is defined twice`,
				`spec.volumes[2]: volume "none" has no source (hostPath, emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim or image)`,
				`spec.volumes[3]: volume "two" has 2 sources (hostPath, emptyDir), exactly one is allowed`,
				`spec.volumes[4].hostPath.path: "rel" is not an absolute path`,
				`spec.volumes[4].hostPath.type: "Dir" is not a hostPath type`,
				`spec.volumes[5].emptyDir.medium: "Disk" is not "" (disk) or Memory`,
				`spec.volumes[5].emptyDir.sizeLimit: -1Mi is negative`,
				`spec.volumes[6].hostPath.path: "/srv/data/../../etc" must not contain '..'`,
				`spec.volumes[7].persistentVolumeClaim.claimName: volume name "../../etc": not a DNS-1123 subdomain`,
				`spec.volumes[8].persistentVolumeClaim.claimName: volume name "..": not a DNS-1123 subdomain`,
				`spec.volumes[9].persistentVolumeClaim.claimName: is required`,
				`spec.volumes[10].image.reference: invalid image name "../../etc:x"`,
				`spec.volumes[10].image.pullPolicy: "Sometimes" is not Always, IfNotPresent or Never`,
				`spec.volumes[11].image.reference: is required`}},
		{name: "memory limits too small to start", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Resources = &v1.ResourceRequirements{Limits: v1.ResourceList{v1.ResourceMemory: mem("1Ki")}}
				p.Spec.Containers[1].Resources.Limits = v1.ResourceList{v1.ResourceMemory: mem("5Mi")}
			},
			want: []string{"spec.resources.limits[memory]: 1Ki is below 6Mi, the least a container (or pod) needs to start",
				"spec.containers[1].resources.limits[memory]: 5Mi is below 6Mi",
				"spec.containers[1].resources.limits[memory]: 5Mi is above the pod's limit 1Ki"}},
		{name: "annotations over 256 KiB", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Annotations = map[string]string{"a": strings.Repeat("x", 200<<10), "b": strings.Repeat("y", 100<<10)}
			},
			want: []string{"metadata.annotations: 307202 bytes in all, over the API server's 262144"}},
		{name: "ports", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].Ports = []v1.ContainerPort{
					{HostPort: 8080},
					{ContainerPort: 70000, HostPort: -1},
					{ContainerPort: 1, Protocol: "ICMP", HostIP: "localhost"},
					{Name: "http", ContainerPort: 80, HostPort: 8081},
					{Name: "http", ContainerPort: 81},
					{Name: "Not_A_Name", ContainerPort: 82},
				}
				p.Spec.Containers[1].Ports = []v1.ContainerPort{{ContainerPort: 80, HostPort: 8081, Protocol: "TCP"}}
			},
			want: []string{"spec.containers[0].ports[0].containerPort: a hostPort needs a containerPort",
				"spec.containers[0].ports[1].containerPort: 70000 is not a port number (1-65535)",
				"spec.containers[0].ports[1].hostPort: -1 is not a port number (1-65535)",
				`spec.containers[0].ports[2].protocol: "ICMP" is not TCP or UDP`,
				`spec.containers[0].ports[2].hostIP: "localhost" is not an IP address`,
				`spec.containers[0].ports[4].name: port name "http" is used twice`,
				`spec.containers[0].ports[5].name: "Not_A_Name"`,
				"spec.containers[1].ports[0].hostPort: 8081/TCP is already published by spec.containers[0].ports[3]"}},
		{name: "hostNetwork hostPort", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.Containers[0].Ports = []v1.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
			},
			want: []string{"spec.containers[0].ports[0].hostPort: with hostNetwork, hostPort 8080 must equal containerPort 80"}},
		{name: "volume mounts", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].VolumeMounts = []v1.VolumeMount{
					{Name: "data", MountPath: "rel"},
					{Name: "data", MountPath: "/"},
					{Name: "data", MountPath: "/a", SubPath: "/abs"},
					{Name: "data", MountPath: "/a/", SubPath: "x/../../y"},
					{Name: "data", MountPath: "/b", MountPropagation: ptr(v1.MountPropagationMode("Shared"))},
					{Name: "data", MountPath: "/c", MountPropagation: ptr(v1.MountPropagationBidirectional)},
				}
				p.Spec.Containers[1].VolumeMounts = []v1.VolumeMount{{Name: "logs", MountPath: "/logs"}}
			},
			want: []string{`spec.containers[0].volumeMounts[0].mountPath: "rel" is not an absolute path`,
				"spec.containers[0].volumeMounts[1].mountPath: a volume can not be mounted on /",
				`spec.containers[0].volumeMounts[2].subPath: "/abs" is absolute; it must be relative to the volume`,
				`spec.containers[0].volumeMounts[3].mountPath: "/a/" is mounted twice`,
				`spec.containers[0].volumeMounts[3].subPath: "x/../../y" has ".."; it must stay inside the volume`,
				`spec.containers[0].volumeMounts[4].mountPropagation: "Shared" is not None, HostToContainer or Bidirectional`,
				"spec.containers[0].volumeMounts[5].mountPropagation: Bidirectional is only allowed in a privileged container",
				`spec.containers[1].volumeMounts[0].name: volume "logs" is not defined`}},
		{name: "restart policies",
			mut: func(p *v1.Pod) {
				p.Spec.RestartPolicy = "Sometimes"
				p.Spec.InitContainers = []v1.Container{{Name: "i", Image: "busybox", RestartPolicy: ptr(v1.ContainerRestartPolicy("Sometimes"))},
					{Name: "s", Image: "busybox", RestartPolicy: ptr(v1.ContainerRestartPolicyAlways),
						RestartPolicyRules: []v1.ContainerRestartRule{{Action: "Restart", ExitCodes: &v1.ContainerRestartRuleOnExitCodes{Operator: "In", Values: []int32{1}}}}}}
				p.Spec.Containers[0].RestartPolicyRules = []v1.ContainerRestartRule{
					{Action: "Restart", ExitCodes: &v1.ContainerRestartRuleOnExitCodes{Operator: "Is", Values: []int32{1, 1}}},
					{Action: "Reboot"},
					{Action: "RestartAllContainers", ExitCodes: &v1.ContainerRestartRuleOnExitCodes{Operator: "In"}},
				}
				p.Spec.Containers[1].TerminationMessagePath = "/dev/../etc/x"
				p.Spec.Containers[1].TerminationMessagePolicy = "Always"
				p.Spec.ActiveDeadlineSeconds = ptr(int64(0))
			},
			want: []string{`spec.restartPolicy: "Sometimes" is not Always, OnFailure or Never`,
				`spec.activeDeadlineSeconds: 0 is not positive`,
				`spec.initContainers[0].restartPolicy: "Sometimes" is not Always, OnFailure or Never`,
				`spec.initContainers[1].restartPolicyRules: a native sidecar (restartPolicy Always) restarts on every exit: it takes no restart rules`,
				`spec.containers[0].restartPolicyRules: a container with restart rules needs its own restartPolicy`,
				`spec.containers[0].restartPolicyRules[0].exitCodes.operator: "Is" is not In or NotIn`,
				`spec.containers[0].restartPolicyRules[0].exitCodes.values[1]: 1 is given twice`,
				`spec.containers[0].restartPolicyRules[1].action: "Reboot" is not Restart`,
				`spec.containers[0].restartPolicyRules[1].exitCodes: is required`,
				`spec.containers[0].restartPolicyRules[2].action: RestartAllContainers not supported by podbox (only Restart)`,
				`spec.containers[1].terminationMessagePath: "/dev/../etc/x" is not an absolute path below / without ..`,
				`spec.containers[1].terminationMessagePolicy: "Always" is not File or FallbackToLogsOnError`,
			}},
		{name: "sysctls", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: []v1.Sysctl{
					{Name: "kernel.hostname", Value: "x"},
					{Name: "vm.swappiness", Value: "1"},
					{Name: "net..bad", Value: "1"},
					{Name: "kernel.sem", Value: "1 2 3 4"},
					{Name: "kernel.sem", Value: "1 2 3 4"},
				}}
			},
			want: []string{`spec.securityContext.sysctls[0].name: "kernel.hostname" is not a namespaced sysctl (only kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.*)`,
				`spec.securityContext.sysctls[1].name: "vm.swappiness" is not a namespaced sysctl`,
				`spec.securityContext.sysctls[2].name: "net..bad" is not a sysctl name`,
				`spec.securityContext.sysctls[4].name: "kernel.sem" is set twice`}},
		{name: "net sysctl with hostNetwork", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: []v1.Sysctl{{Name: "net.ipv4.ip_forward", Value: "1"}}}
			},
			want: []string{`spec.securityContext.sysctls[0].name: "net.ipv4.ip_forward" would change the host: net.* sysctls are not allowed with hostNetwork`}},
		{name: "grace period", is: ErrInvalid,
			mut:  func(p *v1.Pod) { p.Spec.TerminationGracePeriodSeconds = ptr(int64(-1)) },
			want: []string{"spec.terminationGracePeriodSeconds: -1 is negative"}},
		{name: "dns", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.DNSPolicy = v1.DNSNone
				p.Spec.DNSConfig = &v1.PodDNSConfig{Searches: []string{"bad_domain"}, Options: []v1.PodDNSConfigOption{{Name: ""}}}
			},
			want: []string{"spec.dnsConfig.nameservers: dnsPolicy None needs at least one nameserver",
				`spec.dnsConfig.searches[0]: "bad_domain"`, `spec.dnsConfig.options[0].name: "" is not a resolver option name`}},
		{name: "dns policy", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.DNSPolicy = "Bogus"
				p.Spec.DNSConfig = &v1.PodDNSConfig{Nameservers: []string{"1.1.1.1", "a", "3.3.3.3", "4.4.4.4"}}
			},
			want: []string{`spec.dnsPolicy: "Bogus" is not ClusterFirst, ClusterFirstWithHostNet, Default or None`,
				"spec.dnsConfig.nameservers: 4 nameservers, at most 3 are used",
				`spec.dnsConfig.nameservers[1]: "a" is not an IP address`}},
		{name: "host aliases", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.HostAliases = []v1.HostAlias{{IP: "1.2.3"}, {IP: "::1", Hostnames: []string{"Bad Name"}}}
			},
			want: []string{`spec.hostAliases[0].ip: "1.2.3" is not an IP address`, "spec.hostAliases[0].hostnames: at least one hostname is required", `spec.hostAliases[1].hostnames[0]: "Bad Name"`}},
		{name: "env", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].Env = []v1.EnvVar{
					{Name: "A=B", Value: "x"},
					{Name: "C", Value: "x", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
					{Name: "D", ValueFrom: &v1.EnvVarSource{}},
					{Name: "E", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{APIVersion: "v2", FieldPath: "metadata.name"}}},
				}
			},
			want: []string{`spec.containers[0].env[0].name: "A=B" is not a variable name`,
				"spec.containers[0].env[1]: value and valueFrom are both set",
				"spec.containers[0].env[2].valueFrom: needs exactly one of fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef",
				`spec.containers[0].env[3].valueFrom.fieldRef.apiVersion: "v2" is not v1`}},
		{name: "resources", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Resources = &v1.ResourceRequirements{Limits: v1.ResourceList{"memory": mem("64Mi"), "cpu": mem("500m")}}
				p.Spec.Containers[0].Resources = v1.ResourceRequirements{
					Limits:   v1.ResourceList{"memory": mem("128Mi"), "cpu": mem("1")},
					Requests: v1.ResourceList{"memory": mem("256Mi"), "cpu": mem("2")},
				}
				p.Spec.Containers[1].Resources = v1.ResourceRequirements{
					Limits:   v1.ResourceList{"memory": mem("0")},
					Requests: v1.ResourceList{"cpu": mem("-1")},
				}
				p.Spec.InitContainers = []v1.Container{{Name: "i", Image: "busybox", Resources: v1.ResourceRequirements{
					Limits: v1.ResourceList{"memory": mem("1e30")}}}}
			},
			want: []string{"spec.initContainers[0].resources.limits[memory]: 1e30 is too large",
				"spec.containers[0].resources.requests[memory]: 256Mi is above the limit 128Mi",
				"spec.containers[0].resources.requests[cpu]: 2 is above the limit 1",
				"spec.containers[0].resources.limits[memory]: 128Mi is above the pod's limit 64Mi",
				"spec.containers[0].resources.limits[cpu]: 1 is above the pod's limit 500m",
				"spec.containers[1].resources.limits[memory]: a memory limit of 0 would mean no limit; leave it out",
				"spec.containers[1].resources.requests[cpu]: -1 is negative"}},
		{name: "quantities beyond an int64", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.Resources = &v1.ResourceRequirements{
					Limits:   v1.ResourceList{"memory": mem("64Mi")},
					Requests: v1.ResourceList{"memory": mem("128Mi"), "cpu": mem("-1")},
				}
				p.Spec.Containers[0].Resources = v1.ResourceRequirements{
					Limits:   v1.ResourceList{"memory": mem("-1e30"), "cpu": mem("1e16")},
					Requests: v1.ResourceList{"ephemeral-storage": mem("-1Gi")},
				}
			},
			want: []string{"spec.resources.requests[memory]: 128Mi is above the limit 64Mi",
				"spec.resources.requests[cpu]: -1 is negative",
				"spec.containers[0].resources.limits[memory]: -1e30 is negative",
				"spec.containers[0].resources.limits[cpu]: 10e15 is too large",
				"spec.containers[0].resources.requests[ephemeral-storage]: -1Gi is negative"}},
		{name: "containers", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				c := &p.Spec.Containers[0]
				c.WorkingDir = "work"
				c.ImagePullPolicy = "Sometimes"
				c.SecurityContext = &v1.SecurityContext{RunAsUser: ptr(int64(-1)), RunAsGroup: ptr(int64(1 << 40)),
					Capabilities: &v1.Capabilities{Add: []v1.Capability{"NET ADMIN"}}}
				p.Spec.SecurityContext = &v1.PodSecurityContext{RunAsUser: ptr(int64(-5)), FSGroup: ptr(int64(-1)),
					FSGroupChangePolicy: ptr(v1.PodFSGroupChangePolicy("Sometimes"))}
			},
			want: []string{`spec.containers[0].workingDir: "work" is not an absolute path`,
				`spec.containers[0].imagePullPolicy: "Sometimes" is not Always, IfNotPresent or Never`,
				"spec.securityContext.runAsUser: -5 is not between 0 and 2147483647",
				"spec.securityContext.fsGroup: -1 is not between 0 and 2147483647",
				`spec.securityContext.fsGroupChangePolicy: "Sometimes" is not Always or OnRootMismatch`,
				"spec.containers[0].securityContext.runAsUser: -1 is not between 0 and 2147483647",
				"spec.containers[0].securityContext.runAsGroup: 1099511627776 is not between 0 and 2147483647",
				`spec.containers[0].securityContext.capabilities.add[0]: "NET ADMIN" is not a capability name`}},
		{name: "seccomp profiles", is: ErrInvalid,
			mut: func(p *v1.Pod) {
				p.Spec.SecurityContext = &v1.PodSecurityContext{SeccompProfile: &v1.SeccompProfile{Type: "Strict"}}
				p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost}}
				p.Spec.Containers[1].SecurityContext = &v1.SecurityContext{SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr("../etc/p.json")}}
				p.Spec.InitContainers = []v1.Container{{Name: "i", Image: "busybox", SecurityContext: &v1.SecurityContext{
					SeccompProfile: &v1.SeccompProfile{Type: v1.SeccompProfileTypeUnconfined, LocalhostProfile: ptr("p.json")}}}}
			},
			want: []string{`spec.securityContext.seccompProfile.type: "Strict" is not RuntimeDefault, Unconfined or Localhost`,
				"spec.initContainers[0].securityContext.seccompProfile.localhostProfile: only a Localhost profile has one",
				"spec.containers[0].securityContext.seccompProfile.localhostProfile: a Localhost profile needs one",
				`spec.containers[1].securityContext.seccompProfile.localhostProfile: "../etc/p.json" is not a relative path inside the profile directory`}},

		// Both kinds at once.
		{name: "unsupported and invalid together",
			mut: func(p *v1.Pod) {
				p.Spec.Containers[0].VolumeDevices = []v1.VolumeDevice{{Name: "d", DevicePath: "/dev/x"}}
				p.Spec.Containers[1].VolumeMounts = []v1.VolumeMount{{Name: "logs", MountPath: "/logs"}}
				p.Spec.Containers[1].Image = ""
			},
			want: []string{"spec.containers[0].volumeDevices: not supported by podbox",
				`spec.containers[1].volumeMounts[0].name: volume "logs" is not defined`,
				"spec.containers[1].image: an image is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := []byte(tt.raw)
			if tt.mut != nil {
				p := base()
				tt.mut(p)
				var err error
				if data, err = yaml.Marshal(p); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Parse(data)
			if err == nil {
				t.Fatalf("parsed, want an error; config %+v\nmanifest:\n%s", c, data)
			}
			if c != nil {
				t.Errorf("config %+v returned with the error", c)
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.Contains(l, w)
				}
				if !found {
					t.Errorf("no line has %q; error:\n%v", w, err)
				}
			}
			if len(lines) != len(tt.want) {
				t.Errorf("%d lines, want %d; error:\n%v", len(lines), len(tt.want), err)
			}
			if tt.is == nil {
				return
			}
			var list Errors
			if !errors.As(err, &list) {
				list = Errors{err}
			}
			for _, e := range list {
				if !errors.Is(e, tt.is) {
					t.Errorf("%q does not wrap %v", e, tt.is)
				}
			}
		})
	}
}

func TestErrorsAreFieldErrors(t *testing.T) {
	p := base()
	p.Spec.Containers[1].VolumeMounts = []v1.VolumeMount{{Name: "logs", MountPath: "/logs"}}
	p.Spec.Containers[0].VolumeDevices = []v1.VolumeDevice{{Name: "d", DevicePath: "/dev/x"}}
	data, _ := yaml.Marshal(p)
	_, err := Parse(data)
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("%v: no FieldError", err)
	}
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%v: want both ErrUnsupported and ErrInvalid", err)
	}
	var list Errors
	if !errors.As(err, &list) || len(list) != 2 {
		t.Fatalf("%v: want an Errors of 2", err)
	}
	fe = list[1].(*FieldError)
	if fe.Field != "spec.containers[1].volumeMounts[0].name" || fe.Msg != `volume "logs" is not defined` {
		t.Errorf("FieldError %+v", fe)
	}
}

const twoPods = `# two pods
apiVersion: v1
kind: Pod
metadata: {name: a}
spec: {containers: [{name: c, image: busybox}]}
---
---
apiVersion: v1
kind: Pod
metadata: {name: b}
spec: {containers: [{name: c, image: busybox}]}
---
`

func TestDocuments(t *testing.T) {
	cs, err := ParseAll([]byte(twoPods))
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 2 || cs[0].Name != "a" || cs[1].Name != "b" {
		t.Fatalf("ParseAll = %+v", cs)
	}
	if _, err := Parse([]byte(twoPods)); err == nil || err.Error() != "invalid pod manifest: the manifest holds 2 pods, podbox runs one at a time" || !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse of two pods: %v", err)
	}

	withService := twoPods + "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: B}\nspec: {containers: [{name: c, image: busybox}]}\n"
	_, err = ParseAll([]byte(withService))
	want := "document 3: kind: \"Service\" not supported by podbox (only Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ConfigMap, Secret and a List of them)\n" +
		"document 4: metadata.name: \"B\" is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)"
	if err == nil || err.Error() != want {
		t.Errorf("ParseAll with a Service:\n%v\nwant:\n%s", err, want)
	}
	if !errors.Is(err, ErrUnsupported) || !errors.Is(err, ErrInvalid) {
		t.Errorf("%v: want both ErrUnsupported and ErrInvalid", err)
	}

	for _, empty := range []string{"", "\n", "# nothing\n", "---\n---\n"} {
		if _, err := ParseAll([]byte(empty)); err == nil || !strings.Contains(err.Error(), "the manifest holds no pod") {
			t.Errorf("ParseAll(%q): %v", empty, err)
		}
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "pod.yaml")
	if err := os.WriteFile(f, []byte(twoPods), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(f)
	if err == nil || err.Error() != `manifest "`+f+`": invalid pod manifest: the manifest holds 2 pods, podbox runs one at a time` {
		t.Errorf("Load: %v", err)
	}
	if cs, err := LoadAll(f); err != nil || len(cs) != 2 {
		t.Errorf("LoadAll = %v, %v", cs, err)
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load of a missing file: %v", err)
	}

	// "-" is standard input.
	in := filepath.Join(dir, "stdin")
	if err := os.WriteFile(in, []byte(kubectlRun), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	stdin := os.Stdin
	os.Stdin = r
	defer func() { os.Stdin = stdin }()
	c, err := Load("-")
	if err != nil || c.Name != "nginx" {
		t.Errorf("Load(-) = %+v, %v", c, err)
	}

	c, err = Read(strings.NewReader(kubectlRun))
	if err != nil || c.Name != "nginx" {
		t.Errorf("Read = %+v, %v", c, err)
	}

	// Over the API server's 3 MiB, refused before it is all read.
	big := strings.NewReader(kubectlRun + "\n#" + strings.Repeat("x", MaxManifestSize))
	if _, err := Read(big); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "over 3145728 bytes") {
		t.Errorf("Read of a 3 MiB manifest: %v", err)
	}
	if big.Len() == 0 {
		t.Error("the whole oversized manifest was read")
	}
}

func TestSecurityContextDefaults(t *testing.T) {
	cfg, err := Parse([]byte(`apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 1000, supplementalGroups: [5, 6], fsGroup: 2000, fsGroupChangePolicy: OnRootMismatch}
  containers:
  - name: a
    image: busybox
    securityContext: {allowPrivilegeEscalation: true}
  - name: b
    image: busybox
    securityContext: {runAsNonRoot: false, runAsUser: 0, allowPrivilegeEscalation: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Containers[0], cfg.Containers[1]
	if cfg.FSGroup == nil || *cfg.FSGroup != 2000 || cfg.FSGroupChangePolicy != "OnRootMismatch" {
		t.Errorf("fsGroup %v, policy %q; want 2000, OnRootMismatch", cfg.FSGroup, cfg.FSGroupChangePolicy)
	}
	if !a.RunAsNonRoot || *a.UID != 1000 || a.AllowPrivilegeEscalation == nil || !*a.AllowPrivilegeEscalation || len(a.SupplementalGroups) != 2 {
		t.Errorf("a: %+v", a)
	}
	if b.RunAsNonRoot || *b.UID != 0 || *b.AllowPrivilegeEscalation || len(b.SupplementalGroups) != 2 {
		t.Errorf("b: %+v", b)
	}
}

func TestSeccompProfile(t *testing.T) {
	cfg, err := Parse([]byte(`apiVersion: v1
kind: Pod
metadata: {name: sec}
spec:
  securityContext: {seccompProfile: {type: Localhost, localhostProfile: profiles/deny.json}}
  containers:
  - name: a
    image: busybox
  - name: b
    image: busybox
    securityContext: {seccompProfile: {type: Unconfined}}
  - name: c
    image: busybox
    securityContext: {privileged: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"Localhost/profiles/deny.json", "Unconfined", "Unconfined"}
	for i, c := range cfg.Containers {
		if got := c.SeccompDescription(); got != want[i] {
			t.Errorf("container %s: seccomp %q, want %q", c.Name, got, want[i])
		}
	}
	cfg, err = Parse([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: d}\nspec: {containers: [{name: a, image: busybox}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Containers[0].SeccompDescription(); got != "RuntimeDefault" {
		t.Errorf("default seccomp %q, want RuntimeDefault", got)
	}
}

func TestHostUsers(t *testing.T) {
	for _, tc := range []struct {
		field string
		want  bool
	}{{"", false}, {"hostUsers: true", false}, {"hostUsers: false", true}} {
		cfg, err := Parse([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: u}\nspec:\n  " + tc.field + "\n  containers: [{name: a, image: busybox}]\n"))
		if err != nil {
			t.Fatalf("%q: %v", tc.field, err)
		}
		if cfg.UserNamespace != tc.want {
			t.Errorf("%q: UserNamespace %v, want %v", tc.field, cfg.UserNamespace, tc.want)
		}
	}
}
