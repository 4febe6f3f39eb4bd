package spec

import (
	"fmt"
	"net/netip"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"
)

// check is one validation rule over a decoded pod (whose fields outside the
// allow-list are already refused); each error names a field path.
type check func(p *v1.Pod) []error

// checks run in order, all of them: every problem is reported at once.
var checks = []check{
	checkMetadata,
	checkPodFields,
	checkDNS,
	checkHostAliases,
	checkSysctls,
	checkHostUsers,
	checkVolumes,
	checkContainerNames,
	checkContainers,
	checkEnv,
	checkPorts,
	checkVolumeMounts,
	checkResources,
	checkSecurityContext,
	checkProbes,
}

func validate(p *v1.Pod) []error {
	var errs []error
	for _, ck := range checks {
		errs = append(errs, ck(p)...)
	}
	return errs
}

// ctr is one container of the pod with its field path.
type ctr struct {
	field string
	c     *v1.Container
	init  bool
}

// allContainers lists init containers, then app containers.
func allContainers(p *v1.Pod) []ctr {
	var cs []ctr
	for i := range p.Spec.InitContainers {
		cs = append(cs, ctr{fmt.Sprintf("spec.initContainers[%d]", i), &p.Spec.InitContainers[i], true})
	}
	for i := range p.Spec.Containers {
		cs = append(cs, ctr{fmt.Sprintf("spec.containers[%d]", i), &p.Spec.Containers[i], false})
	}
	return cs
}

// nameError is sandbox.ValidateName's error as a FieldError.
func nameError(field, name string) error {
	err := sandbox.ValidateName(field, name)
	if err == nil {
		return nil
	}
	return invalid(field, "%s", strings.TrimPrefix(err.Error(), field+": "))
}

func checkMetadata(p *v1.Pod) []error {
	var errs []error
	if err := nameError("metadata.name", p.Name); err != nil {
		errs = append(errs, err)
	}
	if p.Namespace != "" {
		if err := nameError("metadata.namespace", p.Namespace); err != nil {
			errs = append(errs, err)
		}
	}
	for _, k := range sortedKeys(p.Labels) {
		f := "metadata.labels[" + k + "]"
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, invalid(f, "key %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(p.Labels[k]) {
			errs = append(errs, invalid(f, "value %q: %s", p.Labels[k], msg))
		}
	}
	total := 0
	for _, k := range sortedKeys(p.Annotations) {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			errs = append(errs, invalid("metadata.annotations["+k+"]", "key %q: %s", k, msg))
		}
		total += len(k) + len(p.Annotations[k])
	}
	if total > MaxAnnotationsSize {
		errs = append(errs, invalid("metadata.annotations", "%d bytes in all, over the API server's %d", total, MaxAnnotationsSize))
	}
	return errs
}

