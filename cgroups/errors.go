package cgroups

import "github.com/podbox/podbox/errdefs"

// Sentinel errors, matched with errors.Is; each refines a class of errdefs.
var (
	// ErrInsufficientMemory is what a refused admission wraps; the error
	// itself is an *InsufficientMemoryError that carries the numbers.
	ErrInsufficientMemory = errdefs.New("insufficient memory", errdefs.ErrResourceExhausted)

	// ErrInvalidPath is returned for a cgroup path that is not absolute and
	// clean, or for a child name that is not a single path element.
	ErrInvalidPath = errdefs.New("invalid cgroup path", errdefs.ErrInvalidArgument)

	// ErrNoCgroup: the cgroup does not exist (its container is not
	// running, or never ran).
	ErrNoCgroup = errdefs.New("no such cgroup", errdefs.ErrNotFound)
)
