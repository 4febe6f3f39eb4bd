package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// node is one level of the allow-list of the Pod fields podbox honours,
// named by their JSON names: the fields of an object, the element of a list,
// or a leaf that takes any value.
type node struct {
	fields map[string]*node // an object's allowed fields
	keys   bool             // fields are map keys, written [key] in paths
	elem   *node            // a list's elements
	only   any              // with hasOnly: the one value accepted
	// hasOnly: the field is accepted only with the value only, the one that
	// means what podbox does anyway (automountServiceAccountToken: false).
	hasOnly bool
	// ignore: the field only matters to a cluster (scheduling, service
	// accounts, rollouts): accepted with a warning (ErrIgnored), or with
	// hasOnly, any other value than only is.
	ignore bool
	// extended: with keys, a domain-prefixed key (an extended resource
	// such as example.com/dongle, which only a scheduler counts) is
	// ignored as above.
	extended bool
}

type fields map[string]*node

var leaf = &node{}

func obj(f fields) *node    { return &node{fields: f} }
func keyed(f fields) *node  { return &node{fields: f, keys: true} }
func list(elem *node) *node { return &node{elem: elem} }
func onlyValue(v any) *node { return &node{only: v, hasOnly: true} }

// ignored is a field that only matters to a cluster; ignoredUnless one
// whose value v is what podbox does anyway (no warning then).
var ignored = &node{ignore: true}

func ignoredUnless(v any) *node { return &node{only: v, hasOnly: true, ignore: true} }
func leaves(names ...string) fields {
	f := fields{}
	for _, n := range names {
		f[n] = leaf
	}
	return f
}

func with(f fields, more fields) fields {
	for k, v := range more {
		f[k] = v
	}
	return f
}

// resources: memory and cpu, requests and limits; nothing else (no
// ephemeral-storage, hugepages, devices or claims).
var resources = obj(fields{
	"limits":   resourceList("memory", "cpu"),
	"requests": resourceList("memory", "cpu"),
})

// resourceList is a limits or requests map: the named resources, and
// extended resources (ignored).
func resourceList(names ...string) *node {
	return &node{fields: leaves(names...), keys: true, extended: true}
}

// containerResources add ephemeral-storage: a limit on what the container
// writes to its root filesystem and its logs, enforced by eviction.
var containerResources = obj(fields{
	"limits":   resourceList("memory", "cpu", "ephemeral-storage"),
	"requests": resourceList("memory", "cpu", "ephemeral-storage"),
})

// keyItems and downwardItems are the files of configMap, secret and
// downwardAPI volumes.
var (
	keyItems      = list(obj(leaves("key", "path", "mode")))
	downwardItems = list(obj(with(leaves("path", "mode"), fields{
		"fieldRef":         obj(leaves("apiVersion", "fieldPath")),
		"resourceFieldRef": obj(leaves("containerName", "resource", "divisor")),
	})))
)

var seccompProfile = obj(leaves("type", "localhostProfile"))

var container = obj(with(leaves(
	"name", "image", "imagePullPolicy", "command", "args", "workingDir",
	"stdin", "tty", "restartPolicy", "terminationMessagePath", "terminationMessagePolicy",
), fields{
	"restartPolicyRules": list(obj(fields{
		"action":    leaf,
		"exitCodes": obj(leaves("operator", "values")),
	})),
	// In-place resize needs an API server to ask for it.
	"resizePolicy": ignored,
	"ports":        list(obj(leaves("name", "containerPort", "hostPort", "protocol", "hostIP"))),
	"env": list(obj(with(leaves("name", "value"), fields{
		"valueFrom": obj(fields{
			"fieldRef":         obj(leaves("apiVersion", "fieldPath")),
			"resourceFieldRef": obj(leaves("containerName", "resource", "divisor")),
			"configMapKeyRef":  obj(leaves("name", "key", "optional")),
			"secretKeyRef":     obj(leaves("name", "key", "optional")),
		}),
	}))),
	"envFrom": list(obj(fields{
		"prefix":       leaf,
		"configMapRef": obj(leaves("name", "optional")),
		"secretRef":    obj(leaves("name", "optional")),
	})),
	"resources":    containerResources,
	"volumeMounts": list(obj(leaves("name", "mountPath", "readOnly", "subPath", "mountPropagation"))),
	"securityContext": obj(with(leaves("runAsUser", "runAsGroup", "runAsNonRoot", "readOnlyRootFilesystem",
		"privileged", "allowPrivilegeEscalation"), fields{
		"capabilities":   obj(leaves("add", "drop")),
		"seccompProfile": seccompProfile,
	})),
	"livenessProbe":  probe,
	"readinessProbe": probe,
	"startupProbe":   probe,
	"lifecycle":      lifecycle,
}))

