package spec

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	sigsjson "sigs.k8s.io/json"
)

// source is a ConfigMap or a Secret of the manifest: its kind and its keys.
type source struct {
	kind      string // "ConfigMap" or "Secret"
	name      string
	namespace string
	typ       string // a Secret's type
	from      string // the --configmap file it came from; "" for the manifest
	data      map[string][]byte
}

// objects are the ConfigMaps and Secrets given beside the pods, by kind
// and namespace/name.
type objects map[string]*source

func objKey(kind, ns, name string) string {
	if ns == "" {
		ns = "default"
	}
	return kind + "/" + ns + "/" + name
}

func (o objects) get(kind, ns, name string) *source { return o[objKey(kind, ns, name)] }

var objectMeta = obj(leaves("name", "namespace", "labels", "annotations",
	"creationTimestamp", "uid", "resourceVersion", "generation"))

var allowedObjects = map[string]*node{
	"ConfigMap": obj(fields{"apiVersion": leaf, "kind": leaf, "metadata": objectMeta,
		"data": leaf, "binaryData": leaf, "immutable": leaf}),
	"Secret": obj(fields{"apiVersion": leaf, "kind": leaf, "metadata": objectMeta,
		"data": leaf, "stringData": leaf, "type": leaf, "immutable": leaf}),
}

// decodeObject decodes a ConfigMap or Secret strictly and checks it as the
// API server does (a DNS-1123 subdomain name, valid keys, none given twice).
func decodeObject(kind string, j []byte) (*source, []error) {
	var (
		meta         metav1.ObjectMeta
		errs, strict []error
		err          error
		src          = &source{kind: kind, data: map[string][]byte{}}
		twice        []string
		target       any
	)
	switch kind {
	case "ConfigMap":
		var cm v1.ConfigMap
		target = &cm
		strict, err = sigsjson.UnmarshalStrict(j, &cm)
		meta = cm.ObjectMeta
		for k, v := range cm.Data {
			src.data[k] = []byte(v)
		}
		for k, v := range cm.BinaryData {
			if _, ok := src.data[k]; ok {
				twice = append(twice, k)
			}
			src.data[k] = v
		}
	case "Secret":
		var s v1.Secret
		target = &s
		strict, err = sigsjson.UnmarshalStrict(j, &s)
		meta = s.ObjectMeta
		src.typ = string(s.Type)
		maps.Copy(src.data, s.Data)
		// As the API server: stringData is written over data.
		for k, v := range s.StringData {
			src.data[k] = []byte(v)
		}
	}
	if err != nil {
		return nil, []error{fmt.Errorf("%w: %w", ErrInvalid, err)}
	}
	errs = append(errs, strictErrors(strict)...)
	b, _ := json.Marshal(target)
	var m map[string]any
	json.Unmarshal(b, &m)
	walk("", m, allowedObjects[kind], &errs)
	src.name, src.namespace = meta.Name, meta.Namespace
	if meta.Name == "" {
		errs = append(errs, invalid("metadata.name", "is required"))
	}
	for _, msg := range validation.IsDNS1123Subdomain(meta.Name) {
		if meta.Name != "" {
			errs = append(errs, invalid("metadata.name", "%q: %s", meta.Name, msg))
		}
	}
	for _, k := range sortedKeys(src.data) {
		for _, msg := range validation.IsConfigMapKey(k) {
			errs = append(errs, invalid("data["+k+"]", "key %q: %s", k, msg))
		}
	}
	slices.Sort(twice)
	for _, k := range twice {
		errs = append(errs, invalid("binaryData["+k+"]", "key %q is also in data", k))
	}
	return src, errs
}

// strictErrors turns sigs.k8s.io/json's strict errors into field errors.
func strictErrors(strict []error) []error {
	var errs []error
	for _, e := range strict {
		var fe interface{ FieldPath() string }
		if errors.As(e, &fe) {
			msg := "unknown field"
			if strings.HasPrefix(e.Error(), "duplicate field") {
				msg = "field given twice"
			}
			errs = append(errs, invalid(fe.FieldPath(), "%s", msg))
		} else {
			errs = append(errs, fmt.Errorf("%w: %w", ErrInvalid, e))
		}
	}
	return errs
}

