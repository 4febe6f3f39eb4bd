package mounts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/atomicfile"
)

// DefaultNamedVolumeRoot is where podbox keeps named volumes (what a pod's
// persistentVolumeClaim names), as podman keeps its own under
// /var/lib/containers/storage/volumes.
const DefaultNamedVolumeRoot = "/var/lib/podbox/volumes"

// Sentinels of the named volumes, refining errdefs' classes.
var (
	ErrVolumeNotFound = errdefs.New("volume does not exist", errdefs.ErrNotFound)
	ErrVolumeExists   = errdefs.New("volume already exists", errdefs.ErrAlreadyExists)
	ErrVolumeInUse    = errdefs.New("volume is in use", errdefs.ErrFailedPrecondition)
)

// NamedVolumes is a directory of named local volumes, kept after the pods
// that use them: ROOT/<name>/_data is a volume's content and
// ROOT/<name>/volume.json its record, as podman lays them out; a pod that
// uses a volume holds a lease on it, ROOT/<name>/pods/<key>.json, so that
// the volume is not removed under it. Creation, leases and removal are
// serialised by a lock on ROOT/.lock, across processes.
type NamedVolumes struct {
	root string
}

// NamedVolume is one named volume.
type NamedVolume struct {
	Name       string    `json:"name"`
	Mountpoint string    `json:"mountpoint"` // ROOT/<name>/_data
	CreatedAt  time.Time `json:"createdAt"`
	// Pods are the pods that hold a lease on it, as their holders name
	// them ("web", "team/web"), sorted.
	Pods []string `json:"pods,omitempty"`
}

// volumeLease is a pod's lease on a volume; Dir is the pod's state
// directory: a lease whose pod directory is gone (its state root was a
// tmpfs and the node rebooted) is stale and ignored.
type volumeLease struct {
	Pod string `json:"pod"`
	Dir string `json:"dir"`
}

// A name is a DNS-1123 subdomain, as a PersistentVolumeClaim's name: never
// ".", ".." or anything with a '/'.
var (
	volumeNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	leaseKeyRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)
)

// ValidateVolumeName checks a named volume's name: a DNS-1123 subdomain
// of at most 253 characters (lowercase letters, digits, '-' and '.').
func ValidateVolumeName(name string) error {
	if len(name) > 253 || !volumeNameRE.MatchString(name) {
		return errdefs.With(errdefs.ErrInvalidArgument, fmt.Errorf("volume name %q: not a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters)", name))
	}
	return nil
}

// OpenNamedVolumes opens (making it, mode 0700) the directory of named
// volumes root.
func OpenNamedVolumes(root string) (*NamedVolumes, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("volume root %q is not an absolute path", root)
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("open volume root: %w", err)
	}
	return &NamedVolumes{root: filepath.Clean(root)}, nil
}

// Root is the volumes' directory.
func (v *NamedVolumes) Root() string { return v.root }

// lockFor checks name and takes the volumes' lock.
func (v *NamedVolumes) lockFor(name string) (func(), error) {
	if err := ValidateVolumeName(name); err != nil {
		return nil, err
	}
	return v.lock()
}

func (v *NamedVolumes) lock() (func(), error) {
	f, err := os.OpenFile(filepath.Join(v.root, ".lock"), os.O_CREATE|os.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock volume root: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock volume root: %w", err)
	}
	return func() { f.Close() }, nil
}

