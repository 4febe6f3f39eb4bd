package sandbox

import "github.com/podbox/podbox/errdefs"

// Sentinel errors, matched with errors.Is. They are podbox's one set,
// package errdefs: ErrNotExist is errdefs.ErrNotFound, ErrExist
// errdefs.ErrAlreadyExists (netns' too), and the others refine a class of
// errdefs (ErrRunning and ErrNotRunning errdefs.ErrFailedPrecondition,
// ErrInvalid errdefs.ErrInvalidArgument), so that a caller may match either
// the precise error or its class. Every error the Manager returns matches
// one class of errdefs where its cause is known.
var (
	// ErrNotExist: no pod (or container) of that name.
	ErrNotExist = errdefs.ErrNotFound
	// ErrExist: a pod of that name already exists.
	ErrExist = errdefs.ErrAlreadyExists
	// ErrRunning: the pod is running and the operation needs it stopped
	// (or force).
	ErrRunning = errdefs.ErrRunning
	// ErrNotRunning: the operation needs a running pod or container.
	ErrNotRunning = errdefs.ErrNotRunning
	// ErrInvalid: the configuration is invalid; the error names the field.
	ErrInvalid = errdefs.New("invalid pod configuration", errdefs.ErrInvalidArgument)
)
