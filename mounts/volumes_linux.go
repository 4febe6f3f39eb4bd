package mounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Volume is one pod volume as mounts needs it; exactly one source is set.
// It mirrors sandbox.Volume (mounts stays below sandbox and does not import
// it).
type Volume struct {
	Name     string
	HostPath *HostPath
	EmptyDir *EmptyDir
}

// HostPath is a path on the host, checked against Type before any container
// starts. Type is one of Kubernetes' hostPath types: "" (no check),
// DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice,
// BlockDevice.
type HostPath struct {
	Path string
	Type string
}

// EmptyDir is a directory made for the pod and removed with it. Medium ""
// keeps it on the disk that holds the pod directory; "Memory" makes it a
// tmpfs of at most SizeLimit bytes (0: the kernel's default, half of RAM).
// SizeLimit is enforced only for Memory.
type EmptyDir struct {
	Medium    string
	SizeLimit int64
}

// The hostPath types, as Kubernetes spells them.
const (
	HostPathUnset             = ""
	HostPathDirectoryOrCreate = "DirectoryOrCreate"
	HostPathDirectory         = "Directory"
	HostPathFileOrCreate      = "FileOrCreate"
	HostPathFile              = "File"
	HostPathSocket            = "Socket"
	HostPathCharDevice        = "CharDevice"
	HostPathBlockDevice       = "BlockDevice"
)

// MediumMemory is the emptyDir medium that makes a tmpfs.
const MediumMemory = "Memory"

const (
	volumesDir  = "volumes"         // podDir/volumes/<name>: emptyDirs
	subPathsDir = "volume-subpaths" // podDir/volume-subpaths/...: BindSubPath targets
)

// EmptyDirPath is where PrepareVolumes makes the emptyDir volume name of the
// pod whose directory is podDir.
func EmptyDirPath(podDir, name string) string {
	return filepath.Join(podDir, volumesDir, name)
}

// PrepareVolumes checks and makes every volume of a pod before any of its
// containers starts, and returns each volume's host path by name: the
// directory, file or device that the sandbox bind-mounts into containers.
//
// A hostPath is checked against its type the way the kubelet does (it
// follows symlinks): DirectoryOrCreate makes the missing directories
// (mkdir -p, mode 0755); FileOrCreate makes an empty file (mode 0644) but,
// as in Kubernetes, not its parent directory, which must exist. A hostPath
// is never removed, except what this call itself created when it fails.
//
// An emptyDir is the directory podDir/volumes/<name>, mode 0777 as the
// kubelet makes it. With medium Memory a tmpfs is mounted there
// (nosuid,nodev, size=SizeLimit when set; its root has tmpfs' mode 1777).
// An emptyDir left by an earlier call (its tmpfs still mounted or not) is
// reused, so the pod's data survives a restart of whoever calls this.
//
// Errors name the volume: `volume "logs": hostPath "/x": not a directory
// (type Directory)`. On error, everything this call made is undone
// (tmpfs unmounted, directories and files it created removed).
//
// Equivalent to, for each volume: `mkdir -p PATH` or `touch PATH` or
// `test -d PATH` ...; `mkdir -m 0777 DIR && mount -t tmpfs -o nosuid,nodev,size=N tmpfs DIR`.
func PrepareVolumes(podDir string, vols []Volume) (_ map[string]string, retErr error) {
	var u undoList
	defer func() {
		if retErr != nil {
			if err := u.run(); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("undo: %w", err))
			}
		}
	}()
	if err := checkVolumes(vols); err != nil {
		return nil, err
	}
	paths := make(map[string]string, len(vols))
	for _, v := range vols {
		var p string
		var err error
		if v.HostPath != nil {
			p, err = prepareHostPath(v.HostPath, &u)
		} else {
			p, err = prepareEmptyDir(podDir, v.Name, v.EmptyDir, &u)
		}
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v.Name, err)
		}
		paths[v.Name] = p
	}
	return paths, nil
}