// pullSecrets reads the credentials of the pod's imagePullSecrets: Secrets
// of the manifest of type kubernetes.io/dockerconfigjson or
// kubernetes.io/dockercfg. Their data goes to the keyring only, which is
// never written.
func (r *resolver) pullSecrets(refs []v1.LocalObjectReference) image.Keyring {
	var k image.Keyring
	for i, ref := range refs {
		f := fmt.Sprintf("spec.imagePullSecrets[%d]", i)
		if ref.Name == "" {
			r.fail(f+".name", "is required")
			continue
		}
		src := r.objs.get("Secret", r.pod.Namespace, ref.Name)
		if src == nil {
			r.fail(f+".name", "Secret %q is not in the manifest (give it beside the pod, or with --configmap)", ref.Name)
			continue
		}
		origin := fmt.Sprintf("Secret %s/%s", r.pod.Namespace, ref.Name)
		if r.pod.Namespace == "" {
			origin = "Secret default/" + ref.Name
		}
		var (
			entries image.Keyring
			err     error
			key     string
		)
		switch v1.SecretType(src.typ) {
		case v1.SecretTypeDockerConfigJson:
			key = v1.DockerConfigJsonKey
			entries, err = image.ParseDockerConfigJSON(src.data[key], origin)
		case v1.SecretTypeDockercfg:
			key = v1.DockerConfigKey
			entries, err = image.ParseDockercfg(src.data[key], origin)
		default:
			typ := src.typ
			if typ == "" {
				typ = string(v1.SecretTypeOpaque)
			}
			r.fail(f+".name", "Secret %q is of type %s, not %s or %s", ref.Name, typ, v1.SecretTypeDockerConfigJson, v1.SecretTypeDockercfg)
			continue
		}
		if _, ok := src.data[key]; !ok {
			r.fail(f+".name", "Secret %q (type %s) has no key %q", ref.Name, src.typ, key)
			continue
		}
		if err != nil {
			r.fail(f+".name", "Secret %q: key %q: %v", ref.Name, key, err)
			continue
		}
		k = append(k, entries...)
	}
	return k
}

// defaultMode is Kubernetes' default mode of projected files.
const defaultMode = 0o644

// resolver maps a pod's references to the manifest's ConfigMaps and
// Secrets, and its downward API items, and reports each that can not be
// resolved with its field path.
type resolver struct {
	objs objects
	pod  *v1.Pod
	errs []error
}

func (r *resolver) fail(f, format string, args ...any) {
	r.errs = append(r.errs, invalid(f, format, args...))
}

// lookup finds a ConfigMap or Secret the pod names; nil (and an error
// unless optional) when the manifest has none.
func (r *resolver) lookup(f, kind, name string, optional *bool) *source {
	if name == "" {
		r.fail(f+".name", "is required")
		return nil
	}
	src := r.objs.get(kind, r.pod.Namespace, name)
	if src == nil && (optional == nil || !*optional) {
		r.fail(f+".name", "%s %q is not in the manifest (give it beside the pod, or set optional: true)", kind, name)
	}
	return src
}

// key is one key of a ConfigMap or Secret; ok false when it is missing
// (an error unless optional).
func (r *resolver) key(f, kind, name, key string, optional *bool) ([]byte, bool) {
	src := r.lookup(f, kind, name, optional)
	if src == nil {
		return nil, false
	}
	v, ok := src.data[key]
	if !ok && (optional == nil || !*optional) {
		r.fail(f+".key", "%s %q has no key %q", kind, name, key)
	}
	return v, ok
}

