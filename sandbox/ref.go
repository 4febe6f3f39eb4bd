package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultNamespace is the namespace of a pod whose manifest names none.
const DefaultNamespace = "default"

// A pod is known to the Manager by a reference, "NAMESPACE/NAME", or
// "NAME" for a pod of the default namespace: as in Kubernetes, two
// namespaces may hold pods of the same name. Every method that takes a pod
// takes a reference.

// PodRef is the reference of the pod called name in namespace: just the
// name in the default namespace ("" too), so that messages about such pods
// read as before namespaces.
func PodRef(namespace, name string) string {
	if namespace == "" || namespace == DefaultNamespace {
		return name
	}
	return namespace + "/" + name
}

// ParseRef splits a pod reference into its namespace and name, both
// checked as DNS labels.
func ParseRef(ref string) (namespace, name string, err error) {
	namespace, name = splitRef(ref)
	if err := ValidateName("namespace", namespace); err != nil {
		return "", "", fmt.Errorf("pod %q: %w", ref, err)
	}
	if err := ValidateName("pod name", name); err != nil {
		return "", "", fmt.Errorf("pod %q: %w", ref, err)
	}
	return namespace, name, nil
}

func splitRef(ref string) (namespace, name string) {
	if ns, n, ok := strings.Cut(ref, "/"); ok {
		return ns, n
	}
	return DefaultNamespace, ref
}

// canonical is ref as "NAMESPACE/NAME", the key of the runners this
// process has.
func canonical(ref string) string {
	ns, name := splitRef(ref)
	return ns + "/" + name
}

// podDir is the pod's directory under the state root, pods/<ns>_<name>
// ('_' is in no DNS label, so no two pods share one). A pod of the default
// namespace made before namespaces, pods/<name>, is still found there.
func (m *Manager) podDir(ref string) string {
	ns, name := splitRef(ref)
	if ns == DefaultNamespace {
		legacy := filepath.Join(m.opts.Root, "pods", name)
		if _, err := os.Stat(legacy); err == nil {
			return legacy
		}
	}
	return filepath.Join(m.opts.Root, "pods", ns+"_"+name)
}

// refOfDir is the reference of the pod whose directory is called base.
func refOfDir(base string) string {
	if ns, name, ok := strings.Cut(base, "_"); ok {
		return PodRef(ns, name)
	}
	return base
}

// ref is the pod's reference.
func (c *PodConfig) ref() string { return PodRef(c.Namespace, c.Name) }

// Ref is the pod's reference, "NAMESPACE/NAME".
func (s *PodStatus) Ref() string { return PodRef(s.Namespace(), s.Name) }

// Namespace is the pod's namespace.
func (s *PodStatus) Namespace() string { return s.Config.namespace() }