func checkPodFields(p *v1.Pod) []error {
	var errs []error
	// The sandbox's rules, on the fields as convert maps them.
	c := &sandbox.PodConfig{
		RestartPolicy:                 sandbox.RestartPolicy(p.Spec.RestartPolicy),
		TerminationGracePeriodSeconds: p.Spec.TerminationGracePeriodSeconds,
		ActiveDeadlineSeconds:         p.Spec.ActiveDeadlineSeconds,
		Containers:                    make([]sandbox.ContainerConfig, len(p.Spec.Containers)),
		EphemeralContainers:           make([]sandbox.ContainerConfig, len(p.Spec.EphemeralContainers)),
	}
	if r := p.Spec.Resources; r != nil {
		podResources(c, r)
	}
	if sc := p.Spec.SecurityContext; sc != nil {
		c.FSGroup = sc.FSGroup
		if sc.FSGroupChangePolicy != nil {
			c.FSGroupChangePolicy = string(*sc.FSGroupChangePolicy)
		}
	}
	for _, pr := range sandbox.PodRules(c) {
		f := "spec." + pr.Field
		if pr.Field == "fsGroup" || pr.Field == "fsGroupChangePolicy" {
			f = "spec.securityContext." + pr.Field
		}
		errs = append(errs, invalid(f, "%s", pr.Msg))
	}
	if p.Spec.Hostname != "" {
		if err := nameError("spec.hostname", p.Spec.Hostname); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func checkDNS(p *v1.Pod) []error {
	var errs []error
	switch p.Spec.DNSPolicy {
	case "", v1.DNSClusterFirst, v1.DNSClusterFirstWithHostNet, v1.DNSDefault:
	case v1.DNSNone:
		if p.Spec.DNSConfig == nil || len(p.Spec.DNSConfig.Nameservers) == 0 {
			errs = append(errs, invalid("spec.dnsConfig.nameservers", "dnsPolicy None needs at least one nameserver"))
		}
	default:
		errs = append(errs, invalid("spec.dnsPolicy", "%q is not ClusterFirst, ClusterFirstWithHostNet, Default or None", p.Spec.DNSPolicy))
	}
	d := p.Spec.DNSConfig
	if d == nil {
		return errs
	}
	// The resolver's limits, as Kubernetes checks them.
	if len(d.Nameservers) > 3 {
		errs = append(errs, invalid("spec.dnsConfig.nameservers", "%d nameservers, at most 3 are used", len(d.Nameservers)))
	}
	for i, ns := range d.Nameservers {
		if _, err := netip.ParseAddr(ns); err != nil {
			errs = append(errs, invalid(fmt.Sprintf("spec.dnsConfig.nameservers[%d]", i), "%q is not an IP address", ns))
		}
	}
	if len(d.Searches) > 32 {
		errs = append(errs, invalid("spec.dnsConfig.searches", "%d search domains, at most 32", len(d.Searches)))
	}
	for i, s := range d.Searches {
		if msgs := validation.IsDNS1123Subdomain(strings.TrimSuffix(s, ".")); len(msgs) > 0 {
			errs = append(errs, invalid(fmt.Sprintf("spec.dnsConfig.searches[%d]", i), "%q: %s", s, msgs[0]))
		}
	}
	for i, o := range d.Options {
		if o.Name == "" || strings.ContainsAny(o.Name, " \t\n:") {
			errs = append(errs, invalid(fmt.Sprintf("spec.dnsConfig.options[%d].name", i), "%q is not a resolver option name", o.Name))
		}
		if o.Value != nil && strings.ContainsAny(*o.Value, " \t\n") {
			errs = append(errs, invalid(fmt.Sprintf("spec.dnsConfig.options[%d].value", i), "%q has white space", *o.Value))
		}
	}
	return errs
}

func checkHostAliases(p *v1.Pod) []error {
	var errs []error
	for i, a := range p.Spec.HostAliases {
		f := fmt.Sprintf("spec.hostAliases[%d]", i)
		if _, err := netip.ParseAddr(a.IP); err != nil {
			errs = append(errs, invalid(f+".ip", "%q is not an IP address", a.IP))
		}
		if len(a.Hostnames) == 0 {
			errs = append(errs, invalid(f+".hostnames", "at least one hostname is required"))
		}
		for j, h := range a.Hostnames {
			if msgs := validation.IsDNS1123Subdomain(h); len(msgs) > 0 {
				errs = append(errs, invalid(fmt.Sprintf("%s.hostnames[%d]", f, j), "%q: %s", h, msgs[0]))
			}
		}
	}
	return errs
}

// checkHostUsers refuses what Kubernetes' validation refuses beside
// hostUsers: false with the sandbox's rules (sandbox.UserNSRules).
func checkHostUsers(p *v1.Pod) []error {
	if p.Spec.HostUsers == nil || *p.Spec.HostUsers {
		return nil
	}
	var errs []error
	c := &sandbox.PodConfig{UserNamespace: true, HostNetwork: p.Spec.HostNetwork, HostPID: p.Spec.HostPID, HostIPC: p.Spec.HostIPC}
	for _, pr := range sandbox.UserNSRules(c) {
		errs = append(errs, invalid("spec."+pr.Field, "%s", pr.Msg))
	}
	return errs
}

// checkSysctls checks the sysctls with the sandbox's rules
// (sandbox.SysctlRules).
func checkSysctls(p *v1.Pod) []error {
	sc := p.Spec.SecurityContext
	if sc == nil {
		return nil
	}
	var errs []error
	c := &sandbox.PodConfig{HostNetwork: p.Spec.HostNetwork}
	for _, s := range sc.Sysctls {
		c.Sysctls = append(c.Sysctls, sandbox.Sysctl{Name: s.Name, Value: s.Value})
	}
	for _, pr := range sandbox.SysctlRules(c) {
		errs = append(errs, invalid("spec.securityContext."+pr.Field, "%s", pr.Msg))
	}
	return errs
}

var hostPathTypes = []v1.HostPathType{
	v1.HostPathUnset, v1.HostPathDirectoryOrCreate, v1.HostPathDirectory, v1.HostPathFileOrCreate,
	v1.HostPathFile, v1.HostPathSocket, v1.HostPathCharDev, v1.HostPathBlockDev,
}

func checkVolumes(p *v1.Pod) []error {
	var errs []error
	// The sandbox's rules, on the volumes as convert maps them.
	vs := make([]sandbox.Volume, len(p.Spec.Volumes))
	for i, v := range p.Spec.Volumes {
		vs[i].Name = v.Name
		if pvc := v.PersistentVolumeClaim; pvc != nil {
			vs[i].PersistentVolumeClaim = &sandbox.ClaimVolume{ClaimName: pvc.ClaimName}
		}
		if iv := v.Image; iv != nil {
			vs[i].Image = &sandbox.ImageVolume{Reference: iv.Reference}
		}
	}
	for _, pr := range sandbox.VolumeRules(vs) {
		errs = append(errs, invalid("spec."+pr.Field, "%s", pr.Msg))
	}
	for i := range p.Spec.Volumes {
		v := &p.Spec.Volumes[i]
		f := fmt.Sprintf("spec.volumes[%d]", i)
		if msg := sandbox.VolumeSourceRule(v.Name, volumeSources(&v.VolumeSource)); msg != "" {
			errs = append(errs, invalid(f, "%s", msg))
		}
		if hp := v.HostPath; hp != nil {
			if !path.IsAbs(hp.Path) {
				errs = append(errs, invalid(f+".hostPath.path", "%q is not an absolute path", hp.Path))
			}
			if slices.Contains(strings.Split(hp.Path, "/"), "..") {
				errs = append(errs, invalid(f+".hostPath.path", "%q must not contain '..'", hp.Path))
			}
			if hp.Type != nil && !slices.Contains(hostPathTypes, *hp.Type) {
				errs = append(errs, invalid(f+".hostPath.type", "%q is not a hostPath type (DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice)", *hp.Type))
			}
		}
		if iv := v.Image; iv != nil {
			if _, err := image.NormalizeName(iv.Reference); iv.Reference != "" && err != nil {
				errs = append(errs, invalid(f+".image.reference", "%v", err))
			}
			switch iv.PullPolicy {
			case "", v1.PullAlways, v1.PullIfNotPresent, v1.PullNever:
			default:
				errs = append(errs, invalid(f+".image.pullPolicy", "%q is not Always, IfNotPresent or Never", iv.PullPolicy))
			}
		}
		if ed := v.EmptyDir; ed != nil {
			switch ed.Medium {
			case v1.StorageMediumDefault, v1.StorageMediumMemory:
			case v1.StorageMediumHugePages:
				errs = append(errs, &FieldError{Field: f + ".emptyDir.medium", Err: ErrUnsupported,
					Msg: fmt.Sprintf("%s %s (only \"\" and Memory)", ed.Medium, ErrUnsupported)})
			default:
				errs = append(errs, invalid(f+".emptyDir.medium", "%q is not \"\" (disk) or Memory", ed.Medium))
			}
			if q := ed.SizeLimit; q != nil {
				if q.Sign() < 0 {
					errs = append(errs, invalid(f+".emptyDir.sizeLimit", "%s is negative", q))
				} else if tooLarge(v1.ResourceMemory, q) {
					errs = append(errs, invalid(f+".emptyDir.sizeLimit", "%s is too large", q))
				}
			}
		}
	}
	return errs
}

// volumeSources names the sources a volume sets, supported or not.
func volumeSources(vs *v1.VolumeSource) []string {
	var names []string
	v := reflect.ValueOf(vs).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.Pointer && !f.IsNil() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			names = append(names, name)
		}
	}
	return names
}

