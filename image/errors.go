package image

import "github.com/podbox/podbox/errdefs"

// Sentinel errors, matched with errors.Is; each refines a class of errdefs.
var (
	// ErrNotFound is wrapped by the error Get and Remove return for a name
	// the store does not hold (errdefs.ErrNotFound).
	ErrNotFound = errdefs.New("image not found", errdefs.ErrNotFound)
	// ErrInvalidName is wrapped by the error returned for a name that does not
	// follow the reference grammar (see NormalizeName;
	// errdefs.ErrInvalidArgument).
	ErrInvalidName = errdefs.New("invalid image name", errdefs.ErrInvalidArgument)
)

// ErrInUse is wrapped by the error Remove returns for an image that pods
// hold a lease on (errdefs.ErrFailedPrecondition).
var ErrInUse = errdefs.New("image is in use", errdefs.ErrFailedPrecondition)
