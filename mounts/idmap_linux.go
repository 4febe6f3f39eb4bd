package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrNoIDMap says that a filesystem can not be idmapped by the running
// kernel (idmapped mounts came to ext4, xfs and vfat in Linux 5.12, btrfs
// 5.19, overlay layers 5.19, tmpfs 6.3; virtiofs, NFS and overlay itself
// never had them).
var ErrNoIDMap = errors.New("no idmapped mounts of this filesystem (ext4 and xfs have them from Linux 5.12, btrfs 5.19, tmpfs 6.3)")

// idmapClone returns a detached copy of the mount tree at path (not
// recursive), idmapped through the user namespace userns (an open
// /proc/PID/ns/user or a pinned one). The caller closes it.
// Other MOUNT_ATTR_ flags in attrs (read-only...) are set with it.
func idmapClone(path string, userns *os.File, attrs uint64) (int, error) {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return -1, &Error{Op: "open_tree", Mount: Mount{Type: "bind", Source: path}, Err: err}
	}
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_IDMAP | attrs, Userns_fd: uint64(userns.Fd())}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
			// What the kernel says of a filesystem without FS_ALLOW_IDMAP
			// (and of a kernel before 5.12).
			return -1, fmt.Errorf("%q is on %s, which Linux %s can not idmap: %w", path, fsName(path), kernelRelease(), ErrNoIDMap)
		}
		return -1, &Error{Op: "mount_setattr idmap", Mount: Mount{Type: "bind", Source: path}, Err: err}
	}
	return fd, nil
}

// CheckIDMap tells whether the mount holding path can be idmapped through
// userns: nil, or an error wrapping ErrNoIDMap that names the filesystem and
// the kernel. It changes nothing: the trial mount is never attached.
func CheckIDMap(path string, userns *os.File) error {
	fd, err := idmapClone(path, userns, 0)
	if err != nil {
		return err
	}
	unix.Close(fd)
	return nil
}

// IDMappedBind bind-mounts source on target (made if missing) idmapped
// through userns: a file owned by N on disk is seen as owned by whatever N
// maps to in userns, and a file created through the mount by an ID of
// userns is stored as that ID's value inside it.
//
// Equivalent to: mount --bind -o X-mount.idmap=/proc/PID/ns/user SOURCE TARGET
func IDMappedBind(source, target string, userns *os.File) error {
	return idmappedBind(source, target, userns, 0)
}

func idmappedBind(source, target string, userns *os.File, attrs uint64) error {
	fd, err := idmapClone(source, userns, attrs)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := os.MkdirAll(target, 0o700); err != nil {
		return &Error{Op: "mkdir", Mount: Mount{Type: "bind", Source: source, Target: target}, Err: err}
	}
	if err := unix.MoveMount(fd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &Error{Op: "move_mount", Mount: Mount{Type: "bind", Source: source, Target: target}, Err: err}
	}
	return nil
}

// CreateOverlayIDMapped is CreateOverlayLayers for a container of a user
// namespace: each image layer is seen through an idmapped mount of userns,
// so that the image's root-owned files are owned by the namespace's root,
// and the writable layer's top (new and empty) is given to hostUID and
// hostGID, the IDs the namespace's root has on the host. Nothing of the
// image is changed. The idmapped layer mounts are taken away once the
// overlay holds them (it keeps private copies), so that only the root is
// left mounted, at target (default dir/rootfs): a path the namespace's root
// can reach, as the container's init resolves it from inside the namespace.
func CreateOverlayIDMapped(lowers []string, dir, target string, userns *os.File, hostUID, hostGID int) (_ string, retErr error) {
	idmapDir := filepath.Join(dir, "idmap")
	defer func() {
		if err := removeIDMapped(idmapDir); err != nil && retErr == nil {
			retErr = fmt.Errorf("container root filesystem: %w", err)
		}
	}()
	mapped := make([]string, len(lowers))
	for i, lower := range lowers {
		st, err := os.Stat(lower)
		if err != nil {
			return "", fmt.Errorf("container root filesystem: image %q: %w", lower, err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("container root filesystem: image %q is not a directory", lower)
		}
		// Short names: the overlay's options must fit in a page.
		mapped[i] = filepath.Join(idmapDir, strconv.Itoa(i))
		if err := IDMappedBind(lower, mapped[i], userns); err != nil {
			return "", fmt.Errorf("container root filesystem: image layer %q: %w", lower, err)
		}
	}
	m := Overlay(strings.Join(mapped, ":"), dir)
	if target != "" {
		// Its source names dir, so that a mount left outside dir is
		// still known for the container's (findmnt, leak checks).
		m.Source, m.Target = dir, target
	}
	for _, d := range []string{"upper", "work"} {
		p := filepath.Join(dir, d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return "", fmt.Errorf("container root filesystem: %w", err)
		}
		if err := os.Lchown(p, hostUID, hostGID); err != nil {
			return "", fmt.Errorf("container root filesystem: %w", err)
		}
	}
	if err := m.Mount(); err != nil {
		return "", fmt.Errorf("container root filesystem: %w", err)
	}
	return m.Target, nil
}

// removeIDMapped unmounts and removes the idmapped layer mounts under dir;
// it never removes anything below a mount that is still there (the image's
// layers).
func removeIDMapped(dir string) error {
	if err := UnmountUnder(dir); err != nil {
		return err
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		// Empty mount points only: Remove, not RemoveAll.
		if err := os.Remove(filepath.Join(dir, e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Remove(dir)
}

// fsName names the filesystem type of path, for messages.
func fsName(path string) string {
	var s unix.Statfs_t
	if err := unix.Statfs(path, &s); err != nil {
		return "an unknown filesystem"
	}
	if n, ok := fsNames[int64(s.Type)]; ok {
		return n
	}
	return fmt.Sprintf("filesystem 0x%x", s.Type)
}

var fsNames = map[int64]string{
	unix.EXT4_SUPER_MAGIC:      "ext4",
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.RAMFS_MAGIC:           "ramfs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlay",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
	unix.F2FS_SUPER_MAGIC:      "f2fs",
	unix.SQUASHFS_MAGIC:        "squashfs",
}

func kernelRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}

// MountImageVolumeIDMapped is MountImageVolume for a pod of the user
// namespace userns: its layers are seen through idmapped mounts (an
// overlay can not be idmapped itself: the overlay is made over idmapped
// layers, taken away once it holds them). Read-only, nosuid and nodev.
func MountImageVolumeIDMapped(layers []string, target string, userns *os.File) (retErr error) {
	if err := checkImageLayers(layers, target); err != nil {
		return err
	}
	const ro = unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV
	if len(layers) == 1 {
		if err := idmappedBind(layers[0], target, userns, ro); err != nil {
			return fmt.Errorf("image volume: %w", err)
		}
		return nil
	}
	// Beside target: a volume's name has no '.'.
	idmapDir := target + ".idmap"
	defer func() {
		if err := removeIDMapped(idmapDir); err != nil && retErr == nil {
			retErr = fmt.Errorf("image volume: %w", err)
		}
	}()
	mapped := make([]string, len(layers))
	for i, l := range layers {
		mapped[i] = filepath.Join(idmapDir, strconv.Itoa(i))
		if err := idmappedBind(l, mapped[i], userns, 0); err != nil {
			return fmt.Errorf("image volume: layer %q: %w", l, err)
		}
	}
	return mountImageOverlay(mapped, target)
}