// checkContainerNames checks the names with the sandbox's rules
// (sandbox.ContainerNameRules), whose paths are a manifest's without
// "spec.".
func checkContainerNames(p *v1.Pod) []error {
	var errs []error
	c := &sandbox.PodConfig{
		InitContainers: make([]sandbox.ContainerConfig, len(p.Spec.InitContainers)),
		Containers:     make([]sandbox.ContainerConfig, len(p.Spec.Containers)),
	}
	for i := range p.Spec.InitContainers {
		c.InitContainers[i].Name = p.Spec.InitContainers[i].Name
	}
	for i := range p.Spec.Containers {
		c.Containers[i].Name = p.Spec.Containers[i].Name
	}
	for _, pr := range sandbox.ContainerNameRules(c) {
		errs = append(errs, invalid("spec."+pr.Field, "%s", strings.Replace(pr.Msg, " used by ", " used by spec.", 1)))
	}
	return errs
}

func checkContainers(p *v1.Pod) []error {
	var errs []error
	for _, c := range allContainers(p) {
		if strings.TrimSpace(c.c.Image) == "" {
			errs = append(errs, invalid(c.field+".image", "an image is required"))
		}
		switch c.c.ImagePullPolicy {
		case "", v1.PullAlways, v1.PullIfNotPresent, v1.PullNever:
		default:
			errs = append(errs, invalid(c.field+".imagePullPolicy", "%q is not Always, IfNotPresent or Never", c.c.ImagePullPolicy))
		}
		// The sandbox's rules, on what convert makes of the fields (the
		// container's own securityContext only: the pod's is checked at
		// its own path).
		k := convertContainer(c.c, &v1.PodSecurityContext{})
		k.Env = nil
		for _, e := range c.c.Env {
			k.Env = append(k.Env, sandbox.EnvVar{Name: e.Name, Value: e.Value})
		}
		for _, pr := range sandbox.ContainerRules(&k, c.init) {
			f := c.field + "." + pr.Field
			var i int
			if n, _ := fmt.Sscanf(pr.Field, "restartPolicyRules[%d].action", &i); n == 1 &&
				c.c.RestartPolicyRules[i].Action == v1.ContainerRestartRuleActionRestartAllContainers {
				// A rule of the API that podbox does not act on.
				errs = append(errs, &FieldError{Field: f, Err: ErrUnsupported,
					Msg: fmt.Sprintf("RestartAllContainers %s (only Restart)", ErrUnsupported)})
				continue
			}
			errs = append(errs, invalid(f, "%s", pr.Msg))
		}
	}
	return errs
}

