package spec

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
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
// "---" lines) or one JSON object; every document must be a v1 Pod. Empty
// documents are skipped. Every problem of every document is reported at once
// (an Errors, one per line); those of the second and later documents name
// their document.
func ParseAll(data []byte) ([]*sandbox.PodConfig, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: the manifest is %d bytes, over %d", ErrInvalid, len(data), MaxManifestSize)
	}
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w: the manifest holds no pod", ErrInvalid)
	}
	var (
		cs   []*sandbox.PodConfig
		errs Errors
	)
	for _, doc := range docs {
		c, err := parseDocument(doc.json)
		if err == nil {
			cs = append(cs, c)
			continue
		}
		var list Errors
		if !errors.As(err, &list) {
			list = Errors{err}
		}
		for _, e := range list {
			if len(docs) > 1 {
				e = fmt.Errorf("document %d: %w", doc.n, e)
			}
			errs = append(errs, e)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cs, nil
}

// document is the JSON of the nth YAML document of a manifest (from 1).
type document struct {
	n    int
	json []byte
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
		docs = append(docs, document{n, j})
	}
}

// parseDocument decodes one document's JSON strictly (unknown fields, fields
// in the wrong case and fields given twice are errors), then refuses the
// fields podbox does not honour, validates, and converts.
func parseDocument(j []byte) (*sandbox.PodConfig, error) {
	var tm struct {
		APIVersion any `json:"apiVersion"`
		Kind       any `json:"kind"`
	}
	if err := json.Unmarshal(j, &tm); err != nil {
		return nil, fmt.Errorf("%w: a manifest is an object with apiVersion v1 and kind Pod", ErrInvalid)
	}
	var errs Errors
	switch {
	case tm.APIVersion == nil:
		errs = append(errs, invalid("apiVersion", "is required (v1)"))
	case tm.APIVersion != "v1":
		errs = append(errs, &FieldError{Field: "apiVersion", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%s %s (only v1)", describe(tm.APIVersion), ErrUnsupported)})
	}
	switch {
	case tm.Kind == nil:
		errs = append(errs, invalid("kind", "is required (Pod)"))
	case tm.Kind != "Pod":
		errs = append(errs, &FieldError{Field: "kind", Err: ErrUnsupported,
			Msg: fmt.Sprintf("%s %s (only Pod)", describe(tm.Kind), ErrUnsupported)})
	}
	if len(errs) > 0 {
		return nil, errs
	}

	var p v1.Pod
	strict, err := sigsjson.UnmarshalStrict(j, &p)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
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
	// Strict errors leave the rest decoded: check it too, so that every
	// problem shows at once.
	errs = append(errs, checkAllowed(&p)...)
	errs = append(errs, validate(&p)...)
	if len(errs) > 0 {
		return nil, errs
	}
	return convert(&p), nil
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
