package sandbox

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/podbox/podbox/image"
)

// eachContainer calls fn with the field path and config of every init,
// app and ephemeral container.
func (c *PodConfig) eachContainer(fn func(field string, ctr *ContainerConfig)) {
	for i := range c.InitContainers {
		fn(fmt.Sprintf("spec.initContainers[%d].image", i), &c.InitContainers[i])
	}
	for i := range c.Containers {
		fn(fmt.Sprintf("spec.containers[%d].image", i), &c.Containers[i])
	}
	for i := range c.EphemeralContainers {
		fn(fmt.Sprintf("spec.ephemeralContainers[%d].image", i), &c.EphemeralContainers[i])
	}
}

// PullImages makes sure the store has the image of every container that
// names one, and of every image volume, honouring each container's ImagePullPolicy (empty: the
// Kubernetes default for its reference), with the pod's PullSecrets that
// match the image ahead of opts.Auth and the node's credentials. An image
// two containers share is pulled once. Errors name the container's field
// path.
//
// Equivalent to what a kubelet does before it creates the pod's
// containers (`crictl pull` per image).
func PullImages(ctx context.Context, store *image.Store, cfg *PodConfig, opts image.PullOptions) error {
	var errs []error
	done := map[string]bool{}
	pull := func(field, ref, policy string) error {
		key := ref + "\x00" + policy
		if done[key] {
			return nil
		}
		done[key] = true
		o := opts
		o.Auth = append(cfg.PullSecrets.Lookup(ref), opts.Auth...)
		if _, err := store.Ensure(ctx, ref, image.PullPolicy(policy), o); err != nil {
			return fmt.Errorf("%s: %w", field, err)
		}
		return nil
	}
	cfg.eachContainer(func(field string, c *ContainerConfig) {
		if c.Image == "" || c.Rootfs != "" || len(c.RootfsLayers) > 0 {
			return
		}
		errs = append(errs, pull(field+" ("+c.Name+")", c.Image, c.ImagePullPolicy))
	})
	errs = append(errs, pullImageVolumes(cfg, pull))
	return errors.Join(errs...)
}

// ResolveImages fills, for every container that names an Image and has
// neither Rootfs nor RootfsLayers, what Kubernetes takes from the image:
// the root filesystem (RootfsLayers, Rootfs for an image of one layer),
// ImageID, the user from the image's USER unless the manifest set
// runAsUser (names looked up in the image's /etc/passwd and /etc/group,
// resolved inside the image), Command and Args from the entrypoint and
// cmd (command replaces the entrypoint, args replaces cmd), the image's
// env before the container's, and its workingDir unless the container has
// one. It pulls nothing (see PullImages) and returns the images used.
//
// Manager.Create does this itself when Options.Images is set, and holds
// a lease on the images until the pod is removed.
func ResolveImages(ctx context.Context, store *image.Store, cfg *PodConfig) ([]*image.Image, error) {
	var errs []error
	var used []*image.Image
	cfg.eachContainer(func(field string, c *ContainerConfig) {
		if c.Image == "" || c.Rootfs != "" || len(c.RootfsLayers) > 0 {
			return
		}
		img, err := store.Get(c.Image)
		if err == nil {
			err = resolveContainer(ctx, store, img, c)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s (%s): %w", field, c.Name, err))
			return
		}
		used = append(used, img)
	})
	return used, errors.Join(errs...)
}

// resolveContainer completes c from img (image.Store.Merge): the image's
// environment goes before the container's own.
func resolveContainer(ctx context.Context, store *image.Store, img *image.Image, c *ContainerConfig) error {
	if c.User != "" && c.UID == nil {
		// The CRI's run_as_username: looked up in the image as its USER is.
		view, release, err := store.View(ctx, img)
		if err != nil {
			return err
		}
		c.UID, c.GID, err = image.ResolveUser(view, c.User, c.UID, c.GID)
		release()
		if err != nil {
			return err
		}
	}
	spec := image.ContainerSpec{Command: c.Command, Args: c.Args, WorkingDir: c.WorkingDir, UID: c.UID, GID: c.GID}
	if err := store.Merge(ctx, img, &spec); err != nil {
		return err
	}
	c.Rootfs, c.RootfsLayers, c.ImageID = spec.Rootfs, spec.LayerDirs, spec.ImageID
	c.Command, c.Args, c.WorkingDir, c.UID, c.GID = spec.Command, spec.Args, spec.WorkingDir, spec.UID, spec.GID
	if c.SupplementalGroupsPolicy == "Merge" && c.UID != nil {
		view, release, err := store.View(ctx, img)
		if err != nil {
			return err
		}
		c.ImageGroups = image.UserGroups(view, *c.UID)
		release()
	}
	var env []EnvVar
	for _, kv := range spec.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, EnvVar{Name: k, Value: v})
	}
	c.Env = append(env, c.Env...)
	return nil
}

// leaseKey names the image lease of the pod whose directory is dir: the
// same on every call, with or without the pod's state file, and distinct
// for two state roots sharing one image store.
func leaseKey(dir string) string {
	h := sha256.Sum256([]byte(dir))
	return "pod-" + hex.EncodeToString(h[:16])
}

// leaseImages records that the pod whose directory is dir uses imgs;
// teardown releases it.
func (m *Manager) leaseImages(dir string, cfg *PodConfig, imgs []*image.Image) error {
	if m.opts.Images == nil || len(imgs) == 0 {
		return nil
	}
	return m.opts.Images.AddLease(leaseKey(dir), cfg.ref(), imgs...)
}

// releaseImages drops the image lease of the pod whose directory is dir,
// if any.
func (m *Manager) releaseImages(dir string) error {
	if m.opts.Images == nil {
		return nil
	}
	return m.opts.Images.Release(leaseKey(dir))
}

// ephemeralLeaseKey names the image lease of ephemeral container name of
// the pod whose directory is dir: one lease each, since AddLease replaces
// a lease's images and the pod's own are leased at creation.
func ephemeralLeaseKey(dir, name string) string { return leaseKey(dir + "\x00ephemeral\x00" + name) }

// resolveEphemeral resolves an ephemeral container's image as
// ResolveImages does, when the Manager has an image store and the
// container names an image without a root filesystem, and leases it for
// the pod.
func (m *Manager) resolveEphemeral(ctx context.Context, dir, ref string, c *ContainerConfig) error {
	if m.opts.Images == nil || c.Image == "" || c.Rootfs != "" || len(c.RootfsLayers) > 0 {
		return nil
	}
	img, err := m.opts.Images.Get(c.Image)
	if err == nil {
		err = resolveContainer(ctx, m.opts.Images, img, c)
	}
	if err == nil {
		err = m.opts.Images.AddLease(ephemeralLeaseKey(dir, c.Name), ref, img)
	}
	if err != nil {
		return fmt.Errorf("image %q: %w", c.Image, err)
	}
	return nil
}

// releaseEphemeralImages drops the image leases of the pod's ephemeral
// containers.
func (m *Manager) releaseEphemeralImages(dir string, st *PodStatus) error {
	if m.opts.Images == nil || st == nil {
		return nil
	}
	var errs []error
	for _, c := range st.Config.EphemeralContainers {
		errs = append(errs, m.opts.Images.Release(ephemeralLeaseKey(dir, c.Name)))
	}
	return errors.Join(errs...)
}
