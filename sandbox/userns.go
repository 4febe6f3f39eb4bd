package sandbox

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/opencontainers/runc/libcontainer/configs"

	"github.com/podbox/podbox/mounts"
)

// UserNamespace is what a pod with a user namespace (Kubernetes'
// hostUsers: false) holds: its range of host IDs, and the directory where
// its containers' root filesystems are mounted, one that the namespace's
// root can reach.
type UserNamespace struct {
	IDRange
	RootfsDir string `json:"rootfsDir"`
}

// checkUserNamespace refuses, as Kubernetes' validation does, a user
// namespace beside the host's network namespace (it could not own it: the
// pod's root would have no CAP_NET_ADMIN over its own network), and what
// can not work in one: IDs outside the 65536 it maps, and Bidirectional
// mount propagation (a user namespace's mounts never propagate to the host).
func checkUserNamespace(c *PodConfig) []error {
	if !c.UserNamespace {
		return nil
	}
	var errs []error
	for _, p := range UserNSRules(c) {
		errs = append(errs, fmt.Errorf("%s: %s", p.Field, p.Msg))
	}
	if c.FSGroup != nil && *c.FSGroup >= UserNSSize {
		errs = append(errs, fmt.Errorf("fsGroup: %d is outside the pod's user namespace (hostUsers: false maps IDs 0-%d)", *c.FSGroup, UserNSSize-1))
	}
	all := make([]ContainerConfig, 0, len(c.InitContainers)+len(c.Containers))
	all = append(append(all, c.InitContainers...), c.Containers...)
	for i, ctr := range all {
		f := fmt.Sprintf("containers[%d]", i-len(c.InitContainers))
		if i < len(c.InitContainers) {
			f = fmt.Sprintf("initContainers[%d]", i)
		}
		errs = append(errs, checkUserNSContainer(f, &ctr)...)
	}
	return errs
}

// UserNSRules checks a pod with a user namespace (hostUsers: false) as
// Kubernetes' validation does (one set of rules: spec checks manifests
// with it): not beside the host's network, PID or IPC namespace, which the
// pod's user namespace could not own.
func UserNSRules(c *PodConfig) []Problem {
	if !c.UserNamespace {
		return nil
	}
	var ps []Problem
	for _, h := range []struct {
		field string
		set   bool
	}{{"hostNetwork", c.HostNetwork}, {"hostPID", c.HostPID}, {"hostIPC", c.HostIPC}} {
		if h.set {
			ps = append(ps, Problem{"hostUsers", fmt.Sprintf("false can not go with %s: true (a pod's user namespace can not own the host's namespaces)", h.field)})
		}
	}
	return ps
}

// checkUserNSContainer refuses, in a container of a pod with a user
// namespace (f its field path), IDs the namespace does not map and
// Bidirectional mount propagation.
func checkUserNSContainer(f string, ctr *ContainerConfig) []error {
	var errs []error
	outside := func(f string, id int64) {
		if id >= UserNSSize {
			errs = append(errs, fmt.Errorf("%s: %d is outside the pod's user namespace (hostUsers: false maps IDs 0-%d)", f, id, UserNSSize-1))
		}
	}
	if ctr.UID != nil {
		outside(f+".runAsUser", *ctr.UID)
	}
	if ctr.GID != nil {
		outside(f+".runAsGroup", *ctr.GID)
	}
	for j, g := range ctr.SupplementalGroups {
		outside(fmt.Sprintf("%s.supplementalGroups[%d]", f, j), g)
	}
	for j, vm := range ctr.VolumeMounts {
		if vm.Propagation == "Bidirectional" {
			errs = append(errs, fmt.Errorf("%s.volumeMounts[%d].mountPropagation: Bidirectional can not work with hostUsers: false (the mounts of a user namespace do not propagate to the host)", f, j))
		}
	}
	return errs
}

// allocateUserNamespace gives the pod a range of host IDs, recorded in
// the host's range directory before anything uses it.
func (m *Manager) allocateUserNamespace(dir string, st *PodStatus) error {
	a, err := newIDAllocator(m.opts.IDRangeDir)
	if err != nil {
		return err
	}
	me, err := processStart(os.Getpid())
	if err != nil {
		return err
	}
	r, err := a.allocate(idRecord{
		Pod: st.Ref(), UID: st.UID, Root: m.opts.Root, UserNS: filepath.Join(dir, "ns", "user"),
		Creator: os.Getpid(), CreatorStart: me, Created: time.Now().UTC(),
	})
	if err != nil {
		return err
	}
	st.UserNamespace = &UserNamespace{IDRange: r, RootfsDir: m.usernsRootfsDir(st.UID)}
	return nil
}

// releaseUserNamespace gives the pod's range back; its user namespace is
// gone (nothing pins it, its processes are dead).
func (m *Manager) releaseUserNamespace(st *PodStatus) error {
	if st == nil || st.UserNamespace == nil {
		return nil
	}
	a := &idAllocator{dir: m.opts.IDRangeDir}
	return a.release(st.UserNamespace.HostID, st.UID)
}

