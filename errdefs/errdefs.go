// Package errdefs is the one set of error classes that every podbox package
// uses, as containerd's errdefs: match them with errors.Is, whatever
// package the error came from. Each class maps one-to-one onto a gRPC code
// (see GRPCCode), so a server over podbox (the CRI server) answers with the
// right code without knowing the package that failed.
//
// A package may refine a class with a sentinel of its own (sandbox's
// ErrRunning, image's ErrNotFound): errors.Is matches the refinement and
// its class.
//
//	if errors.Is(err, errdefs.ErrNotFound) { ... } // no such pod, container or image
package errdefs

import (
	"context"
	"errors"
)

// The classes. Their texts are short, since they end messages that name the
// object: `pod "web": does not exist`.
var (
	// ErrNotFound: no pod, container, image or namespace of that name.
	ErrNotFound = errors.New("does not exist")
	// ErrAlreadyExists: a pod (or other object) of that name exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrInvalidArgument: a name, configuration or option is invalid; the
	// error names the field.
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrFailedPrecondition: the object is not in a state that allows the
	// operation (a running pod removed without force, an exec in a
	// stopped container, a start of a pod that ended).
	ErrFailedPrecondition = errors.New("failed precondition")
	// ErrUnavailable: what the operation needs is gone or not reachable
	// (a pod's monitor or pause died, the pause program can not run).
	ErrUnavailable = errors.New("unavailable")
	// ErrResourceExhausted: the node has not enough of something (memory
	// to admit a pod, addresses in the subnet).
	ErrResourceExhausted = errors.New("resource exhausted")
	// ErrPermissionDenied: a command can not be executed, a path may not
	// be used.
	ErrPermissionDenied = errors.New("permission denied")
	// ErrNotImplemented: podbox does not support what was asked (a
	// manifest field, seccomp in a build without it).
	ErrNotImplemented = errors.New("not implemented")
)

// Refinements of a class that more than one package uses.
var (
	// ErrRunning: the pod (or container) runs and the operation needs it
	// stopped.
	ErrRunning = New("is running", ErrFailedPrecondition)
	// ErrNotRunning: the operation needs a running pod or container.
	ErrNotRunning = New("is not running", ErrFailedPrecondition)
)

// classed is a sentinel that is also its class.
type classed struct {
	msg   string
	class error
}

func (e *classed) Error() string        { return e.msg }
func (e *classed) Is(target error) bool { return target == e.class }

// New returns a sentinel error with text msg that errors.Is also matches
// against class (one of this package's classes).
func New(msg string, class error) error { return &classed{msg: msg, class: class} }

// wrapped gives an error a class without changing its text.
type wrapped struct {
	err   error
	class error
}

func (e *wrapped) Error() string        { return e.err.Error() }
func (e *wrapped) Unwrap() error        { return e.err }
func (e *wrapped) Is(target error) bool { return target == e.class }

// With returns err, unchanged in text, matching class as well; nil for a
// nil err. For errors of other libraries (libcontainer's, the kernel's)
// whose class podbox knows.
func With(class, err error) error {
	if err == nil {
		return nil
	}
	return &wrapped{err: err, class: class}
}

// classes in the order Class tries them: the most specific first.
var classes = []error{
	ErrNotFound, ErrAlreadyExists, ErrInvalidArgument, ErrFailedPrecondition,
	ErrUnavailable, ErrResourceExhausted, ErrPermissionDenied, ErrNotImplemented,
	context.Canceled, context.DeadlineExceeded,
}

// Class returns the class err matches (one of this package's, or
// context.Canceled or context.DeadlineExceeded), or nil when none.
func Class(err error) error {
	for _, c := range classes {
		if errors.Is(err, c) {
			return c
		}
	}
	return nil
}

// gRPC status codes (google.golang.org/grpc/codes), without the dependency.
const (
	codeOK                 = 0
	codeCanceled           = 1
	codeUnknown            = 2
	codeInvalidArgument    = 3
	codeDeadlineExceeded   = 4
	codeNotFound           = 5
	codeAlreadyExists      = 6
	codePermissionDenied   = 7
	codeResourceExhausted  = 8
	codeFailedPrecondition = 9
	codeUnimplemented      = 12
	codeUnavailable        = 14
)

// GRPCCode is the gRPC status code of err's class, as a uint32 that
// converts to google.golang.org/grpc/codes.Code: 0 (OK) for nil, 2
// (Unknown) for an error of no class.
func GRPCCode(err error) uint32 {
	if err == nil {
		return codeOK
	}
	switch Class(err) {
	case ErrNotFound:
		return codeNotFound
	case ErrAlreadyExists:
		return codeAlreadyExists
	case ErrInvalidArgument:
		return codeInvalidArgument
	case ErrFailedPrecondition:
		return codeFailedPrecondition
	case ErrUnavailable:
		return codeUnavailable
	case ErrResourceExhausted:
		return codeResourceExhausted
	case ErrPermissionDenied:
		return codePermissionDenied
	case ErrNotImplemented:
		return codeUnimplemented
	case context.Canceled:
		return codeCanceled
	case context.DeadlineExceeded:
		return codeDeadlineExceeded
	}
	return codeUnknown
}
