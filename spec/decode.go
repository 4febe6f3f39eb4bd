package spec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// Load reads one Pod manifest, YAML or JSON, from the file at path ("-" is
// standard input) and returns its configuration. A file that holds several
// pods is an error that says how many; use LoadAll for those.
func Load(path string) (*sandbox.PodConfig, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", displayName(path), err)
	}
	return c, nil
}

// LoadAll is Load for a file of one or more pods.
func LoadAll(path string) ([]*sandbox.PodConfig, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, err
	}
	cs, err := ParseAll(data)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", displayName(path), err)
	}
	return cs, nil
}

// Read is Load from r.
func Read(r io.Reader) (*sandbox.PodConfig, error) {
	data, err := readManifest(r)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	return Parse(data)
}

// Parse is Load from data.
func Parse(data []byte) (*sandbox.PodConfig, error) {
	cs, err := ParseAll(data)
	if err != nil {
		return nil, err
	}
	if len(cs) != 1 {
		return nil, fmt.Errorf("%w: the manifest holds %d pods, podbox runs one at a time", ErrInvalid, len(cs))
	}
	return cs[0], nil
}

// ParseAll parses a manifest of one or more YAML documents (separated by
// "---" lines) or one JSON object: v1 Pods, workloads (apps/v1
// Deployment, ReplicaSet, StatefulSet, DaemonSet; batch/v1 Job, CronJob)
// whose pod template is run as one pod, and the v1 ConfigMaps and Secrets
// they refer to (in their namespace), alone or as the items of a v1 List,
// as kubectl and podman kube play read them. Empty documents are skipped.
// Every problem of every document is reported at once (an Errors, one per
// line); those of a manifest of several documents name their document.
// Each pod's configuration has the references resolved: env values and
// volume files hold the ConfigMaps' and Secrets' data. The fields that
// only matter to a cluster are accepted; ParseWith says which.
func ParseAll(data []byte) ([]*sandbox.PodConfig, error) { return pods(ParseWith(data, Options{})) }

// ParseAllKeep is ParseAll that also keeps each pod's own document, as
// JSON, in its configuration's Manifest (podbox get pod shows it).
func ParseAllKeep(data []byte) ([]*sandbox.PodConfig, error) {
	return pods(ParseWith(data, Options{Keep: true}))
}

// ParseAllWith is ParseAllKeep with ConfigMaps and Secrets also taken
// from extra, read apart from the manifest (LoadObjects). A name that both
// give is an error, as one given twice in the manifest is.
func ParseAllWith(data []byte, extra *Objects) ([]*sandbox.PodConfig, error) {
	return pods(ParseWith(data, Options{Keep: true, Extra: extra}))
}

func pods(res *Result, err error) ([]*sandbox.PodConfig, error) {
	if err != nil {
		return nil, err
	}
	return res.Pods, nil
}

// Options tune ParseWith.
type Options struct {
	// Keep keeps each pod's own document (for a workload, the pod made of
	// its template), as JSON, in its configuration's Manifest.
	Keep bool
	// Strict refuses the fields that only matter to a cluster
	// (ErrIgnored), which are otherwise accepted with a warning.
	Strict bool
	// Extra are ConfigMaps and Secrets read apart (LoadObjects).
	Extra *Objects
}

// Result is what a manifest holds: its pods, in the order of the
// manifest, and the warnings: for each pod that sets fields podbox does
// not act on, one line naming them.
type Result struct {
	Pods     []*sandbox.PodConfig
	Warnings []string
}

// Objects are ConfigMaps and Secrets read apart from a manifest, as
// podbox run --configmap FILE (podman kube play --configmap) gives them.
type Objects struct{ objs objects }

// LoadObjects reads files of ConfigMaps and Secrets, YAML (one or more
// documents) or JSON, alone or as a v1 List, each bounded as a manifest
// is. A Pod in them, or a name given twice, is an error naming the file
// and the document.
func LoadObjects(paths ...string) (*Objects, error) {
	o := &Objects{objs: objects{}}
	for _, p := range paths {
		data, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		if err := o.parse(data, p); err != nil {
			return nil, fmt.Errorf("%s: %w", displayName(p), err)
		}
	}
	return o, nil
}

