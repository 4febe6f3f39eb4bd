package image

import (
	"context"
	"fmt"
)

// ContainerSpec is what a Kubernetes container says of its process and
// what the image completes: Merge fills it from an image the Kubernetes
// way.
type ContainerSpec struct {
	// Command replaces the image's entrypoint, Args its cmd; with a
	// Command, the image's cmd is not used (Kubernetes' rule).
	Command, Args []string
	// Env are the container's variables ("KEY=VALUE"); Merge puts the
	// image's before them, so that the container's win.
	Env []string
	// WorkingDir, when empty, is the image's.
	WorkingDir string
	// UID and GID (runAsUser, runAsGroup), when nil, come from the image's
	// USER, looked up inside the image (see ResolveUser).
	UID, GID *int64

	// Set by Merge: the image's root filesystem (Rootfs for an image of
	// one layer; LayerDirs, lowest first, for an overlay) and its
	// reference by digest, "repository@sha256:..." (Kubernetes' imageID).
	Rootfs    string
	LayerDirs []string
	ImageID   string
}

// Merge completes c from img, an image of the store, as the kubelet and
// containerd do for a pod's container: the root filesystem, the command
// (entrypoint and cmd under command and args), the environment, the
// working directory, and the user of the image's USER unless c sets
// runAsUser, its names looked up in the image's /etc/passwd and
// /etc/group, resolved inside the image. It reads the image and writes
// nothing. podbox's sandbox does this for every container that names an
// image (sandbox.ResolveImages); an embedder that builds its own
// configuration calls it too.
func (s *Store) Merge(ctx context.Context, img *Image, c *ContainerSpec) error {
	c.Rootfs, c.LayerDirs, c.ImageID = img.Rootfs, img.LayerDirs, img.ImageRef()
	if img.Config.User != "" && (c.UID == nil || c.GID == nil) {
		view, release, err := s.View(ctx, img)
		if err != nil {
			return err
		}
		c.UID, c.GID, err = ResolveUser(view, img.Config.User, c.UID, c.GID)
		release()
		if err != nil {
			return fmt.Errorf("image %q: %w", img.Name, err)
		}
	}
	if len(c.Command) == 0 {
		c.Command = img.Config.Entrypoint
		if len(c.Args) == 0 {
			c.Args = img.Config.Cmd
		}
	}
	if c.WorkingDir == "" {
		c.WorkingDir = img.Config.WorkingDir
	}
	c.Env = append(append([]string(nil), img.Config.Env...), c.Env...)
	return nil
}