// Create makes the volume name; one that exists is ErrVolumeExists.
//
// Equivalent to: `podman volume create NAME`.
func (v *NamedVolumes) Create(name string) (*NamedVolume, error) {
	unlock, err := v.lockFor(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := v.read(name); err == nil {
		return nil, fmt.Errorf("create volume %q: %w", name, ErrVolumeExists)
	} else if !errors.Is(err, ErrVolumeNotFound) {
		return nil, fmt.Errorf("create %w", err)
	}
	vol, err := v.create(name)
	if err != nil {
		return nil, fmt.Errorf("create volume %q: %w", name, err)
	}
	return vol, nil
}

// create makes the volume's directory, its _data (mode 0777, as the
// kubelet makes an emptyDir and the local-path provisioner a volume, so
// that a container of any user may write it) and, last, its record. A
// directory without a record (a creation that crashed) is made again.
func (v *NamedVolumes) create(name string) (*NamedVolume, error) {
	dir := filepath.Join(v.root, name)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	data := filepath.Join(dir, "_data")
	if err := os.Mkdir(data, 0o777); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	if err := os.Chmod(data, 0o777); err != nil {
		return nil, err
	}
	vol := &NamedVolume{Name: name, Mountpoint: data, CreatedAt: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.MarshalIndent(vol, "", "  ")
	if err := atomicfile.Write(filepath.Join(dir, "volume.json"), b, 0o600); err != nil {
		return nil, err
	}
	return vol, nil
}

// read reads the volume's record, refusing one whose directory or _data
// is a symlink.
func (v *NamedVolumes) read(name string) (*NamedVolume, error) {
	if err := ValidateVolumeName(name); err != nil {
		return nil, err
	}
	dir := filepath.Join(v.root, name)
	for _, p := range []string{dir, filepath.Join(dir, "_data")} {
		st, err := os.Lstat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("volume %q: %w", name, ErrVolumeNotFound)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", name, err)
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("volume %q: %s is not a directory", name, p)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "volume.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("volume %q: %w", name, ErrVolumeNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	var vol NamedVolume
	if err := json.Unmarshal(b, &vol); err != nil {
		return nil, fmt.Errorf("volume %q: record: %w", name, err)
	}
	vol.Name, vol.Mountpoint = name, filepath.Join(dir, "_data")
	vol.Pods, err = v.users(name)
	return &vol, err
}

// Get returns the volume name with the pods that use it.
//
// Equivalent to: `podman volume inspect NAME`.
func (v *NamedVolumes) Get(name string) (*NamedVolume, error) { return v.read(name) }

// List returns every volume, by name.
//
// Equivalent to: `podman volume ls`.
func (v *NamedVolumes) List() ([]*NamedVolume, error) {
	entries, err := os.ReadDir(v.root)
	if err != nil {
		return nil, fmt.Errorf("list volumes: %w", err)
	}
	var out []*NamedVolume
	for _, e := range entries {
		if !e.IsDir() || ValidateVolumeName(e.Name()) != nil {
			continue
		}
		vol, err := v.read(e.Name())
		if errors.Is(err, ErrVolumeNotFound) {
			continue // being created or removed
		}
		if err != nil {
			return nil, err
		}
		out = append(out, vol)
	}
	return out, nil
}

// Acquire makes the volume name when it does not exist yet (a
// persistentVolumeClaim's first use) and records that pod (whose state
// directory is podDir) uses it, under key; it returns the volume.
func (v *NamedVolumes) Acquire(name, key, pod, podDir string) (*NamedVolume, error) {
	if !leaseKeyRE.MatchString(key) {
		return nil, fmt.Errorf("volume %q: lease key %q: want 1 to 128 of [A-Za-z0-9_-]", name, key)
	}
	unlock, err := v.lockFor(name)
	if err != nil {
		return nil, err
	}
	defer unlock()
	vol, err := v.read(name)
	if errors.Is(err, ErrVolumeNotFound) {
		vol, err = v.create(name)
	}
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	pods := filepath.Join(v.root, name, "pods")
	if err := os.Mkdir(pods, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	b, _ := json.Marshal(volumeLease{Pod: pod, Dir: podDir})
	if err := atomicfile.Write(filepath.Join(pods, key+".json"), b, 0o600); err != nil {
		return nil, fmt.Errorf("volume %q: lease for pod %s: %w", name, pod, err)
	}
	return vol, nil
}

// Release drops the lease key on the volume name; a missing one is no
// error. The volume and its data stay.
func (v *NamedVolumes) Release(name, key string) error {
	if ValidateVolumeName(name) != nil || !leaseKeyRE.MatchString(key) {
		return nil // never acquired
	}
	err := os.Remove(filepath.Join(v.root, name, "pods", key+".json"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("release volume %q: %w", name, err)
	}
	return nil
}

// users are the pods whose lease on the volume is live (their state
// directory exists), sorted.
func (v *NamedVolumes) users(name string) ([]string, error) {
	dir := filepath.Join(v.root, name, "pods")
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("volume %q: %w", name, err)
	}
	var pods []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			continue // released meanwhile
		}
		var l volumeLease
		if json.Unmarshal(b, &l) != nil || !filepath.IsAbs(l.Dir) {
			continue
		}
		if _, err := os.Stat(l.Dir); err != nil {
			continue // the pod is gone (a reboot emptied the state root)
		}
		pods = append(pods, l.Pod)
	}
	sort.Strings(pods)
	return pods, nil
}

// Remove removes the volume name and its data; one that a pod uses is
// refused (ErrVolumeInUse) with the pods' names.
//
// Equivalent to: `podman volume rm NAME`.
func (v *NamedVolumes) Remove(name string) error {
	unlock, err := v.lockFor(name)
	if err != nil {
		return err
	}
	defer unlock()
	vol, err := v.read(name)
	if err != nil {
		return fmt.Errorf("remove %w", err)
	}
	if len(vol.Pods) > 0 {
		return fmt.Errorf("remove volume %q: %w by pod %s (remove the pod first)", name, ErrVolumeInUse, strings.Join(vol.Pods, ", "))
	}
	// The record first: a removal that stops halfway leaves no volume
	// that looks whole.
	dir := filepath.Join(v.root, name)
	if err := os.Remove(filepath.Join(dir, "volume.json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove volume %q: %w", name, err)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove volume %q: %w", name, err)
	}
	return nil
}
