// Package namespaces pins, enters and removes the namespaces a pod holds.
// Pinning is a bind mount of a process's /proc/PID/ns/KIND file, which keeps
// the namespace alive after that process exits, the same way `ip netns add`
// keeps a network namespace. The pod network lives in package netns.
package namespaces

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// Pin bind-mounts the KIND namespace of process pid (kind is "net", "ipc",
// "uts", "pid", ...) onto path, creating path as an empty file first.
//
// Equivalent to: touch PATH && mount --bind /proc/PID/ns/KIND PATH
func Pin(pid int, kind, path string) error {
	src := "/proc/" + strconv.Itoa(pid) + "/ns/" + kind
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("pin %s namespace of pid %d: %w", kind, pid, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDONLY, 0o400)
	if err != nil {
		return fmt.Errorf("pin %s namespace of pid %d: %w", kind, pid, err)
	}
	f.Close()
	if err := unix.Mount(src, path, "", unix.MS_BIND, ""); err != nil {
		os.Remove(path)
		return fmt.Errorf("pin %s namespace: mount --bind %s %s: %w", kind, src, path, err)
	}
	return nil
}

// Unpin lazily unmounts a pinned namespace and removes its file. A path that
// is not mounted or does not exist is not an error, so Unpin is idempotent.
//
// Equivalent to: umount -l PATH; rm -f PATH
func Unpin(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unpin namespace %q: umount: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("unpin namespace %q: %w", path, err)
	}
	return nil
}

// IsPinned reports whether path is a pinned namespace: an nsfs file, not
// the empty file left under it when the mount is gone.
func IsPinned(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// Inode returns the inode number that identifies the namespace at path, a
// pinned file or /proc/PID/ns/KIND. Two processes share a namespace when
// their inodes are equal (what `lsns` and `readlink /proc/PID/ns/net` show).
func Inode(path string) (uint64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fmt.Errorf("stat namespace %q: %w", path, err)
	}
	return st.Ino, nil
}
