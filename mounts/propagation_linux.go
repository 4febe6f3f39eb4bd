package mounts

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// Kubernetes' mountPropagation names.
const (
	PropagationNone            = "None"
	PropagationHostToContainer = "HostToContainer"
	PropagationBidirectional   = "Bidirectional"
)

// Propagation maps a Kubernetes mountPropagation name to its mount(2)
// propagation flags, the values runc's specconv gives "rprivate", "rslave"
// and "rshared": "" and "None" are MS_PRIVATE|MS_REC, "HostToContainer"
// MS_SLAVE|MS_REC, "Bidirectional" MS_SHARED|MS_REC. Anything else is an
// error. The result goes into libcontainer's configs.Mount.PropagationFlags.
//
// Equivalent to: mount --make-rprivate | --make-rslave | --make-rshared
func Propagation(name string) (int, error) {
	switch name {
	case "", PropagationNone:
		return unix.MS_PRIVATE | unix.MS_REC, nil
	case PropagationHostToContainer:
		return unix.MS_SLAVE | unix.MS_REC, nil
	case PropagationBidirectional:
		return unix.MS_SHARED | unix.MS_REC, nil
	}
	return 0, fmt.Errorf("mount propagation %q is not one of None, HostToContainer, Bidirectional", name)
}

// Bind is how a volume is bind-mounted into a container, as the values of
// the libcontainer configs.Mount fields of the same names. The sandbox
// builds:
//
//	configs.Mount{
//		Source:           hostPath, // from PrepareVolumes, or a BindSubPath target
//		Destination:      target,
//		Device:           "bind",
//		Flags:            b.Flags,
//		PropagationFlags: b.PropagationFlags,
//		RecAttr:          b.RecAttr,
//	}
//
// which is what runc's specconv makes of the OCI options
// "rbind" [, "ro"] [, "rro"], "rprivate"|"rslave"|"rshared".
type Bind struct {
	Flags            int
	PropagationFlags []int
	RecAttr          *unix.MountAttr
}

// VolumeBind returns the Bind of a volume mount. readOnly makes the mount
// read-only (MS_RDONLY, which libcontainer applies by remounting the top
// mount only, as Kubernetes' readOnly does by default); recursiveReadOnly
// also makes every submount read-only through RecAttr (runc's "rro",
// mount_setattr(2) with MOUNT_ATTR_RDONLY and AT_RECURSIVE, Linux 5.12 or
// later; see RecursiveReadOnlySupported). As in Kubernetes,
// recursiveReadOnly needs readOnly and propagation None: a mount arriving
// later through propagation would not be read-only.
func VolumeBind(readOnly, recursiveReadOnly bool, propagation string) (Bind, error) {
	prop, err := Propagation(propagation)
	if err != nil {
		return Bind{}, err
	}
	b := Bind{Flags: unix.MS_BIND | unix.MS_REC, PropagationFlags: []int{prop}}
	if readOnly {
		b.Flags |= unix.MS_RDONLY
	}
	if recursiveReadOnly {
		if !readOnly {
			return Bind{}, errors.New("recursive read-only mount: needs readOnly")
		}
		if prop != unix.MS_PRIVATE|unix.MS_REC {
			return Bind{}, fmt.Errorf("recursive read-only mount: needs propagation None, not %q", propagation)
		}
		b.RecAttr = RecursiveReadOnly()
	}
	return b, nil
}

// RecursiveReadOnly is the configs.Mount.RecAttr of a recursively
// read-only mount, runc's "rro": libcontainer applies it after the bind
// mount with mount_setattr(fd, "", AT_RECURSIVE, attr).
//
// Equivalent to: mount_setattr(fd, "", AT_RECURSIVE, {attr_set: MOUNT_ATTR_RDONLY})
func RecursiveReadOnly() *unix.MountAttr {
	return &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
}

// RecursiveReadOnlySupported reports whether the kernel has mount_setattr(2)
// (Linux 5.12), which recursive read-only mounts need. It probes with an
// invalid flag, so it changes nothing: the kernel answers EINVAL when the
// call exists and ENOSYS when it does not (or when a seccomp filter hides
// it).
func RecursiveReadOnlySupported() bool {
	err := unix.MountSetattr(-1, "", 1<<30, &unix.MountAttr{})
	return !errors.Is(err, unix.ENOSYS)
}
