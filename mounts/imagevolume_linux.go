package mounts

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

const imageVolumesDir = "image-volumes" // podDir/image-volumes/<name>: image volumes

// ImageVolumePath is where MountImageVolume mounts the image volume name
// of the pod whose directory is podDir.
func ImageVolumePath(podDir, name string) string {
	return filepath.Join(podDir, imageVolumesDir, name)
}

// MountImageVolume mounts an image's layer directories (topmost first)
// read-only, nosuid and nodev, at target: an overlay of them with no
// writable layer, or for an image of one layer a read-only bind of it.
// The layers are never written. On failure nothing is left mounted.
//
// Equivalent to: `mount -t overlay overlay -o ro,nosuid,nodev,lowerdir=L1:L2 TARGET`,
// or `mount --bind L1 TARGET && mount -o remount,bind,ro,nosuid,nodev TARGET`.
func MountImageVolume(layers []string, target string) error {
	if err := checkImageLayers(layers, target); err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("image volume: %w", err)
	}
	if len(layers) > 1 {
		return mountImageOverlay(layers, target)
	}
	if err := unix.Mount(layers[0], target, "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("image volume: %w", &Error{Op: "mount", Mount: Mount{Source: layers[0], Target: target, Options: []string{"bind"}}, Err: err})
	}
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV)
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		Unmount(target)
		return fmt.Errorf("image volume: %w", &Error{Op: "remount", Mount: Mount{Target: target, Options: []string{"bind", "ro", "nosuid", "nodev"}}, Err: err})
	}
	return nil
}

// checkImageLayers refuses an image volume without layers, or with one
// that the overlay's options could not name.
func checkImageLayers(layers []string, target string) error {
	if len(layers) == 0 {
		return fmt.Errorf("image volume %s: the image has no layers", target)
	}
	for _, l := range layers {
		if !filepath.IsAbs(l) || strings.ContainsAny(l, ":,") {
			return fmt.Errorf("image volume %s: layer %q is not an absolute path without ':' or ','", target, l)
		}
	}
	return nil
}

// mountImageOverlay mounts the read-only overlay of layers at target.
func mountImageOverlay(layers []string, target string) error {
	m := Mount{Type: "overlay", Source: "overlay", Target: target,
		Options: []string{"ro", "nosuid", "nodev", "lowerdir=" + strings.Join(layers, ":")}}
	if err := m.Mount(); err != nil {
		return fmt.Errorf("image volume: %w", err)
	}
	return nil
}
