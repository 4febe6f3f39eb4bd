package spec

import (
	"fmt"
	"maps"

	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
)

// convert maps a validated pod to podbox's configuration, with Kubernetes'
// defaults: namespace "default", restartPolicy Always, dnsPolicy
// ClusterFirst, protocol TCP. What the sandbox defaults itself (hostname,
// grace period, PATH, working directory) is left unset. Rootfs is left empty:
// whoever resolves Image in an image store fills it, with Command and Args
// from the image when the manifest has none.
func convert(p *v1.Pod, r *resolver) *sandbox.PodConfig {
	c := &sandbox.PodConfig{
		Name:                          p.Name,
		Namespace:                     p.Namespace,
		Hostname:                      p.Spec.Hostname,
		ShareProcessNamespace:         p.Spec.ShareProcessNamespace != nil && *p.Spec.ShareProcessNamespace,
		HostNetwork:                   p.Spec.HostNetwork,
		UserNamespace:                 p.Spec.HostUsers != nil && !*p.Spec.HostUsers,
		TerminationGracePeriodSeconds: p.Spec.TerminationGracePeriodSeconds,
		ActiveDeadlineSeconds:         p.Spec.ActiveDeadlineSeconds,
		RestartPolicy:                 sandbox.RestartPolicy(p.Spec.RestartPolicy),
		Labels:                        maps.Clone(p.Labels),
		Annotations:                   maps.Clone(p.Annotations),
		DNS:                           sandbox.DNSConfig{Policy: string(p.Spec.DNSPolicy)},
	}
	if c.Namespace == "" {
		c.Namespace = "default"
	}
	if c.RestartPolicy == "" {
		c.RestartPolicy = sandbox.RestartAlways
	}
	switch p.Spec.DNSPolicy {
	case "", v1.DNSClusterFirstWithHostNet:
		// One host, no cluster DNS: ClusterFirst is the host's resolver
		// either way.
		c.DNS.Policy = string(v1.DNSClusterFirst)
	}
	if d := p.Spec.DNSConfig; d != nil {
		c.DNS.Nameservers = d.Nameservers
		c.DNS.Searches = d.Searches
		for _, o := range d.Options {
			opt := o.Name
			if o.Value != nil {
				opt += ":" + *o.Value
			}
			c.DNS.Options = append(c.DNS.Options, opt)
		}
	}
	if r := p.Spec.Resources; r != nil {
		podResources(c, r)
	}
	for _, a := range p.Spec.HostAliases {
		c.HostAliases = append(c.HostAliases, sandbox.HostAlias{IP: a.IP, Hostnames: a.Hostnames})
	}
	podSC := p.Spec.SecurityContext
	if podSC == nil {
		podSC = &v1.PodSecurityContext{}
	}
	if sc := p.Spec.SecurityContext; sc != nil {
		if sc.FSGroup != nil {
			g := *sc.FSGroup
			c.FSGroup = &g
		}
		if sc.FSGroupChangePolicy != nil {
			c.FSGroupChangePolicy = string(*sc.FSGroupChangePolicy)
		}
		for _, s := range sc.Sysctls {
			c.Sysctls = append(c.Sysctls, sandbox.Sysctl{Name: s.Name, Value: s.Value})
		}
	}
	for i, v := range p.Spec.Volumes {
		vol := sandbox.Volume{Name: v.Name}
		vol.Files = r.filesVolume(fmt.Sprintf("spec.volumes[%d]", i), &v.VolumeSource)
		if hp := v.HostPath; hp != nil {
			vol.HostPath = &sandbox.HostPathVolume{Path: hp.Path}
			if hp.Type != nil {
				vol.HostPath.Type = string(*hp.Type)
			}
		}
		if pvc := v.PersistentVolumeClaim; pvc != nil {
			vol.PersistentVolumeClaim = &sandbox.ClaimVolume{ClaimName: pvc.ClaimName, ReadOnly: pvc.ReadOnly}
		}
		if iv := v.Image; iv != nil {
			vol.Image = &sandbox.ImageVolume{Reference: iv.Reference, PullPolicy: string(iv.PullPolicy)}
		}
		if ed := v.EmptyDir; ed != nil {
			vol.EmptyDir = &sandbox.EmptyDirVolume{Medium: string(ed.Medium)}
			if ed.SizeLimit != nil {
				vol.EmptyDir.SizeLimit = ed.SizeLimit.Value()
			}
		}
		c.Volumes = append(c.Volumes, vol)
	}
	c.PullSecrets = r.pullSecrets(p.Spec.ImagePullSecrets)
	c.Containers = []sandbox.ContainerConfig{}
	for _, k := range allContainers(p) {
		cc := convertContainer(k.c, podSC)
		cc.Env = r.env(k.field, k.c)
		if k.init {
			c.InitContainers = append(c.InitContainers, cc)
		} else {
			c.Containers = append(c.Containers, cc)
		}
	}
	return c
}

