package cgroups

import "errors"

var (
	// ErrInsufficientMemory is what a refused admission wraps; the error
	// itself is an *InsufficientMemoryError that carries the numbers.
	ErrInsufficientMemory = errors.New("insufficient memory")

	// ErrInvalidPath is returned for a cgroup path that is not absolute and
	// clean, or for a child name that is not a single path element.
	ErrInvalidPath = errors.New("invalid cgroup path")
)
