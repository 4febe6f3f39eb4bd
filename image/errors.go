package image

import "errors"

var (
	// ErrNotFound is wrapped by the error Get and Remove return for a name
	// the store does not hold.
	ErrNotFound = errors.New("image not found")
	// ErrInvalidName is wrapped by the error returned for a name that does not
	// follow the reference grammar (see NormalizeName).
	ErrInvalidName = errors.New("invalid image name")
)

// ErrInUse is wrapped by the error Remove returns for an image that pods
// hold a lease on.
var ErrInUse = errors.New("image is in use")
