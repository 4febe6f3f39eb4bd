package netns

import "github.com/podbox/podbox/errdefs"

// Sentinel errors, matched with errors.Is; each is, or refines, a class of
// errdefs.
var (
	// ErrExist: the pod already holds a lease (Attach twice without Detach).
	ErrExist = errdefs.ErrAlreadyExists
	// ErrNotExist: the pod holds no lease.
	ErrNotExist = errdefs.ErrNotFound
	// ErrSubnetFull: every address of the subnet is leased.
	ErrSubnetFull = errdefs.New("no free address in subnet", errdefs.ErrResourceExhausted)
	// ErrPortConflict: another pod already publishes the same host port.
	ErrPortConflict = errdefs.New("host port already published", errdefs.ErrAlreadyExists)
	// ErrNotNamespaced: a sysctl that is not namespaced (it would change the
	// host) or that belongs to a namespace the pod shares with the host.
	ErrNotNamespaced = errdefs.New("sysctl not allowed", errdefs.ErrInvalidArgument)
)