// env expands a container's envFrom and env, in that order (a later
// variable of the same name wins, as in the kubelet).
func (r *resolver) env(field string, k *v1.Container) []sandbox.EnvVar {
	var env []sandbox.EnvVar
	for i, ef := range k.EnvFrom {
		f := fmt.Sprintf("%s.envFrom[%d]", field, i)
		var src *source
		switch {
		case ef.ConfigMapRef != nil && ef.SecretRef != nil:
			r.fail(f, "configMapRef and secretRef are both set")
			continue
		case ef.ConfigMapRef != nil:
			src = r.lookup(f+".configMapRef", "ConfigMap", ef.ConfigMapRef.Name, ef.ConfigMapRef.Optional)
		case ef.SecretRef != nil:
			src = r.lookup(f+".secretRef", "Secret", ef.SecretRef.Name, ef.SecretRef.Optional)
		default:
			r.fail(f, "needs a configMapRef or a secretRef")
			continue
		}
		if ef.Prefix != "" && len(validation.IsEnvVarName(ef.Prefix)) > 0 {
			r.fail(f+".prefix", "%q is not a variable name prefix", ef.Prefix)
		}
		if src == nil {
			continue
		}
		for _, key := range sortedKeys(src.data) {
			// As the kubelet: keys that are not variable names are
			// skipped.
			if len(validation.IsEnvVarName(ef.Prefix+key)) > 0 {
				continue
			}
			env = append(env, sandbox.EnvVar{Name: ef.Prefix + key, Value: string(src.data[key])})
		}
	}
	for i, e := range k.Env {
		f := fmt.Sprintf("%s.env[%d].valueFrom", field, i)
		// A value may refer to the variables before it (not one taken
		// from a ConfigMap, Secret or the downward API).
		ev := sandbox.EnvVar{Name: e.Name, Value: e.Value, Expand: e.ValueFrom == nil}
		if vf := e.ValueFrom; vf != nil {
			switch {
			case vf.FieldRef != nil:
				ev.FieldPath = vf.FieldRef.FieldPath
			case vf.ResourceFieldRef != nil:
				ev.ResourceField = r.resourceField(f+".resourceFieldRef", vf.ResourceFieldRef, k.Name)
			case vf.ConfigMapKeyRef != nil:
				s := vf.ConfigMapKeyRef
				v, ok := r.key(f+".configMapKeyRef", "ConfigMap", s.Name, s.Key, s.Optional)
				if !ok {
					continue // optional and missing: no variable, as the kubelet
				}
				ev.Value = string(v)
			case vf.SecretKeyRef != nil:
				s := vf.SecretKeyRef
				v, ok := r.key(f+".secretKeyRef", "Secret", s.Name, s.Key, s.Optional)
				if !ok {
					continue
				}
				ev.Value = string(v)
			}
		}
		env = append(env, ev)
	}
	return env
}