// usernsRootfsDir is where the pod's containers' roots are mounted:
// <IDRangeDir>/rootfs/<pod uid>, recomputed here rather than read from a
// state file, which is never trusted to say what is removed.
func (m *Manager) usernsRootfsDir(uid string) string {
	return filepath.Join(m.opts.IDRangeDir, "rootfs", uid)
}

// removeUserNSRootfs unmounts and removes the pod's root filesystem mount
// points (a crash may leave some).
func (m *Manager) removeUserNSRootfs(st *PodStatus) error {
	if st == nil || st.UserNamespace == nil || !uidPattern.MatchString(st.UID) {
		return nil
	}
	d := m.usernsRootfsDir(st.UID)
	if err := mounts.UnmountUnder(d); err != nil {
		return err // never remove below a mount
	}
	if err := os.RemoveAll(d); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// userNSMappings is the pod's mapping as the kernel and libcontainer take it.
func (u *UserNamespace) mappings() []configs.IDMap {
	return []configs.IDMap{{ContainerID: 0, HostID: int64(u.HostID), Size: int64(u.Size)}}
}

func (u *UserNamespace) sysProcMappings() []syscall.SysProcIDMap {
	return []syscall.SysProcIDMap{{ContainerID: 0, HostID: int(u.HostID), Size: int(u.Size)}}
}

// checkIDMapped refuses, before any container starts, a pod whose image
// layers or volumes (emptyDir, configMap, secret...) are on a filesystem
// the kernel can not idmap: they would be seen owned by nobody, and podbox
// does not chown an image. hostPath volumes are bound as they are (what the
// pod writes there is owned by its host IDs), and so is /dev/shm (1777).
func checkIDMapped(st *PodStatus) error {
	u, err := os.Open(st.Namespaces["user"])
	if err != nil {
		return fmt.Errorf("user namespace: %w", err)
	}
	defer u.Close()
	seen := map[string]bool{}
	check := func(what, path string) error {
		if seen[path] {
			return nil
		}
		seen[path] = true
		if err := mounts.CheckIDMap(path, u); err != nil {
			return fmt.Errorf("hostUsers: false: %s: %w", what, err)
		}
		return nil
	}
	for _, list := range [][]ContainerConfig{st.Config.InitContainers, st.Config.Containers} {
		for _, c := range list {
			lowers := c.RootfsLayers
			if len(lowers) == 0 {
				lowers = []string{c.Rootfs}
			}
			for _, l := range lowers {
				if err := check(fmt.Sprintf("container %q: image layer", c.Name), l); err != nil {
					return err
				}
			}
		}
	}
	for _, v := range st.Config.Volumes {
		if !idmappedAtStart(v) {
			continue
		}
		p := st.VolumePaths[v.Name]
		if err := check(fmt.Sprintf("volume %q", v.Name), p); err != nil {
			return err
		}
	}
	return nil
}

// userNSRootfs mounts a container's root filesystem for a pod with a user
// namespace: its image layers idmapped through the pod's namespace, under
// RootfsDir, every directory above which the namespace's root can search.
func userNSRootfs(dir string, st *PodStatus, cfg *ContainerConfig, lowers []string) (string, error) {
	u := st.UserNamespace
	if err := searchable(u.RootfsDir); err != nil {
		return "", fmt.Errorf("container root filesystem: %w", err)
	}
	userns, err := os.Open(st.Namespaces["user"])
	if err != nil {
		return "", fmt.Errorf("container root filesystem: user namespace: %w", err)
	}
	defer userns.Close()
	target := filepath.Join(u.RootfsDir, cfg.Name)
	return mounts.CreateOverlayIDMapped(lowers, containerDir(dir, cfg.Name), target, userns, int(u.HostID), int(u.HostID))
}

// searchable makes dir (mode 0711) and sees that every directory above it
// lets others search it (o+x, never read), as containerd makes its state
// directories 0711: the container's init resolves its root from inside
// the user namespace, as an unprivileged host user. A root-owned directory
// above that does not is given o+x; any other is an error naming it.
func searchable(dir string) error {
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return err
	}
	for d := dir; ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if s, ok := fi.Sys().(*syscall.Stat_t); !ok || s.Uid != 0 {
				return fmt.Errorf("%q (mode %v) does not let others search it: a user namespace's root could not reach its root filesystem", d, fi.Mode().Perm())
			}
			if err := os.Chmod(d, fi.Mode().Perm()|0o001|fi.Mode()&(fs.ModeSetgid|fs.ModeSticky)); err != nil {
				return err
			}
		}
		if d == "/" {
			return nil
		}
	}
}

// idmappedAtStart says whether a volume of a pod with a user namespace is
// idmapped when a container mounts it: all but a hostPath (bound as it is)
// and an image volume (idmapped already, layer by layer, when the pod is
// made: MountImageVolumeIDMapped).
func idmappedAtStart(v Volume) bool { return v.HostPath == nil && v.Image == nil }