func (o *Objects) parse(data []byte, file string) error {
	docs, err := splitDocuments(data)
	if err != nil {
		return err
	}
	var errs Errors
	add := func(doc document, err error) { errs = append(errs, docErrors(doc, err, true)...) }
	for _, doc := range o.read(docs, file, objects{}, add) {
		add(doc, invalid("kind", "a %s: this file holds only ConfigMaps and Secrets (give the pod as podbox run's FILE)", doc.kind))
	}
	if len(errs) > 0 {
		return errs
	}
	if len(docs) == 0 {
		return fmt.Errorf("%w: the file holds no ConfigMap or Secret", ErrInvalid)
	}
	return nil
}

// read adds the ConfigMaps and Secrets of docs (Lists expanded) to o and
// returns the Pods'.
func (o *Objects) read(docs []document, file string, other objects, fail func(document, error)) []document {
	var pods []document
	for _, doc := range expandLists(docs, fail) {
		kind, err := kindOf(doc.json)
		switch {
		case err != nil:
			fail(doc, err)
		case kind == "Pod" || workloadKinds[kind] != "":
			doc.kind = kind
			pods = append(pods, doc)
		default:
			o.add(doc, kind, file, other, fail)
		}
	}
	return pods
}

// add decodes one ConfigMap or Secret document into o, refusing a name
// that o or other already has.
func (o *Objects) add(doc document, kind, file string, other objects, fail func(document, error)) {
	src, errs := decodeObject(kind, doc.json)
	if len(errs) > 0 {
		fail(doc, Errors(errs))
		return
	}
	src.from = file
	k := objKey(kind, src.namespace, src.name)
	for _, have := range []*source{o.objs[k], other[k]} {
		switch {
		case have == nil:
		case have.from == file || have.from == "":
			fail(doc, invalid("metadata.name", "%s %q is given twice", kind, src.name))
		default:
			fail(doc, invalid("metadata.name", "%s %q is also given in %s (--configmap)", kind, src.name, displayName(have.from)))
		}
	}
	o.objs[k] = src
}

// docErrors are err's errors, named after their document when the
// manifest has several or it is an item of a List.
func docErrors(doc document, err error, several bool) Errors {
	var list Errors
	if !errors.As(err, &list) {
		list = Errors{err}
	}
	out := make(Errors, len(list))
	for i, e := range list {
		if several || doc.item != "" {
			e = fmt.Errorf("%s: %w", doc.name(), e)
		}
		out[i] = e
	}
	return out
}

