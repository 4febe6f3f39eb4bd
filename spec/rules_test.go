package spec

import (
	"strings"
	"testing"

	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"
)

// TestRulesCheckedOnce: a rule spec and the sandbox share is checked by the
// sandbox's rules: a configuration built by hand that breaks it is refused
// by Validate (which Create runs) with the message a manifest gets, each
// naming the field (the manifest's path without "spec.", or where the
// configuration keeps it: a pod's runAsUser is its containers').
func TestRulesCheckedOnce(t *testing.T) {
	q := resource.MustParse
	for _, tc := range []struct {
		name           string
		manifest       func(p *v1.Pod)
		config         func(c *sandbox.PodConfig)
		mField, cField string
		msg            string
	}{
		{name: "runAsUser",
			manifest: func(p *v1.Pod) { p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{RunAsUser: ptr(int64(-1))} },
			config:   func(c *sandbox.PodConfig) { c.Containers[0].UID = ptr(int64(-1)) },
			mField:   "spec.containers[0].securityContext.runAsUser", cField: "containers[0].securityContext.runAsUser",
			msg: "-1 is not between 0 and 2147483647"},
		{name: "runAsGroup",
			manifest: func(p *v1.Pod) {
				p.Spec.Containers[0].SecurityContext = &v1.SecurityContext{RunAsGroup: ptr(int64(1 << 40))}
			},
			config: func(c *sandbox.PodConfig) { c.Containers[0].GID = ptr(int64(1 << 40)) },
			mField: "spec.containers[0].securityContext.runAsGroup", cField: "containers[0].securityContext.runAsGroup",
			msg: "1099511627776 is not between 0 and 2147483647"},
		{name: "the pod's runAsUser",
			manifest: func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{RunAsUser: ptr(int64(1 << 31))} },
			config:   func(c *sandbox.PodConfig) { c.Containers[0].UID = ptr(int64(1 << 31)) },
			mField:   "spec.securityContext.runAsUser", cField: "containers[0].securityContext.runAsUser",
			msg: "2147483648 is not between 0 and 2147483647"},
		{name: "supplementalGroups",
			manifest: func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{SupplementalGroups: []int64{5, -3}} },
			config:   func(c *sandbox.PodConfig) { c.Containers[0].SupplementalGroups = []int64{5, -3} },
			mField:   "spec.securityContext.supplementalGroups[1]", cField: "containers[0].securityContext.supplementalGroups[1]",
			msg: "-3 is not between 0 and 2147483647"},
		{name: "fsGroup",
			manifest: func(p *v1.Pod) { p.Spec.SecurityContext = &v1.PodSecurityContext{FSGroup: ptr(int64(-1))} },
			config:   func(c *sandbox.PodConfig) { c.FSGroup = ptr(int64(-1)) },
			mField:   "spec.securityContext.fsGroup", cField: "fsGroup",
			msg: "-1 is not between 0 and 2147483647"},
		{name: "a volume without a source",
			manifest: func(p *v1.Pod) { p.Spec.Volumes[0].VolumeSource = v1.VolumeSource{} },
			config:   func(c *sandbox.PodConfig) { c.Volumes[0].EmptyDir = nil },
			mField:   "spec.volumes[0]", cField: "volumes[0]",
			msg: `volume "data" has no source (hostPath, emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim or image)`},
		{name: "a volume with two sources",
			manifest: func(p *v1.Pod) { p.Spec.Volumes[0].HostPath = &v1.HostPathVolumeSource{Path: "/srv"} },
			config:   func(c *sandbox.PodConfig) { c.Volumes[0].HostPath = &sandbox.HostPathVolume{Path: "/srv"} },
			mField:   "spec.volumes[0]", cField: "volumes[0]",
			msg: `volume "data" has 2 sources (hostPath, emptyDir), exactly one is allowed`},
		{name: "a negative cpu request",
			manifest: func(p *v1.Pod) { p.Spec.Containers[0].Resources.Requests = v1.ResourceList{"cpu": q("-1")} },
			config:   func(c *sandbox.PodConfig) { c.Containers[0].CPURequestMillis = -1000 },
			mField:   "spec.containers[0].resources.requests[cpu]", cField: "containers[0].resources.requests[cpu]",
			msg: "-1 is negative"},
		{name: "a negative pod memory limit",
			manifest: func(p *v1.Pod) {
				p.Spec.Resources = &v1.ResourceRequirements{Limits: v1.ResourceList{"memory": q("-64Mi")}}
			},
			config: func(c *sandbox.PodConfig) { c.MemoryLimit = -64 << 20 },
			mField: "spec.resources.limits[memory]", cField: "resources.limits[memory]",
			msg: "-64Mi is negative"},
		{name: "a memory limit too small to start",
			manifest: func(p *v1.Pod) { p.Spec.Containers[0].Resources.Limits = v1.ResourceList{"memory": q("5Mi")} },
			config:   func(c *sandbox.PodConfig) { c.Containers[0].MemoryLimit = 5 << 20 },
			mField:   "spec.containers[0].resources.limits[memory]", cField: "containers[0].resources.limits[memory]",
			msg: "5Mi is below 6Mi, the least a container (or pod) needs to start"},
		{name: "a request above the limit",
			manifest: func(p *v1.Pod) {
				p.Spec.Containers[0].Resources = v1.ResourceRequirements{
					Limits: v1.ResourceList{"memory": q("128Mi")}, Requests: v1.ResourceList{"memory": q("256Mi")}}
			},
			config: func(c *sandbox.PodConfig) {
				c.Containers[0].MemoryLimit, c.Containers[0].MemoryRequest = 128<<20, 256<<20
			},
			mField: "spec.containers[0].resources.requests[memory]", cField: "containers[0].resources.requests[memory]",
			msg: "256Mi is above the limit 128Mi"},
		{name: "a limit above the pod's",
			manifest: func(p *v1.Pod) {
				p.Spec.Resources = &v1.ResourceRequirements{Limits: v1.ResourceList{"cpu": q("500m")}}
				p.Spec.Containers[0].Resources.Limits = v1.ResourceList{"cpu": q("1")}
			},
			config: func(c *sandbox.PodConfig) { c.CPULimitMillis, c.Containers[0].CPULimitMillis = 500, 1000 },
			mField: "spec.containers[0].resources.limits[cpu]", cField: "containers[0].resources.limits[cpu]",
			msg: "1 is above the pod's limit 500m"},
		{name: "hostUsers: false beside the host's network",
			manifest: func(p *v1.Pod) { p.Spec.HostUsers, p.Spec.HostNetwork = ptr(false), true },
			config:   func(c *sandbox.PodConfig) { c.UserNamespace, c.HostNetwork = true, true },
			mField:   "spec.hostUsers", cField: "hostUsers",
			msg: "false can not go with hostNetwork: true (a pod's user namespace can not own the host's namespaces)"},
		{name: "hostUsers: false beside the host's IPC",
			manifest: func(p *v1.Pod) { p.Spec.HostUsers, p.Spec.HostIPC = ptr(false), true },
			config:   func(c *sandbox.PodConfig) { c.UserNamespace, c.HostIPC = true, true },
			mField:   "spec.hostUsers", cField: "hostUsers",
			msg: "false can not go with hostIPC: true (a pod's user namespace can not own the host's namespaces)"},
		{name: "a volume defined twice",
			manifest: func(p *v1.Pod) { p.Spec.Volumes = append(p.Spec.Volumes, p.Spec.Volumes[0]) },
			config:   func(c *sandbox.PodConfig) { c.Volumes = append(c.Volumes, c.Volumes[0]) },
			mField:   "spec.volumes[1].name", cField: "volumes[1].name",
			msg: `volume "data" is defined twice`},
		{name: "a claim outside the volumes",
			manifest: func(p *v1.Pod) {
				p.Spec.Volumes[0].VolumeSource = v1.VolumeSource{PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: "../../etc"}}
			},
			config: func(c *sandbox.PodConfig) {
				c.Volumes[0] = sandbox.Volume{Name: "data", PersistentVolumeClaim: &sandbox.ClaimVolume{ClaimName: "../../etc"}}
			},
			mField: "spec.volumes[0].persistentVolumeClaim.claimName", cField: "volumes[0].persistentVolumeClaim.claimName",
			msg: `volume name "../../etc": not a DNS-1123 subdomain`},
		{name: "an image volume without a reference",
			manifest: func(p *v1.Pod) { p.Spec.Volumes[0].VolumeSource = v1.VolumeSource{Image: &v1.ImageVolumeSource{}} },
			config: func(c *sandbox.PodConfig) {
				c.Volumes[0] = sandbox.Volume{Name: "data", Image: &sandbox.ImageVolume{Layers: []string{"/l"}}}
			},
			mField: "spec.volumes[0].image.reference", cField: "volumes[0].image.reference",
			msg: "is required"},
		{name: "a container name",
			manifest: func(p *v1.Pod) { p.Spec.Containers[0].Name = "Bad_Name" },
			config:   func(c *sandbox.PodConfig) { c.Containers[0].Name = "Bad_Name" },
			mField:   "spec.containers[0].name", cField: "containers[0].name",
			msg: `"Bad_Name" is not a DNS-1123 label`},
		{name: "ephemeral containers on create",
			manifest: func(p *v1.Pod) {
				p.Spec.EphemeralContainers = []v1.EphemeralContainer{{EphemeralContainerCommon: v1.EphemeralContainerCommon{Name: "dbg", Image: "busybox"}}}
			},
			config: func(c *sandbox.PodConfig) {
				c.EphemeralContainers = []sandbox.ContainerConfig{{Name: "dbg", Rootfs: "/img", Command: []string{"sh"}}}
			},
			mField: "spec.ephemeralContainers", cField: "ephemeralContainers",
			msg: "can not be set on create: add them to the running pod (podbox debug, AddEphemeralContainer)"},
		{name: "a sysctl of the host",
			manifest: func(p *v1.Pod) {
				p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: []v1.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "vm.swappiness", Value: "1"}}}
			},
			config: func(c *sandbox.PodConfig) {
				c.Sysctls = []sandbox.Sysctl{{Name: "kernel.shm_rmid_forced", Value: "1"}, {Name: "vm.swappiness", Value: "1"}}
			},
			mField: "spec.securityContext.sysctls[1].name", cField: "sysctls[1].name",
			msg: `"vm.swappiness" is not a namespaced sysctl (only kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.*)`},
		{name: "a net sysctl beside the host's network",
			manifest: func(p *v1.Pod) {
				p.Spec.HostNetwork = true
				p.Spec.SecurityContext = &v1.PodSecurityContext{Sysctls: []v1.Sysctl{{Name: "net.ipv4.ip_forward", Value: "1"}}}
			},
			config: func(c *sandbox.PodConfig) {
				c.HostNetwork, c.Sysctls = true, []sandbox.Sysctl{{Name: "net.ipv4.ip_forward", Value: "1"}}
			},
			mField: "spec.securityContext.sysctls[0].name", cField: "sysctls[0].name",
			msg: `"net.ipv4.ip_forward" would change the host: net.* sysctls are not allowed with hostNetwork`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.manifest(p)
			b, err := yaml.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(b)
			if want := tc.mField + ": " + tc.msg; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("the manifest's error does not say %q:\n%v", want, err)
			}
			c := &sandbox.PodConfig{Name: "p",
				Volumes:    []sandbox.Volume{{Name: "data", EmptyDir: &sandbox.EmptyDirVolume{}}},
				Containers: []sandbox.ContainerConfig{{Name: "c", Rootfs: "/img", Command: []string{"sleep", "1"}}}}
			if err := c.Validate(); err != nil {
				t.Fatalf("the configuration before the change: %v", err)
			}
			tc.config(c)
			err = c.Validate()
			if want := tc.cField + ": " + tc.msg; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Validate's error does not say %q:\n%v", want, err)
			}
		})
	}
}