// resourceField checks a resourceFieldRef and maps it; self is the
// container it defaults to ("" in a volume, where containerName is
// required).
func (r *resolver) resourceField(f string, ref *v1.ResourceFieldSelector, self string) *sandbox.ResourceFieldRef {
	c := ref.ContainerName
	if c == "" {
		if self == "" {
			r.fail(f+".containerName", "is required in a volume")
		}
		c = self
	} else if !slices.ContainsFunc(allContainers(r.pod), func(x ctr) bool { return x.c.Name == c }) {
		r.fail(f+".containerName", "%q is not a container of the pod", c)
	}
	out := &sandbox.ResourceFieldRef{Container: c, Resource: ref.Resource}
	one := resource.MustParse("1")
	div := ref.Divisor
	if div.IsZero() {
		div = one
	}
	switch ref.Resource {
	case "limits.cpu", "requests.cpu":
		if !slices.Contains([]string{"1", "1m"}, div.String()) {
			r.fail(f+".divisor", "%s: a cpu divisor is 1 or 1m", &div)
		}
		out.Divisor = div.MilliValue()
	case "limits.memory", "requests.memory":
		if !slices.Contains([]string{"1", "1k", "1M", "1G", "1T", "1P", "1E", "1Ki", "1Mi", "1Gi", "1Ti", "1Pi", "1Ei"}, div.String()) {
			r.fail(f+".divisor", "%s: a memory divisor is 1, 1k, 1M, 1G, 1T, 1P, 1E, 1Ki, 1Mi, 1Gi, 1Ti, 1Pi or 1Ei", &div)
		}
		out.Divisor = div.Value()
	case "limits.ephemeral-storage", "requests.ephemeral-storage", "limits.hugepages-2Mi":
		r.errs = append(r.errs, &FieldError{Field: f + ".resource", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%q %s (only limits.cpu, requests.cpu, limits.memory and requests.memory)", ref.Resource, ErrUnsupported)})
	default:
		r.fail(f+".resource", "%q is not limits.cpu, requests.cpu, limits.memory or requests.memory", ref.Resource)
	}
	if out.Divisor <= 0 {
		out.Divisor = 1
	}
	return out
}

// volumeFieldPaths are the pod fields a downwardAPI volume file can hold.
var volumeFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "metadata.labels", "metadata.annotations"}

// envFieldPaths are those an env var can take.
var envFieldPaths = []string{"metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
	"spec.serviceAccountName", "status.hostIP", "status.hostIPs", "status.podIP", "status.podIPs"}

// checkFieldPath checks a fieldRef against the paths allowed where it is
// (plus metadata.labels['key'] and metadata.annotations['key'] anywhere).
func checkFieldPath(f string, ref *v1.ObjectFieldSelector, allowed []string) error {
	if v := ref.APIVersion; v != "" && v != "v1" {
		return invalid(f+".apiVersion", "%q is not v1", v)
	}
	fp := ref.FieldPath
	for _, sub := range []string{"metadata.labels", "metadata.annotations"} {
		if k, ok := strings.CutPrefix(fp, sub+"['"); ok && strings.HasSuffix(k, "']") {
			k = strings.TrimSuffix(k, "']")
			if msgs := validation.IsQualifiedName(strings.ToLower(k)); len(msgs) > 0 {
				return invalid(f+".fieldPath", "%q: key %q: %s", fp, k, msgs[0])
			}
			return nil
		}
	}
	if !slices.Contains(allowed, fp) {
		return invalid(f+".fieldPath", "%q is not one of %s, metadata.labels['KEY'] or metadata.annotations['KEY']", fp, strings.Join(allowed, ", "))
	}
	return nil
}

// itemPath checks a file's path in a volume as the API server does:
// relative, no "..", not starting with "..".
func (r *resolver) itemPath(f, p string) {
	switch {
	case p == "":
		r.fail(f, "is required")
	case path.IsAbs(p):
		r.fail(f, "%q is absolute; it must be relative to the volume", p)
	case slices.Contains(strings.Split(p, "/"), ".."), strings.HasPrefix(p, ".."):
		r.fail(f, "%q must not contain '..' or start with '..'", p)
	}
}

func (r *resolver) mode(f string, m *int32, def int32) uint32 {
	if m == nil {
		return uint32(def)
	}
	if *m < 0 || *m > 0o777 {
		r.fail(f, "%#o is not a file mode from 0 to 0777", *m)
	}
	return uint32(*m)
}

// keyFiles are the files of a configMap or secret volume (or projection):
// every key, or only the items, each with its mode.
func (r *resolver) keyFiles(f, kind, name string, items []v1.KeyToPath, optional *bool, def int32) []sandbox.VolumeFile {
	src := r.lookup(f, kind, name, optional)
	if src == nil {
		return nil
	}
	var files []sandbox.VolumeFile
	if len(items) == 0 {
		for _, k := range sortedKeys(src.data) {
			files = append(files, sandbox.VolumeFile{Path: k, Data: src.data[k], Mode: uint32(def)})
		}
		return files
	}
	for i, it := range items {
		itf := fmt.Sprintf("%s.items[%d]", f, i)
		r.itemPath(itf+".path", it.Path)
		mode := r.mode(itf+".mode", it.Mode, def)
		v, ok := src.data[it.Key]
		if !ok {
			if optional == nil || !*optional {
				r.fail(itf+".key", "%s %q has no key %q", kind, name, it.Key)
			}
			continue
		}
		files = append(files, sandbox.VolumeFile{Path: it.Path, Data: v, Mode: mode})
	}
	return files
}

func (r *resolver) downwardFiles(f string, items []v1.DownwardAPIVolumeFile, def int32) []sandbox.VolumeFile {
	var files []sandbox.VolumeFile
	for i, it := range items {
		itf := fmt.Sprintf("%s.items[%d]", f, i)
		r.itemPath(itf+".path", it.Path)
		vf := sandbox.VolumeFile{Path: it.Path, Mode: r.mode(itf+".mode", it.Mode, def)}
		switch {
		case (it.FieldRef == nil) == (it.ResourceFieldRef == nil):
			r.fail(itf, "needs exactly one of fieldRef and resourceFieldRef")
		case it.FieldRef != nil:
			if err := checkFieldPath(itf+".fieldRef", it.FieldRef, volumeFieldPaths); err != nil {
				r.errs = append(r.errs, err)
			}
			vf.FieldPath = it.FieldRef.FieldPath
		default:
			vf.ResourceField = r.resourceField(itf+".resourceFieldRef", it.ResourceFieldRef, "")
		}
		files = append(files, vf)
	}
	return files
}

// filesVolume maps a configMap, secret, downwardAPI or projected volume to
// the files it holds; nil for other sources.
func (r *resolver) filesVolume(f string, vs *v1.VolumeSource) *sandbox.FilesVolume {
	def := func(m *int32, field string) int32 {
		if m == nil {
			return defaultMode
		}
		return int32(r.mode(field, m, defaultMode))
	}
	var files []sandbox.VolumeFile
	switch {
	case vs.ConfigMap != nil:
		c := vs.ConfigMap
		files = r.keyFiles(f+".configMap", "ConfigMap", c.Name, c.Items, c.Optional, def(c.DefaultMode, f+".configMap.defaultMode"))
	case vs.Secret != nil:
		s := vs.Secret
		sf := f + ".secret"
		if s.SecretName == "" {
			r.fail(sf+".secretName", "is required")
			return &sandbox.FilesVolume{}
		}
		files = r.keyFiles(sf, "Secret", s.SecretName, s.Items, s.Optional, def(s.DefaultMode, sf+".defaultMode"))
	case vs.DownwardAPI != nil:
		d := vs.DownwardAPI
		files = r.downwardFiles(f+".downwardAPI", d.Items, def(d.DefaultMode, f+".downwardAPI.defaultMode"))
	case vs.Projected != nil:
		p := vs.Projected
		dm := def(p.DefaultMode, f+".projected.defaultMode")
		for i, s := range p.Sources {
			sf := fmt.Sprintf("%s.projected.sources[%d]", f, i)
			var n int
			if c := s.ConfigMap; c != nil {
				n++
				files = append(files, r.keyFiles(sf+".configMap", "ConfigMap", c.Name, c.Items, c.Optional, dm)...)
			}
			if c := s.Secret; c != nil {
				n++
				files = append(files, r.keyFiles(sf+".secret", "Secret", c.Name, c.Items, c.Optional, dm)...)
			}
			if d := s.DownwardAPI; d != nil {
				n++
				files = append(files, r.downwardFiles(sf+".downwardAPI", d.Items, dm)...)
			}
			if n != 1 {
				r.fail(sf, "needs exactly one of configMap, secret and downwardAPI")
			}
		}
	default:
		return nil
	}
	seen := map[string]bool{}
	for _, fl := range files {
		p := path.Clean(fl.Path)
		if seen[p] {
			r.fail(f, "two files have the path %q", fl.Path)
		}
		seen[p] = true
	}
	return &sandbox.FilesVolume{Files: files}
}