// convertContainer maps one container; the pod's securityContext gives the
// defaults its own overrides (runAsUser, runAsGroup, runAsNonRoot,
// seccompProfile).
func convertContainer(k *v1.Container, podSC *v1.PodSecurityContext) sandbox.ContainerConfig {
	c := sandbox.ContainerConfig{
		Name:            k.Name,
		Image:           k.Image,
		ImagePullPolicy: string(k.ImagePullPolicy),
		Command:         k.Command,
		Args:            k.Args,
		ExpandCommand:   true, // $(NAME) references, as the kubelet expands them
		WorkingDir:      k.WorkingDir,
		Stdin:           k.Stdin,
		TTY:             k.TTY,
	}
	c.LivenessProbe = convertProbe(k.LivenessProbe)
	c.ReadinessProbe = convertProbe(k.ReadinessProbe)
	c.StartupProbe = convertProbe(k.StartupProbe)
	c.Lifecycle = convertLifecycle(k.Lifecycle)
	if k.RestartPolicy != nil {
		c.RestartPolicy = sandbox.RestartPolicy(*k.RestartPolicy)
	}
	for _, rule := range k.RestartPolicyRules {
		r := sandbox.RestartRule{Action: string(rule.Action)}
		if ec := rule.ExitCodes; ec != nil {
			r.ExitCodes = &sandbox.ExitCodeRule{Operator: string(ec.Operator), Values: ec.Values}
		}
		c.RestartPolicyRules = append(c.RestartPolicyRules, r)
	}
	// The API server's defaults.
	c.TerminationMessagePath = k.TerminationMessagePath
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = v1.TerminationMessagePathDefault
	}
	c.TerminationMessagePolicy = string(k.TerminationMessagePolicy)
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = string(v1.TerminationMessageReadFile)
	}
	for _, pt := range k.Ports {
		proto := string(pt.Protocol)
		if proto == "" {
			proto = string(v1.ProtocolTCP)
		}
		c.Ports = append(c.Ports, sandbox.Port{
			Name:          pt.Name,
			ContainerPort: int(pt.ContainerPort),
			HostPort:      int(pt.HostPort),
			Protocol:      proto,
			HostIP:        pt.HostIP,
		})
	}
	for _, m := range k.VolumeMounts {
		vm := sandbox.VolumeMount{Name: m.Name, Target: m.MountPath, ReadOnly: m.ReadOnly, SubPath: m.SubPath}
		if m.MountPropagation != nil {
			vm.Propagation = string(*m.MountPropagation)
		}
		c.VolumeMounts = append(c.VolumeMounts, vm)
	}
	if q, ok := k.Resources.Limits[v1.ResourceMemory]; ok {
		c.MemoryLimit = q.Value()
	}
	if q, ok := k.Resources.Requests[v1.ResourceMemory]; ok {
		c.MemoryRequest = q.Value()
	} else {
		c.MemoryRequest = c.MemoryLimit // Kubernetes defaults the request to the limit
	}
	c.CPULimitMillis, c.CPURequestMillis = cpuMillis(&k.Resources)
	if q, ok := k.Resources.Limits[v1.ResourceEphemeralStorage]; ok {
		c.EphemeralStorageLimit = q.Value()
	}
	uid, gid := podSC.RunAsUser, podSC.RunAsGroup
	nonRoot := podSC.RunAsNonRoot
	c.SupplementalGroups = append([]int64(nil), podSC.SupplementalGroups...)
	seccomp := podSC.SeccompProfile
	if sc := k.SecurityContext; sc != nil {
		if sc.SeccompProfile != nil {
			seccomp = sc.SeccompProfile
		}
		if sc.RunAsNonRoot != nil {
			nonRoot = sc.RunAsNonRoot
		}
		if sc.AllowPrivilegeEscalation != nil {
			v := *sc.AllowPrivilegeEscalation
			c.AllowPrivilegeEscalation = &v
		}
		if sc.RunAsUser != nil {
			uid = sc.RunAsUser
		}
		if sc.RunAsGroup != nil {
			gid = sc.RunAsGroup
		}
		c.ReadOnlyRootfs = sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem
		c.Privileged = sc.Privileged != nil && *sc.Privileged
		if caps := sc.Capabilities; caps != nil {
			for _, cp := range caps.Add {
				c.CapAdd = append(c.CapAdd, string(cp))
			}
			for _, cp := range caps.Drop {
				c.CapDrop = append(c.CapDrop, string(cp))
			}
		}
	}
	c.RunAsNonRoot = nonRoot != nil && *nonRoot
	c.Seccomp = seccompConfig(seccomp)
	if uid != nil {
		u := *uid
		c.UID = &u
	}
	if gid != nil {
		g := *gid
		c.GID = &g
	}
	return c
}

// podResources sets the pod's memory limit and cpu from its resources.
func podResources(c *sandbox.PodConfig, r *v1.ResourceRequirements) {
	if q, ok := r.Limits[v1.ResourceMemory]; ok {
		c.MemoryLimit = q.Value()
	}
	c.CPULimitMillis, c.CPURequestMillis = cpuMillis(r)
}

// cpuMillis is the cpu limit and request of r in millicores; the request
// defaults to the limit, as Kubernetes defaults it.
func cpuMillis(r *v1.ResourceRequirements) (limit, request int64) {
	if q, ok := r.Limits[v1.ResourceCPU]; ok {
		limit = q.MilliValue()
	}
	if q, ok := r.Requests[v1.ResourceCPU]; ok {
		request = q.MilliValue()
	} else {
		request = limit
	}
	return limit, request
}

// seccompConfig is a seccompProfile as the sandbox takes it; nil for nil.
func seccompConfig(sp *v1.SeccompProfile) *sandbox.SeccompProfile {
	if sp == nil {
		return nil
	}
	p := &sandbox.SeccompProfile{Type: string(sp.Type)}
	if sp.LocalhostProfile != nil {
		p.LocalhostProfile = *sp.LocalhostProfile
	}
	return p
}