// checkEnv checks names and each valueFrom's one source; the references to
// ConfigMaps, Secrets and resources are checked when they are resolved.
func checkEnv(p *v1.Pod) []error {
	var errs []error
	for _, c := range allContainers(p) {
		for i, e := range c.c.Env {
			f := fmt.Sprintf("%s.env[%d]", c.field, i)
			vf := e.ValueFrom
			if vf == nil {
				continue
			}
			if e.Value != "" {
				errs = append(errs, invalid(f, "value and valueFrom are both set"))
			}
			n := 0
			for _, set := range []bool{vf.FieldRef != nil, vf.ResourceFieldRef != nil, vf.ConfigMapKeyRef != nil, vf.SecretKeyRef != nil} {
				if set {
					n++
				}
			}
			if n != 1 && vf.FileKeyRef == nil { // fileKeyRef is refused by the allow-list
				errs = append(errs, invalid(f+".valueFrom", "needs exactly one of fieldRef, resourceFieldRef, configMapKeyRef and secretKeyRef"))
			}
			if vf.FieldRef != nil {
				if err := checkFieldPath(f+".valueFrom.fieldRef", vf.FieldRef, envFieldPaths); err != nil {
					errs = append(errs, err)
				}
			}
			if ref := vf.ConfigMapKeyRef; ref != nil && ref.Key == "" {
				errs = append(errs, invalid(f+".valueFrom.configMapKeyRef.key", "is required"))
			}
			if ref := vf.SecretKeyRef; ref != nil && ref.Key == "" {
				errs = append(errs, invalid(f+".valueFrom.secretKeyRef.key", "is required"))
			}
		}
	}
	return errs
}

