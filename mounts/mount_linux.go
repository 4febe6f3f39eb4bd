// Package mounts describes mounts as plain data and performs them: the
// per-container root filesystem (an overlay over a read-only image layer)
// and, later, the pod's volumes. It starts no processes.
package mounts

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount is one mount as data, in the shape of containerd's core/mount:
// Options mixes flags ("ro", "nosuid", "bind") and filesystem data
// ("lowerdir=...").
type Mount struct {
	Type    string
	Source  string
	Target  string
	Options []string
}

var flagOptions = map[string]uintptr{
	"ro":          unix.MS_RDONLY,
	"nosuid":      unix.MS_NOSUID,
	"nodev":       unix.MS_NODEV,
	"noexec":      unix.MS_NOEXEC,
	"bind":        unix.MS_BIND,
	"rbind":       unix.MS_BIND | unix.MS_REC,
	"strictatime": unix.MS_STRICTATIME,
}

// flags splits Options into mount(2) flags and the data string.
func (m Mount) flags() (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range m.Options {
		if f, ok := flagOptions[o]; ok {
			flags |= f
			continue
		}
		data = append(data, o)
	}
	return flags, strings.Join(data, ",")
}

// Mount performs m, creating the target directory if needed.
//
// Equivalent to: mount -t TYPE -o OPTIONS SOURCE TARGET
func (m Mount) Mount() error {
	if err := os.MkdirAll(m.Target, 0o755); err != nil {
		return &Error{Op: "mkdir", Mount: m, Err: err}
	}
	flags, data := m.flags()
	if err := unix.Mount(m.Source, m.Target, m.Type, flags, data); err != nil {
		return &Error{Op: "mount", Mount: m, Err: err}
	}
	return nil
}

// Unmount lazily unmounts target. A target that is not mounted or does not
// exist is not an error, so Unmount is idempotent.
//
// Equivalent to: umount -l TARGET
func Unmount(target string) error {
	err := unix.Unmount(target, unix.MNT_DETACH)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
		return nil
	}
	return &Error{Op: "umount", Mount: Mount{Target: target}, Err: err}
}

// Error is a failed mount operation, naming the op, source, target and
// options (as runc's mountError does).
type Error struct {
	Op    string
	Mount Mount
	Err   error
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s %s %q on %q (options %q): %v", e.Op, e.Mount.Type, e.Mount.Source, e.Mount.Target,
		strings.Join(e.Mount.Options, ","), e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Overlay returns the mount of a container's root filesystem: the image
// directory lower (never written; several joined by ':', topmost first)
// under a writable layer kept in dir.
// dir/upper and dir/work hold the container's changes; dir/rootfs is where
// the root filesystem is mounted.
func Overlay(lower, dir string) Mount {
	return Mount{
		Type:   "overlay",
		Source: "overlay",
		Target: filepath.Join(dir, "rootfs"),
		Options: []string{
			"lowerdir=" + lower,
			"upperdir=" + filepath.Join(dir, "upper"),
			"workdir=" + filepath.Join(dir, "work"),
		},
	}
}

// CreateOverlay prepares dir and mounts the overlay root filesystem over the
// image directory lower. It returns the path of the mounted root. On failure
// nothing is left mounted.
func CreateOverlay(lower, dir string) (string, error) {
	return CreateOverlayLayers([]string{lower}, dir)
}

// CreateOverlayLayers is CreateOverlay over several image layers, topmost
// first (an image's layer directories as an image store keeps them).
func CreateOverlayLayers(lowers []string, dir string) (string, error) {
	for _, lower := range lowers {
		st, err := os.Stat(lower)
		if err != nil {
			return "", fmt.Errorf("container root filesystem: image %q: %w", lower, err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("container root filesystem: image %q is not a directory", lower)
		}
	}
	m := Overlay(strings.Join(lowers, ":"), dir)
	for _, d := range []string{"upper", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return "", fmt.Errorf("container root filesystem: %w", err)
		}
	}
	if err := m.Mount(); err != nil {
		return "", fmt.Errorf("container root filesystem: %w", err)
	}
	return m.Target, nil
}

// RemoveOverlay unmounts the overlay made by CreateOverlay in dir and removes
// dir with the container's writable layer. It is idempotent.
func RemoveOverlay(dir string) error {
	if err := Unmount(filepath.Join(dir, "rootfs")); err != nil {
		return fmt.Errorf("remove container root filesystem: %w", err)
	}
	// The idmapped layers a crash may have left (CreateOverlayIDMapped):
	// gone before anything is removed, or RemoveAll would reach the image.
	if err := removeIDMapped(filepath.Join(dir, "idmap")); err != nil {
		return fmt.Errorf("remove container root filesystem: %w", err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove container root filesystem: %w", err)
	}
	return nil
}