// checkVolumes checks names and sources before anything is made.
func checkVolumes(vols []Volume) error {
	seen := make(map[string]bool, len(vols))
	for i, v := range vols {
		switch {
		case v.Name == "":
			return fmt.Errorf("volumes[%d]: name is empty", i)
		case v.Name == "." || v.Name == ".." || strings.ContainsAny(v.Name, "/\x00"):
			return fmt.Errorf("volume %q: name must be a plain file name", v.Name)
		case seen[v.Name]:
			return fmt.Errorf("volume %q: defined twice", v.Name)
		case (v.HostPath == nil) == (v.EmptyDir == nil):
			return fmt.Errorf("volume %q: exactly one of hostPath and emptyDir must be set", v.Name)
		}
		seen[v.Name] = true
		if h := v.HostPath; h != nil {
			if !filepath.IsAbs(h.Path) {
				return fmt.Errorf("volume %q: hostPath %q: must be an absolute path", v.Name, h.Path)
			}
			switch h.Type {
			case HostPathUnset, HostPathDirectoryOrCreate, HostPathDirectory, HostPathFileOrCreate,
				HostPathFile, HostPathSocket, HostPathCharDevice, HostPathBlockDevice:
			default:
				return fmt.Errorf("volume %q: hostPath %q: unknown type %q", v.Name, h.Path, h.Type)
			}
		}
		if e := v.EmptyDir; e != nil {
			if e.Medium != "" && e.Medium != MediumMemory {
				return fmt.Errorf("volume %q: emptyDir medium %q is not supported (only \"\" or %q)", v.Name, e.Medium, MediumMemory)
			}
			if e.SizeLimit < 0 {
				return fmt.Errorf("volume %q: emptyDir sizeLimit %d is negative", v.Name, e.SizeLimit)
			}
		}
	}
	return nil
}

// prepareHostPath checks h against its type, creating it for the *OrCreate
// types, and returns its path.
func prepareHostPath(h *HostPath, u *undoList) (string, error) {
	p := filepath.Clean(h.Path)
	fail := func(what string) error {
		return fmt.Errorf("hostPath %q: %s (type %s)", h.Path, what, h.Type)
	}
	if h.Type == HostPathUnset {
		return p, nil
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		switch h.Type {
		case HostPathDirectoryOrCreate:
			if err := mkdirAll(p, u); err != nil {
				return "", fail(fmt.Sprintf("create directory: %v", err))
			}
			return p, nil
		case HostPathFileOrCreate:
			return p, createFile(p, u, fail)
		}
		return "", fmt.Errorf("hostPath %q: %w (type %s)", h.Path, fs.ErrNotExist, h.Type)
	}
	if err != nil {
		return "", fmt.Errorf("hostPath %q: %w (type %s)", h.Path, err, h.Type)
	}
	if want := hostPathMode(h.Type); st.Mode().Type() != want {
		return "", fail("not a " + typeName(want) + ", a " + typeName(st.Mode().Type()))
	}
	return p, nil
}

// hostPathMode is the file type a hostPath type demands.
func hostPathMode(typ string) fs.FileMode {
	switch typ {
	case HostPathDirectoryOrCreate, HostPathDirectory:
		return fs.ModeDir
	case HostPathFileOrCreate, HostPathFile:
		return 0 // a regular file
	case HostPathSocket:
		return fs.ModeSocket
	case HostPathCharDevice:
		return fs.ModeDevice | fs.ModeCharDevice
	case HostPathBlockDevice:
		return fs.ModeDevice
	}
	panic("mounts: unknown hostPath type " + strconv.Quote(typ))
}

func typeName(m fs.FileMode) string {
	switch m {
	case fs.ModeDir:
		return "directory"
	case 0:
		return "regular file"
	case fs.ModeSocket:
		return "socket"
	case fs.ModeDevice | fs.ModeCharDevice:
		return "character device"
	case fs.ModeDevice:
		return "block device"
	case fs.ModeSymlink:
		return "symlink"
	case fs.ModeNamedPipe:
		return "named pipe"
	}
	return "file of type " + m.String()
}

// mkdirAll is mkdir -p with mode 0755 (under the umask, as the kubelet's
// os.MkdirAll), remembering each directory it makes so that undo removes
// exactly those.
func mkdirAll(p string, u *undoList) error {
	var missing []string
	for d := p; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
	}
	// Undo removes the deepest first; os.Remove leaves a directory that
	// someone else filled meanwhile.
	for i := len(missing) - 1; i >= 0; i-- {
		u.add(func() error { return removeIfExists(missing[i]) })
	}
	return os.MkdirAll(p, 0o755)
}

// createFile makes the empty file p, mode 0644 under the umask, as the
// kubelet does. The parent directory must exist.
func createFile(p string, u *undoList, fail func(string) error) error {
	f, err := os.OpenFile(p, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrNotExist) {
		return fail("parent directory does not exist (FileOrCreate does not create it)")
	}
	if err != nil {
		return fail(fmt.Sprintf("create file: %v", err))
	}
	f.Close()
	u.add(func() error { return removeIfExists(p) })
	return nil
}