// ParseWith is ParseAll with options, saying what it ignored.
func ParseWith(data []byte, o Options) (*Result, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: the manifest is %d bytes, over %d", ErrInvalid, len(data), MaxManifestSize)
	}
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, err
	}
	var errs Errors
	add := func(doc document, err error) { errs = append(errs, docErrors(doc, err, len(docs) > 1)...) }
	// Lists give their items as documents; ConfigMaps and Secrets are
	// read first, so that any pod can refer to any of them.
	own := &Objects{objs: objects{}}
	extra := o.Extra
	if extra == nil {
		extra = &Objects{}
	}
	pods := own.read(docs, "", extra.objs, add)
	objs := own.objs
	maps.Copy(objs, extra.objs)
	res := &Result{}
	made := map[string]string{}
	for _, doc := range pods {
		c, ignored, err := parseKind(doc, objs)
		if o.Strict && len(ignored) > 0 {
			var list Errors
			if err != nil && !errors.As(err, &list) {
				list = Errors{err}
			}
			err = append(append(Errors(nil), list...), ignored...)
		}
		if err != nil {
			add(doc, err)
			continue
		}
		key := c.Namespace + "/" + c.Name
		if prev, ok := made[key]; ok {
			add(doc, invalid("metadata.name", "pod %q is also made by %s", c.Name, prev))
			continue
		}
		made[key] = doc.name()
		if !o.Keep {
			c.Manifest = nil
		}
		if len(ignored) > 0 {
			res.Warnings = append(res.Warnings, ignoredWarning(doc.kind, c, ignored))
		}
		res.Pods = append(res.Pods, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(res.Pods) == 0 {
		return nil, fmt.Errorf("%w: the manifest holds no pod", ErrInvalid)
	}
	return res, nil
}

// parseKind parses a Pod's or a workload's document.
func parseKind(doc document, objs objects) (*sandbox.PodConfig, []error, error) {
	if doc.kind == "Pod" {
		return parseDocument(doc.json, objs)
	}
	return parseWorkload(doc.kind, doc.json, objs)
}

// ignoredWarning is the one line that names what podbox ignored of a pod.
func ignoredWarning(kind string, c *sandbox.PodConfig, ignored []error) string {
	what := fmt.Sprintf("pod %q", c.Name)
	if kind != "Pod" {
		what = fmt.Sprintf("%s %q (pod %q)", kind, strings.TrimSuffix(c.Name, WorkloadPodSuffix), c.Name)
	}
	var fs []string
	for _, e := range ignored {
		var fe *FieldError
		if errors.As(e, &fe) {
			fs = append(fs, fe.Field)
		}
	}
	if kind == "CronJob" {
		what += ": its job runs once, now"
	}
	return fmt.Sprintf("%s: podbox does not act on %s (they only matter to a cluster)", what, strings.Join(fs, ", "))
}

// document is the JSON of the nth YAML document of a manifest (from 1), or
// of an item of a List there.
type document struct {
	n    int
	json []byte
	item string // "items[2]" for an item of a List
	kind string // of a Pod's or workload's, once read
}

func (d document) name() string {
	if d.item != "" {
		return fmt.Sprintf("document %d: %s", d.n, d.item)
	}
	return fmt.Sprintf("document %d", d.n)
}

// expandLists replaces each v1 List by its items.
func expandLists(docs []document, fail func(document, error)) []document {
	var out []document
	for _, doc := range docs {
		var l struct {
			APIVersion any               `json:"apiVersion"`
			Kind       any               `json:"kind"`
			Items      []json.RawMessage `json:"items"`
		}
		if json.Unmarshal(doc.json, &l) != nil || l.Kind != "List" {
			out = append(out, doc)
			continue
		}
		if l.APIVersion != "v1" {
			fail(doc, &FieldError{Field: "apiVersion", Err: ErrUnsupported,
				Msg: fmt.Sprintf("%s %s (a List is v1)", describe(l.APIVersion), ErrUnsupported)})
			continue
		}
		for i, it := range l.Items {
			out = append(out, document{n: doc.n, json: it, item: fmt.Sprintf("items[%d]", i)})
		}
	}
	return out
}

// kinds are the v1 objects a manifest may hold besides Lists and
// workloads.
var kinds = []string{"Pod", "ConfigMap", "Secret"}

// kindOf checks a document's apiVersion and kind.
func kindOf(j []byte) (string, error) {
	var tm struct {
		APIVersion any `json:"apiVersion"`
		Kind       any `json:"kind"`
	}
	if err := json.Unmarshal(j, &tm); err != nil {
		return "", fmt.Errorf("%w: a manifest is an object with apiVersion v1 and kind Pod", ErrInvalid)
	}
	var errs Errors
	kind, _ := tm.Kind.(string)
	api := "v1"
	if w := workloadKinds[kind]; w != "" {
		api = w
	}
	switch {
	case tm.APIVersion == nil:
		errs = append(errs, invalid("apiVersion", "is required (%s)", api))
	case tm.APIVersion != api:
		errs = append(errs, &FieldError{Field: "apiVersion", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%s %s (only %s)", describe(tm.APIVersion), ErrUnsupported, api)})
	}
	switch {
	case tm.Kind == nil:
		errs = append(errs, invalid("kind", "is required (Pod)"))
	case !slices.Contains(kinds, kind) && workloadKinds[kind] == "":
		errs = append(errs, &FieldError{Field: "kind", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%s %s (only Pod, Deployment, ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ConfigMap, Secret and a List of them)", describe(tm.Kind), ErrUnsupported)})
	}
	if len(errs) > 0 {
		return "", errs
	}
	return kind, nil
}

// splitDocuments returns the non-empty YAML documents in data as JSON.
func splitDocuments(data []byte) ([]document, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs []document
	for n := 1; ; n++ {
		doc, err := r.Read()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: document %d: %w", ErrInvalid, n, err)
		}
		// Strict: a key given twice is an error.
		j, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%w: document %d: %s", ErrInvalid, n, oneLine(err))
		}
		if t := bytes.TrimSpace(j); len(t) == 0 || string(t) == "null" {
			continue
		}
		docs = append(docs, document{n: n, json: j})
	}
}

// parseDocument decodes one Pod's JSON strictly (unknown fields, fields
// in the wrong case and fields given twice are errors), then refuses the
// fields podbox does not honour, validates, resolves its references to
// objs, and converts. The fields that only matter to a cluster are
// returned apart (ignored); Manifest is set to the document.
func parseDocument(j []byte, objs objects) (*sandbox.PodConfig, []error, error) {
	var p v1.Pod
	strict, err := sigsjson.UnmarshalStrict(j, &p)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	errs := Errors(strictErrors(strict))
	c, ignored, perr := parsePod(&p, objs)
	errs = append(errs, perr...)
	if len(errs) > 0 {
		return nil, ignored, errs
	}
	c.Manifest = append(json.RawMessage(nil), j...)
	return c, ignored, nil
}

// parsePod checks a decoded pod and converts it: the errors, and apart the
// fields that only matter to a cluster.
func parsePod(p *v1.Pod, objs objects) (*sandbox.PodConfig, []error, []error) {
	var errs, ignored []error
	named(&p.ObjectMeta)
	// Strict errors leave the rest decoded: check it too, so that every
	// problem shows at once.
	for _, e := range checkAllowed(p) {
		if errors.Is(e, ErrIgnored) {
			ignored = append(ignored, e)
		} else {
			errs = append(errs, e)
		}
	}
	errs = append(errs, validate(p)...)
	r := &resolver{objs: objs, pod: p}
	c := convert(p, r)
	errs = append(errs, r.errs...)
	return c, ignored, errs
}

// parseWorkload decodes a workload and parses the pod of its template,
// with the template's field paths.
func parseWorkload(kind string, j []byte, objs objects) (*sandbox.PodConfig, []error, error) {
	w, errs := decodeWorkload(kind, j)
	if w == nil {
		return nil, nil, Errors(errs)
	}
	var ignored []error
	for _, e := range errs {
		if errors.Is(e, ErrIgnored) {
			ignored = append(ignored, e)
		}
	}
	errs = slices.DeleteFunc(errs, func(e error) bool { return errors.Is(e, ErrIgnored) })
	badName := slices.ContainsFunc(errs, func(e error) bool {
		var fe *FieldError
		return errors.As(e, &fe) && fe.Field == "metadata.name"
	})
	p := w.pod()
	c, pi, perrs := parsePod(p, objs)
	for _, list := range [][]error{pi, perrs} {
		for _, e := range list {
			var fe *FieldError
			if errors.As(e, &fe) {
				if fe.Field == "metadata.name" && badName {
					continue // said of the workload's name already
				}
				e = &FieldError{Field: w.templateField(fe.Field), Msg: fe.Msg, Err: fe.Err}
			}
			if errors.Is(e, ErrIgnored) {
				ignored = append(ignored, e)
			} else {
				errs = append(errs, e)
			}
		}
	}
	if len(errs) > 0 {
		return nil, ignored, Errors(errs)
	}
	if w.job != nil {
		limit := w.backoffLimit()
		c.BackoffLimit = &limit
	}
	p.OwnerReferences = []metav1.OwnerReference{w.owner()}
	c.Manifest, _ = json.Marshal(p)
	return c, ignored, nil
}

func describe(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ReadFile reads a manifest file ("-" is standard input), refusing one over
// MaxManifestSize before it is all read.
func ReadFile(path string) ([]byte, error) {
	r := io.Reader(os.Stdin)
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read manifest %s: %w", displayName(path), err)
		}
		defer f.Close()
		r = f
	}
	data, err := readManifest(r)
	if err != nil {
		return nil, fmt.Errorf("read manifest %s: %w", displayName(path), err)
	}
	return data, nil
}

// Sizes the Kubernetes API server allows, and so podbox: a whole object (its
// request size limit, 3 MiB) and all of a pod's annotations, keys and values
// (256 KiB).
const (
	MaxManifestSize    = 3 << 20
	MaxAnnotationsSize = 256 << 10
)

// readManifest reads r whole, up to MaxManifestSize.
func readManifest(r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxManifestSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: the manifest is over %d bytes", ErrInvalid, MaxManifestSize)
	}
	return data, nil
}

func displayName(path string) string {
	if path == "-" {
		return "(stdin)"
	}
	return fmt.Sprintf("%q", path)
}

// oneLine joins the lines of a YAML error ("yaml: unmarshal errors:\n  line
// 3: ...") so that each problem stays on one line.
func oneLine(err error) string {
	lines := strings.Split(err.Error(), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, " ")
}
