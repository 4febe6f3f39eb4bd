package netns

import "errors"

var (
	// ErrExist: the pod already holds a lease (Attach twice without Detach).
	ErrExist = errors.New("already exists")
	// ErrNotExist: the pod holds no lease.
	ErrNotExist = errors.New("does not exist")
	// ErrSubnetFull: every address of the subnet is leased.
	ErrSubnetFull = errors.New("no free address in subnet")
	// ErrPortConflict: another pod already publishes the same host port.
	ErrPortConflict = errors.New("host port already published")
	// ErrNotNamespaced: a sysctl that is not namespaced (it would change the
	// host) or that belongs to a namespace the pod shares with the host.
	ErrNotNamespaced = errors.New("sysctl not allowed")
)
