package spec

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"

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
}

type fields map[string]*node

var leaf = &node{}

func obj(f fields) *node    { return &node{fields: f} }
func keyed(f fields) *node  { return &node{fields: f, keys: true} }
func list(elem *node) *node { return &node{elem: elem} }
func onlyValue(v any) *node { return &node{only: v, hasOnly: true} }
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
	"limits":   keyed(leaves("memory", "cpu")),
	"requests": keyed(leaves("memory", "cpu")),
})

// containerResources add ephemeral-storage: a limit on what the container
// writes to its root filesystem and its logs, enforced by eviction.
var containerResources = obj(fields{
	"limits":   keyed(leaves("memory", "cpu", "ephemeral-storage")),
	"requests": keyed(leaves("memory", "cpu", "ephemeral-storage")),
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
	"stdin", "tty", "restartPolicy",
), fields{
	"ports": list(obj(leaves("name", "containerPort", "hostPort", "protocol", "hostIP"))),
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
	// creationTimestamp, uid, resourceVersion and generation are set by
	// whoever stores the pod (kubectl, podbox get -o yaml); they are read-only
	// output and ignored, so that such output loads again.
	"metadata": obj(leaves("name", "namespace", "labels", "annotations",
		"creationTimestamp", "uid", "resourceVersion", "generation")),
	"spec": obj(with(leaves(
		"restartPolicy", "terminationGracePeriodSeconds", "dnsPolicy",
		"hostNetwork", "shareProcessNamespace", "hostname",
	), fields{
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
		// podbox has no service account and injects no service variables,
		// so these are accepted when they say just that.
		"automountServiceAccountToken": onlyValue(false),
		"enableServiceLinks":           onlyValue(false),
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