// allowed is every Pod field podbox honours or knowingly ignores.
var allowed = obj(fields{
	"apiVersion": leaf,
	"kind":       leaf,
	// creationTimestamp, uid, resourceVersion, generation and managedFields
	// are set by whoever stores the pod (kubectl, podbox get -o yaml); they
	// are read-only output and ignored, so that such output loads again.
	"metadata": obj(with(leaves("name", "namespace", "labels", "annotations",
		"creationTimestamp", "uid", "resourceVersion", "generation", "managedFields", "generateName"), fields{
		// What owns the pod in a cluster (podbox get pod names the
		// workload a pod was made of there): for garbage collection.
		"ownerReferences": ignored,
	})),
	"spec": obj(with(leaves(
		"restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy",
		"hostNetwork", "shareProcessNamespace", "hostname", "activeDeadlineSeconds",
	), fields{
		// Scheduling, service accounts and cluster DNS: a cluster's
		// business, accepted with a warning (an error with --strict).
		"nodeSelector":              ignored,
		"nodeName":                  ignored,
		"affinity":                  ignored,
		"tolerations":               ignored,
		"priority":                  ignored,
		"priorityClassName":         ignored,
		"preemptionPolicy":          ignored,
		"schedulerName":             ignored,
		"schedulingGates":           ignored,
		"topologySpreadConstraints": ignored,
		"readinessGates":            ignored,
		"runtimeClassName":          ignored,
		"overhead":                  ignored,
		"serviceAccountName":        ignored,
		"serviceAccount":            ignored,
		"subdomain":                 ignored,
		"setHostnameAsFQDN":         ignored, // the FQDN is the cluster DNS's
		"volumes": list(obj(fields{
			"name":                  leaf,
			"hostPath":              obj(leaves("path", "type")),
			"emptyDir":              obj(leaves("medium", "sizeLimit")),
			"persistentVolumeClaim": obj(leaves("claimName", "readOnly")),
			"image":                 obj(leaves("reference", "pullPolicy")),
			"configMap":             obj(with(leaves("name", "defaultMode", "optional"), fields{"items": keyItems})),
			"secret":                obj(with(leaves("secretName", "defaultMode", "optional"), fields{"items": keyItems})),
			"downwardAPI":           obj(with(leaves("defaultMode"), fields{"items": downwardItems})),
			"projected": obj(with(leaves("defaultMode"), fields{"sources": list(obj(fields{
				"configMap":   obj(with(leaves("name", "optional"), fields{"items": keyItems})),
				"secret":      obj(with(leaves("name", "optional"), fields{"items": keyItems})),
				"downwardAPI": obj(fields{"items": downwardItems}),
			}))})),
		})),
		"imagePullSecrets": list(obj(leaves("name"))),
		"initContainers":   list(container),
		"containers":       list(container),
		// Refused on create by checkPodFields, as Kubernetes refuses them.
		"ephemeralContainers": leaf,
		"securityContext": obj(fields{
			"runAsUser":           leaf,
			"runAsGroup":          leaf,
			"runAsNonRoot":        leaf,
			"supplementalGroups":  leaf,
			"fsGroup":             leaf,
			"fsGroupChangePolicy": leaf,
			"sysctls":             list(obj(leaves("name", "value"))),
			"seccompProfile":      seccompProfile,
		}),
		"hostAliases": list(obj(leaves("ip", "hostnames"))),
		"dnsConfig": obj(fields{
			"nameservers": leaf,
			"searches":    leaf,
			"options":     list(obj(leaves("name", "value"))),
		}),
		"resources": resources,
		"os":        obj(leaves("name")),
		// podbox has no service account token and injects no service
		// variables: these say so, or are ignored with a warning.
		"automountServiceAccountToken": ignoredUnless(false),
		"enableServiceLinks":           ignoredUnless(false),
		// hostUsers: false gives the pod a user namespace.
		"hostUsers": leaf,
	})),
	// status is output (podbox get pod -o yaml writes it): ignored.
	"status": leaf,
})

// checkAllowed reports every field of p that is set and not in the
// allow-list. It marshals p back to JSON, so that what is checked is what
// was decoded, with Go's zero values (omitempty) absent.
func checkAllowed(p *v1.Pod) []error {
	b, err := json.Marshal(p)
	if err != nil {
		return []error{fmt.Errorf("%w: encode pod: %w", ErrInvalid, err)}
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return []error{fmt.Errorf("%w: decode pod: %w", ErrInvalid, err)}
	}
	var errs []error
	walk("", m, allowed, &errs)
	return errs
}

func walk(path string, v any, n *node, errs *[]error) {
	switch {
	case n.ignore && n.hasOnly:
		if !reflect.DeepEqual(v, n.only) {
			*errs = append(*errs, ignoredField(path))
		}
	case n.ignore:
		if !isZero(v) {
			*errs = append(*errs, ignoredField(path))
		}
	case n.hasOnly:
		if !reflect.DeepEqual(v, n.only) {
			*errs = append(*errs, &FieldError{Field: path, Err: ErrUnsupported,
				Msg: fmt.Sprintf("%s (only %v is accepted)", ErrUnsupported, n.only)})
		}
	case n.fields != nil:
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			p := k
			switch {
			case n.keys:
				p = path + "[" + k + "]"
			case path != "":
				p = path + "." + k
			}
			child, ok := n.fields[k]
			if !ok && n.extended && extendedResource(k) {
				child, ok = ignored, true
			}
			if !ok {
				if !isZero(m[k]) {
					*errs = append(*errs, unsupported(p))
				}
				continue
			}
			walk(p, m[k], child, errs)
		}
	case n.elem != nil:
		l, _ := v.([]any)
		for i, e := range l {
			walk(fmt.Sprintf("%s[%d]", path, i), e, n.elem, errs)
		}
	}
}

// isZero: absent in effect. Pointers to false or 0 are not zero (hostUsers:
// false means something); empty objects, lists and strings are.
func isZero(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case string:
		return v == ""
	case []any:
		return len(v) == 0
	case map[string]any:
		for _, e := range v {
			if !isZero(e) {
				return false
			}
		}
		return true
	}
	return false
}

// extendedResource: a resource name with a domain (example.com/dongle,
// nvidia.com/gpu), which only a scheduler counts. hugepages-* and the
// kubernetes.io ones are not: they would be limits podbox can not enforce.
func extendedResource(name string) bool {
	domain, _, ok := strings.Cut(name, "/")
	return ok && domain != "kubernetes.io" && !strings.HasSuffix(domain, ".kubernetes.io")
}