// prepareEmptyDir makes (or reuses) podDir/volumes/<name>, mounting a tmpfs
// there for medium Memory.
func prepareEmptyDir(podDir, name string, e *EmptyDir, u *undoList) (string, error) {
	if err := mkdirAll(filepath.Join(podDir, volumesDir), u); err != nil {
		return "", fmt.Errorf("emptyDir: %w", err)
	}
	dir := EmptyDirPath(podDir, name)
	err := os.Mkdir(dir, 0o777)
	switch {
	case err == nil:
		u.add(func() error { return removeIfExists(dir) })
		// 0777 whatever the umask, like the kubelet's emptyDir.
		if err := os.Chmod(dir, 0o777); err != nil {
			return "", fmt.Errorf("emptyDir: %w", err)
		}
	case errors.Is(err, fs.ErrExist):
		st, err := os.Lstat(dir)
		if err != nil {
			return "", fmt.Errorf("emptyDir: %w", err)
		}
		if !st.IsDir() {
			return "", fmt.Errorf("emptyDir %q: exists and is not a directory", dir)
		}
	default:
		return "", fmt.Errorf("emptyDir: %w", err)
	}
	if e.Medium != MediumMemory {
		return dir, nil
	}
	mounted, err := isMountPoint(dir)
	if err != nil {
		return "", fmt.Errorf("emptyDir: %w", err)
	}
	if mounted {
		return dir, nil
	}
	m := Tmpfs(dir, e.SizeLimit)
	if err := m.Mount(); err != nil {
		return "", fmt.Errorf("emptyDir: %w", err)
	}
	u.add(func() error { return Unmount(dir) })
	return dir, nil
}

// Tmpfs is the mount of a memory-backed emptyDir at dir, of at most size
// bytes (0: no size option, the kernel's default of half the RAM).
func Tmpfs(dir string, size int64) Mount {
	m := Mount{Type: "tmpfs", Source: "tmpfs", Target: dir, Options: []string{"nosuid", "nodev"}}
	if size > 0 {
		m.Options = append(m.Options, "size="+strconv.FormatInt(size, 10))
	}
	return m
}

// isMountPoint reports whether dir is the root of a filesystem other than
// its parent's (enough to recognise our own tmpfs).
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, &fs.PathError{Op: "lstat", Path: dir, Err: err}
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, &fs.PathError{Op: "lstat", Path: filepath.Dir(dir), Err: err}
	}
	return st.Dev != parent.Dev, nil
}

// CleanupVolumes unmounts and removes what PrepareVolumes and BindSubPath
// made under podDir: the emptyDirs in podDir/volumes (with their data) and
// the subPath bind mounts in podDir/volume-subpaths. It never touches a
// hostPath: everything mounted below those directories is unmounted (and
// checked gone) before anything is removed, and the subPath targets are
// removed one by one, never recursively. It is idempotent.
//
// Equivalent to: umount -l everything under DIR; rm -rf DIR.
func CleanupVolumes(podDir string) error {
	real, err := filepath.EvalSymlinks(podDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("cleanup volumes: %w", err)
	}
	// mountinfo names mount points by their real path.
	subs, vols := filepath.Join(real, subPathsDir), filepath.Join(real, volumesDir)
	if err := UnmountUnder(subs); err != nil {
		return fmt.Errorf("cleanup volumes: %w", err)
	}
	if err := removeEmptyTree(subs); err != nil {
		return fmt.Errorf("cleanup volumes: %w", err)
	}
	if err := UnmountUnder(vols); err != nil {
		return fmt.Errorf("cleanup volumes: %w", err)
	}
	if err := os.RemoveAll(vols); err != nil {
		return fmt.Errorf("cleanup volumes: %w", err)
	}
	return nil
}

// removeEmptyTree removes dir, whose leaves must all be empty files or
// empty directories (bind-mount targets), deepest first, with os.Remove
// only: a mount point left behind or a non-empty directory makes it fail
// rather than delete what is behind it.
func removeEmptyTree(dir string) error {
	var all []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil && info.Size() > 0 {
				return fmt.Errorf("remove %q: not an empty bind-mount target", p)
			}
		}
		all = append(all, p)
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if err := removeIfExists(all[i]); err != nil {
			return err
		}
	}
	return nil
}

func removeIfExists(p string) error {
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// undoList holds what to undo when a preparation fails, run newest first.
type undoList []func() error

func (u *undoList) add(f func() error) { *u = append(*u, f) }

func (u *undoList) run() error {
	var errs []error
	for i := len(*u) - 1; i >= 0; i-- {
		if err := (*u)[i](); err != nil {
			errs = append(errs, err)
		}
	}
	*u = nil
	return errors.Join(errs...)
}
