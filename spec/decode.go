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
// "---" lines) or one JSON object: v1 Pods, and the v1 ConfigMaps and
// Secrets they refer to (in their namespace), alone or as the items of a v1
// List, as kubectl and podman kube play read them. Empty documents are
// skipped. Every problem of every document is reported at once (an Errors,
// one per line); those of a manifest of several documents name their
// document. Each pod's configuration has the references resolved: env
// values and volume files hold the ConfigMaps' and Secrets' data, and
// Manifest is the pod's own document.
func ParseAll(data []byte) ([]*sandbox.PodConfig, error) { return parseAll(data, false, nil) }

// ParseAllKeep is ParseAll that also keeps each pod's own document, as
// JSON, in its configuration's Manifest (podbox get pod shows it).
func ParseAllKeep(data []byte) ([]*sandbox.PodConfig, error) { return parseAll(data, true, nil) }

// ParseAllWith is ParseAllKeep with ConfigMaps and Secrets also taken
// from extra, read apart from the manifest (LoadObjects). A name that both
// give is an error, as one given twice in the manifest is.
func ParseAllWith(data []byte, extra *Objects) ([]*sandbox.PodConfig, error) {
	return parseAll(data, true, extra)
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
		add(doc, invalid("kind", "a Pod: this file holds only ConfigMaps and Secrets (give the pod as podbox run's FILE)"))
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
		case kind == "Pod":
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

func parseAll(data []byte, keep bool, extra *Objects) ([]*sandbox.PodConfig, error) {
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
	if extra == nil {
		extra = &Objects{}
	}
	pods := own.read(docs, "", extra.objs, add)
	objs := own.objs
	maps.Copy(objs, extra.objs)
	var cs []*sandbox.PodConfig
	for _, doc := range pods {
		c, err := parseDocument(doc.json, objs)
		if err != nil {
			add(doc, err)
			continue
		}
		if keep {
			c.Manifest = append(json.RawMessage(nil), doc.json...)
		}
		cs = append(cs, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("%w: the manifest holds no pod", ErrInvalid)
	}
	return cs, nil
}

// document is the JSON of the nth YAML document of a manifest (from 1), or
// of an item of a List there.
type document struct {
	n    int
	json []byte
	item string // "items[2]" for an item of a List
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

// kinds are what a manifest may hold besides Lists.
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
	switch {
	case tm.APIVersion == nil:
		errs = append(errs, invalid("apiVersion", "is required (v1)"))
	case tm.APIVersion != "v1":
		errs = append(errs, &FieldError{Field: "apiVersion", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%s %s (only v1)", describe(tm.APIVersion), ErrUnsupported)})
	}
	kind, _ := tm.Kind.(string)
	switch {
	case tm.Kind == nil:
		errs = append(errs, invalid("kind", "is required (Pod)"))
	case !slices.Contains(kinds, kind):
		errs = append(errs, &FieldError{Field: "kind", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%s %s (only Pod, ConfigMap, Secret and a List of them)", describe(tm.Kind), ErrUnsupported)})
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
// objs, and converts.
func parseDocument(j []byte, objs objects) (*sandbox.PodConfig, error) {
	var p v1.Pod
	strict, err := sigsjson.UnmarshalStrict(j, &p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	errs := Errors(strictErrors(strict))
	// Strict errors leave the rest decoded: check it too, so that every
	// problem shows at once.
	errs = append(errs, checkAllowed(&p)...)
	errs = append(errs, validate(&p)...)
	r := &resolver{objs: objs, pod: &p}
	c := convert(&p, r)
	errs = append(errs, r.errs...)
	if len(errs) > 0 {
		return nil, errs
	}
	return c, nil
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
