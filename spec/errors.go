package spec

import (
	"fmt"
	"strings"

	"github.com/podbox/podbox/errdefs"
)

// Sentinel errors, matched with errors.Is on what Parse and Load return;
// each refines a class of errdefs.
var (
	// ErrUnsupported: the manifest sets a field that podbox does not honour
	// (errdefs.ErrNotImplemented).
	ErrUnsupported = errdefs.New("not supported by podbox", errdefs.ErrNotImplemented)
	// ErrInvalid: the manifest is malformed or breaks a rule of the Pod API
	// (errdefs.ErrInvalidArgument).
	ErrInvalid = errdefs.New("invalid pod manifest", errdefs.ErrInvalidArgument)
	// ErrIgnored: the manifest sets a field that only matters to a
	// cluster (scheduling, service accounts, rollouts), which podbox
	// accepts with a warning, or refuses with it under Options.Strict
	// (errdefs.ErrInvalidArgument).
	ErrIgnored = errdefs.New("only matters to a cluster: podbox does not act on it", errdefs.ErrInvalidArgument)
)

// FieldError is one problem with one field of a manifest. Field is the
// field's JSON path ("spec.containers[1].volumeMounts[0].name"); Err is
// ErrUnsupported or ErrInvalid.
type FieldError struct {
	Field string
	Msg   string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

func (e *FieldError) Unwrap() error { return e.Err }

// Errors is every problem found in a manifest; Error prints one per line.
type Errors []error

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

func (e Errors) Unwrap() []error { return e }

// unsupported says that field is set but podbox does not honour it.
func unsupported(field string) error {
	return &FieldError{Field: field, Msg: ErrUnsupported.Error(), Err: ErrUnsupported}
}

// ignoredField says that field only matters to a cluster.
func ignoredField(field string) error {
	return &FieldError{Field: field, Msg: ErrIgnored.Error(), Err: ErrIgnored}
}

// invalid says what is wrong with field's value.
func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...), Err: ErrInvalid}
}