func checkPorts(p *v1.Pod) []error {
	var errs []error
	type hostPort struct {
		ip    string
		port  int32
		proto v1.Protocol
	}
	published := map[hostPort]string{}
	for _, c := range allContainers(p) {
		names := map[string]bool{}
		for i, pt := range c.c.Ports {
			f := fmt.Sprintf("%s.ports[%d]", c.field, i)
			if pt.Name != "" {
				for _, msg := range validation.IsValidPortName(pt.Name) {
					errs = append(errs, invalid(f+".name", "%q: %s", pt.Name, msg))
				}
				if names[pt.Name] {
					errs = append(errs, invalid(f+".name", "port name %q is used twice", pt.Name))
				}
				names[pt.Name] = true
			}
			switch {
			case pt.ContainerPort == 0 && pt.HostPort != 0:
				errs = append(errs, invalid(f+".containerPort", "a hostPort needs a containerPort"))
			case pt.ContainerPort < 1 || pt.ContainerPort > 65535:
				errs = append(errs, invalid(f+".containerPort", "%d is not a port number (1-65535)", pt.ContainerPort))
			}
			if pt.HostPort < 0 || pt.HostPort > 65535 {
				errs = append(errs, invalid(f+".hostPort", "%d is not a port number (1-65535)", pt.HostPort))
			}
			if p.Spec.HostNetwork && pt.HostPort != 0 && pt.HostPort != pt.ContainerPort {
				errs = append(errs, invalid(f+".hostPort", "with hostNetwork, hostPort %d must equal containerPort %d", pt.HostPort, pt.ContainerPort))
			}
			proto := pt.Protocol
			switch proto {
			case "":
				proto = v1.ProtocolTCP
			case v1.ProtocolTCP, v1.ProtocolUDP:
			case v1.ProtocolSCTP:
				errs = append(errs, &FieldError{Field: f + ".protocol", Err: ErrUnsupported,
					Msg: fmt.Sprintf("SCTP %s (only TCP and UDP)", ErrUnsupported)})
			default:
				errs = append(errs, invalid(f+".protocol", "%q is not TCP or UDP", pt.Protocol))
			}
			if pt.HostIP != "" {
				if _, err := netip.ParseAddr(pt.HostIP); err != nil {
					errs = append(errs, invalid(f+".hostIP", "%q is not an IP address", pt.HostIP))
				}
			}
			if pt.HostPort > 0 {
				k := hostPort{pt.HostIP, pt.HostPort, proto}
				if prev, ok := published[k]; ok {
					errs = append(errs, invalid(f+".hostPort", "%d/%s is already published by %s", pt.HostPort, proto, prev))
				}
				published[k] = f
			}
		}
	}
	return errs
}

func checkVolumeMounts(p *v1.Pod) []error {
	var errs []error
	volumes := map[string]bool{}
	for _, v := range p.Spec.Volumes {
		volumes[v.Name] = true
	}
	// The sandbox's rules, on the mounts as convert maps them, with the
	// manifest's field names.
	names := strings.NewReplacer(".target", ".mountPath", ".propagation", ".mountPropagation")
	for _, c := range allContainers(p) {
		k := convertContainer(c.c, &v1.PodSecurityContext{})
		for _, pr := range sandbox.MountRules(&k, volumes) {
			errs = append(errs, invalid(c.field+"."+names.Replace(pr.Field), "%s", pr.Msg))
		}
	}
	return errs
}

// checkResources checks resources with the sandbox's rules
// (sandbox.ResourceRules, PodRules for the pod's own, checkPodFields) on
// the values convert makes of them, and itself what those values can not
// say: a quantity beyond an int64, a limit of 0 (which convert makes none)
// and the requests the sandbox does not keep.
func checkResources(p *v1.Pod) []error {
	var errs []error
	pod := &sandbox.PodConfig{}
	if r := p.Spec.Resources; r != nil {
		errs = append(errs, checkQuantities("spec.resources", r, true)...)
		podResources(pod, r)
	}
	for _, c := range allContainers(p) {
		errs = append(errs, checkQuantities(c.field+".resources", &c.c.Resources, false)...)
		k := convertContainer(c.c, &v1.PodSecurityContext{})
		for _, pr := range sandbox.ResourceRules(&k, pod) {
			errs = append(errs, invalid(c.field+"."+pr.Field, "%s", pr.Msg))
		}
	}
	return errs
}

