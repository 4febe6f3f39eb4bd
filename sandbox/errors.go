package sandbox

import "errors"

// Sentinel errors, matched with errors.Is.
var (
	// ErrNotExist: no pod (or container) of that name.
	ErrNotExist = errors.New("does not exist")
	// ErrExist: a pod of that name already exists.
	ErrExist = errors.New("already exists")
	// ErrRunning: the pod is running and the operation needs it stopped
	// (or force).
	ErrRunning = errors.New("is running")
	// ErrNotRunning: the operation needs a running pod or container.
	ErrNotRunning = errors.New("is not running")
	// ErrInvalid: the configuration is invalid; the error names the field.
	ErrInvalid = errors.New("invalid pod configuration")
)
