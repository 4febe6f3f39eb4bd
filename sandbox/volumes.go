package sandbox

import (
	"fmt"
	"sync"

	"github.com/opencontainers/runc/libcontainer/configs"

	"github.com/podbox/podbox/mounts"
)

// prepareVolumes checks and makes the pod's volumes before any container
// starts (hostPath types checked, emptyDirs made, named volumes made or
// leased, image volumes mounted and, with an fsGroup, emptyDirs and named
// volumes given to that group) and returns their host paths by volume
// name.
func (m *Manager) prepareVolumes(dir string, st *PodStatus) (map[string]string, error) {
	cfg := &st.Config
	var vols []mounts.Volume
	for _, v := range cfg.Volumes {
		if v.PersistentVolumeClaim != nil || v.Image != nil {
			continue // below
		}
		mv := mounts.Volume{Name: v.Name}
		if v.Files != nil {
			mv.EmptyDir = &mounts.EmptyDir{Medium: mounts.MediumMemory, SizeLimit: filesSize(v.Files)}
		}
		if v.HostPath != nil {
			mv.HostPath = &mounts.HostPath{Path: v.HostPath.Path, Type: v.HostPath.Type}
		}
		if v.EmptyDir != nil {
			mv.EmptyDir = &mounts.EmptyDir{Medium: v.EmptyDir.Medium, SizeLimit: v.EmptyDir.SizeLimit}
		}
		vols = append(vols, mv)
	}
	paths, err := mounts.PrepareVolumes(dir, vols)
	if err != nil {
		return nil, err
	}
	if err := m.claimAndImageVolumes(dir, st, paths); err != nil {
		return nil, err
	}
	if err := checkPropagation(cfg, paths); err != nil {
		return nil, err
	}
	for _, v := range cfg.Volumes {
		if v.Files != nil {
			if err := writeFiles(paths[v.Name], v.Files, st); err != nil {
				return nil, fmt.Errorf("volume %q: %w", v.Name, err)
			}
		}
	}
	if cfg.FSGroup == nil {
		return paths, nil
	}
	for _, v := range cfg.Volumes {
		// As the kubelet: fsGroup applies to emptyDirs and claims, not to
		// a claim mounted read-only.
		if v.EmptyDir == nil && (v.PersistentVolumeClaim == nil || v.PersistentVolumeClaim.ReadOnly) {
			continue
		}
		if err := mounts.SetVolumeOwnership(paths[v.Name], int(*cfg.FSGroup), cfg.FSGroupChangePolicy); err != nil {
			return nil, fmt.Errorf("volume %q: fsGroup: %w", v.Name, err)
		}
	}
	return paths, nil
}

// checkPropagation refuses, as the kubelet does, a mount of a hostPath that
// asks for mounts to propagate from the host (HostToContainer) when the
// host mount that holds it is private, and Bidirectional when it is not
// shared: nothing would propagate, silently.
func checkPropagation(cfg *PodConfig, paths map[string]string) error {
	hostPath := map[string]bool{}
	for _, v := range cfg.Volumes {
		hostPath[v.Name] = v.HostPath != nil
	}
	for _, list := range [][]ContainerConfig{cfg.InitContainers, cfg.Containers} {
		for _, c := range list {
			for _, vm := range c.VolumeMounts {
				if !hostPath[vm.Name] || (vm.Propagation != "HostToContainer" && vm.Propagation != "Bidirectional") {
					continue
				}
				shared, slave, mp, err := mounts.PropagationOf(paths[vm.Name])
				if err != nil {
					return fmt.Errorf("container %q volume mount %q: %w", c.Name, vm.Target, err)
				}
				switch {
				case vm.Propagation == "Bidirectional" && !shared:
					return fmt.Errorf("container %q volume mount %q: mountPropagation Bidirectional: hostPath %q is on mount %q, which is not shared (mount --make-shared %s)", c.Name, vm.Target, paths[vm.Name], mp, mp)
				case vm.Propagation == "HostToContainer" && !shared && !slave:
					return fmt.Errorf("container %q volume mount %q: mountPropagation HostToContainer: hostPath %q is on mount %q, which is private: nothing would propagate (mount --make-shared or --make-slave %s)", c.Name, vm.Target, paths[vm.Name], mp, mp)
				}
			}
		}
	}
	return nil
}

// volume is the pod's volume name (a zero Volume when there is none).
func (c *PodConfig) volume(name string) Volume {
	for _, v := range c.Volumes {
		if v.Name == name {
			return v
		}
	}
	return Volume{}
}

var rroSupported = sync.OnceValue(mounts.RecursiveReadOnlySupported)

// volumeMounts turns a container's volume mounts into libcontainer bind
// mounts. A subPath is bound first onto a path of the pod's own, through a
// handle opened inside the volume, so that a symlink swapped in by a
// container can not redirect it (the kubelet's volume-subpaths). Read-only
// mounts are read-only recursively where the kernel can (5.12+).
func volumeMounts(dir string, st *PodStatus, cfg *ContainerConfig) ([]*configs.Mount, error) {
	var ms []*configs.Mount
	for i, vm := range cfg.VolumeMounts {
		src, ok := st.VolumePaths[vm.Name]
		if !ok {
			return nil, fmt.Errorf("volume mount %q: volume %q is not defined", vm.Target, vm.Name)
		}
		if vm.SubPath != "" {
			target := mounts.SubPathTarget(dir, vm.Name, cfg.Name, i)
			if err := mounts.BindSubPath(src, vm.SubPath, target); err != nil {
				return nil, fmt.Errorf("volume %q subPath %q: %w", vm.Name, vm.SubPath, err)
			}
			src = target
		}
		prop := vm.Propagation
		// A files volume (configMap, secret...) and an image volume are
		// always read-only, a claim when it says so.
		v := st.Config.volume(vm.Name)
		ro := vm.ReadOnly || v.Files != nil || v.Image != nil || (v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ReadOnly)
		recursive := ro && (prop == "" || prop == "None") && rroSupported()
		b, err := mounts.VolumeBind(ro, recursive, prop)
		if err != nil {
			return nil, fmt.Errorf("volume mount %q: %w", vm.Target, err)
		}
		m := &configs.Mount{
			Source: src, Destination: vm.Target, Device: "bind",
			Flags: b.Flags, PropagationFlags: b.PropagationFlags, RecAttr: b.RecAttr,
		}
		if st.UserNamespace != nil && idmappedAtStart(st.Config.volume(vm.Name)) {
			// Seen through the pod's user namespace: what is root's on
			// disk is the pod's root's (checked at Create: checkIDMapped).
			// A hostPath is bound as it is: what the pod writes there is
			// owned by its host IDs.
			m.IDMapping = &configs.MountIDMapping{UserNSPath: st.Namespaces["user"]}
		}
		ms = append(ms, m)
	}
	return ms, nil
}
