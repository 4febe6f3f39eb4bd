package sandbox

import (
	"errors"
	"fmt"
	"os"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/mounts"
)

// namedVolumes opens the Manager's named volumes (Options.VolumeRoot),
// only when a pod has a claim: a Manager whose pods have none never makes
// the directory.
func (m *Manager) namedVolumes() (*mounts.NamedVolumes, error) {
	return mounts.OpenNamedVolumes(m.opts.VolumeRoot)
}

// claimAndImageVolumes makes (on first use) and leases the pod's named
// volumes and mounts its image volumes, adding their host paths to paths.
// Teardown undoes both (releaseClaims; image volumes are mounts under the
// pod's directory).
func (m *Manager) claimAndImageVolumes(dir string, st *PodStatus, paths map[string]string) error {
	for _, v := range st.Config.Volumes {
		switch {
		case v.PersistentVolumeClaim != nil:
			nv, err := m.namedVolumes()
			if err != nil {
				return fmt.Errorf("volume %q: %w", v.Name, err)
			}
			vol, err := nv.Acquire(v.PersistentVolumeClaim.ClaimName, leaseKey(dir), st.Config.ref(), dir)
			if err != nil {
				return fmt.Errorf("volume %q: persistentVolumeClaim: %w", v.Name, err)
			}
			paths[v.Name] = vol.Mountpoint
		case v.Image != nil:
			p := mounts.ImageVolumePath(dir, v.Name)
			if err := m.mountImageVolume(st, v.Image.Layers, p); err != nil {
				return fmt.Errorf("volume %q: image %q: %w", v.Name, v.Image.Reference, err)
			}
			paths[v.Name] = p
		}
	}
	return nil
}

// releaseClaims drops the pod's leases on its named volumes; the volumes
// and their data stay.
func (m *Manager) releaseClaims(dir string, st *PodStatus) error {
	if st == nil {
		return nil
	}
	var errs []error
	for _, v := range st.Config.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		nv, err := m.namedVolumes()
		if err == nil {
			err = nv.Release(v.PersistentVolumeClaim.ClaimName, leaseKey(dir))
		}
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// resolveImageVolumes fills the layers and ImageID of every image volume
// that has no layers from the store, and returns the images used (leased
// with the containers').
func resolveImageVolumes(store *image.Store, cfg *PodConfig) ([]*image.Image, error) {
	var errs []error
	var used []*image.Image
	for i := range cfg.Volumes {
		iv := cfg.Volumes[i].Image
		if iv == nil || len(iv.Layers) > 0 {
			continue
		}
		img, err := store.Get(iv.Reference)
		if err != nil {
			errs = append(errs, fmt.Errorf("spec.volumes[%d].image.reference (%s): %w", i, cfg.Volumes[i].Name, err))
			continue
		}
		iv.Layers, iv.ImageID = img.LayerDirs, img.ImageRef()
		used = append(used, img)
	}
	return used, errors.Join(errs...)
}

// pullImageVolumes is PullImages for the pod's image volumes; pull pulls
// one reference under a policy, once per reference and policy.
func pullImageVolumes(cfg *PodConfig, pull func(field, ref, policy string) error) error {
	var errs []error
	for i, v := range cfg.Volumes {
		if v.Image == nil || len(v.Image.Layers) > 0 {
			continue
		}
		errs = append(errs, pull(fmt.Sprintf("spec.volumes[%d].image.reference (%s)", i, v.Name), v.Image.Reference, v.Image.PullPolicy))
	}
	return errors.Join(errs...)
}

// mountImageVolume mounts an image volume's layers at p: idmapped through
// the pod's user namespace when it has one.
func (m *Manager) mountImageVolume(st *PodStatus, layers []string, p string) error {
	if st.UserNamespace == nil {
		return mounts.MountImageVolume(layers, p)
	}
	u, err := os.Open(st.Namespaces["user"])
	if err != nil {
		return err
	}
	defer u.Close()
	if err := mounts.MountImageVolumeIDMapped(layers, p, u); err != nil {
		return fmt.Errorf("hostUsers: false: %w", err)
	}
	return nil
}