// checkQuantities checks what the sandbox's rules can not see of r (f its
// field path; pod: the pod's, which keeps no memory request).
func checkQuantities(f string, r *v1.ResourceRequirements, pod bool) []error {
	var errs []error
	for _, kind := range []struct {
		name string
		list v1.ResourceList
	}{{"limits", r.Limits}, {"requests", r.Requests}} {
		for _, res := range []v1.ResourceName{v1.ResourceMemory, v1.ResourceCPU, v1.ResourceEphemeralStorage} {
			q, ok := kind.list[res]
			if !ok {
				continue
			}
			rf := fmt.Sprintf("%s.%s[%s]", f, kind.name, res)
			kept := res == v1.ResourceCPU || (kind.name == "limits" && !pod) ||
				(res == v1.ResourceMemory && (kind.name == "limits" || !pod))
			switch {
			case tooLarge(res, &q) && q.Sign() < 0, q.Sign() < 0 && !kept:
				errs = append(errs, invalid(rf, "%s is negative", &q))
			case tooLarge(res, &q):
				errs = append(errs, invalid(rf, "%s is too large", &q))
			case q.Sign() == 0 && kind.name == "limits" && res == v1.ResourceMemory:
				errs = append(errs, invalid(rf, "a memory limit of 0 would mean no limit; leave it out"))
			case q.Sign() == 0 && kind.name == "limits" && res == v1.ResourceEphemeralStorage:
				errs = append(errs, invalid(rf, "an ephemeral-storage limit of 0 would evict the pod at once; leave it out"))
			}
		}
	}
	lim, okL := r.Limits[v1.ResourceMemory]
	req, okR := r.Requests[v1.ResourceMemory]
	if pod && okL && okR && req.Cmp(lim) > 0 {
		errs = append(errs, invalid(f+".requests[memory]", "%s is above the limit %s", &req, &lim))
	}
	return errs
}

// tooLarge: q is beyond 4 EiB (4 Ei millicores for cpu), too close to
// what an int64 holds.
func tooLarge(res v1.ResourceName, q *resource.Quantity) bool {
	bound := resource.NewQuantity(1<<62, resource.BinarySI)
	if res == v1.ResourceCPU {
		bound = resource.NewMilliQuantity(1<<62, resource.DecimalSI)
	}
	abs := q.DeepCopy()
	if abs.Sign() < 0 {
		abs.Neg()
	}
	return abs.Cmp(*bound) > 0
}

func checkSecurityContext(p *v1.Pod) []error {
	var errs []error
	if sc := p.Spec.SecurityContext; sc != nil {
		// The sandbox's ID rules on what the pod's securityContext gives
		// every container (a container's own IDs are checked with its
		// rules, checkContainers; fsGroup with the pod's, checkPodFields).
		k := convertContainer(&v1.Container{}, sc)
		for _, pr := range sandbox.IDRules(&k) {
			errs = append(errs, invalid("spec."+pr.Field, "%s", pr.Msg))
		}
		errs = append(errs, checkSeccompProfile("spec.securityContext.seccompProfile", sc.SeccompProfile)...)
	}
	for _, c := range allContainers(p) {
		sc := c.c.SecurityContext
		if sc == nil {
			continue
		}
		f := c.field + ".securityContext"
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type == "" {
			errs = append(errs, checkSeccompProfile(f+".seccompProfile", sc.SeccompProfile)...)
		}
		if caps := sc.Capabilities; caps != nil {
			for _, l := range []struct {
				name string
				caps []v1.Capability
			}{{"add", caps.Add}, {"drop", caps.Drop}} {
				for i, cp := range l.caps {
					if !capName.MatchString(string(cp)) {
						errs = append(errs, invalid(fmt.Sprintf("%s.capabilities.%s[%d]", f, l.name, i), "%q is not a capability name (such as NET_ADMIN or ALL)", cp))
					}
				}
			}
		}
	}
	return errs
}

// checkSeccompProfile checks a seccompProfile with the sandbox's rules
// (sandbox.SeccompRules); the API requires its type.
func checkSeccompProfile(f string, sp *v1.SeccompProfile) []error {
	if sp == nil {
		return nil
	}
	if sp.Type == "" {
		return []error{invalid(f+".type", "is required (RuntimeDefault, Unconfined or Localhost)")}
	}
	var errs []error
	for _, p := range sandbox.SeccompRules(seccompConfig(sp)) {
		errs = append(errs, invalid(f+"."+p.Field, "%s", p.Msg))
	}
	return errs
}

var capName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
