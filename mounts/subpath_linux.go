package mounts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	pathrs "github.com/cyphar/filepath-securejoin/pathrs-lite"
	"github.com/cyphar/filepath-securejoin/pathrs-lite/procfs"
	"golang.org/x/sys/unix"
)

// checkSubPath refuses what the kubelet refuses: an absolute subPath or one
// with a ".." element, even one that would stay inside.
func checkSubPath(subPath string) error {
	if strings.IndexByte(subPath, 0) >= 0 {
		return fmt.Errorf("subPath %q: contains a NUL byte", subPath)
	}
	if filepath.IsAbs(subPath) {
		return fmt.Errorf("subPath %q: must be a relative path", subPath)
	}
	for _, elem := range strings.Split(subPath, "/") {
		if elem == ".." {
			return fmt.Errorf("subPath %q: must not contain \"..\"", subPath)
		}
	}
	return nil
}

// OpenSubPath opens subPath inside the volume directory volumeRoot and
// returns an O_PATH handle to it. Every symlink on the way is resolved as
// if volumeRoot were "/" (filepath-securejoin's OpenatInRoot), so neither a
// symlink nor a race can lead outside. A missing subPath is created as a
// directory, as the kubelet does, with the mode of volumeRoot (under the
// umask). An absolute subPath or one with a ".." element is refused.
//
// The handle pins what was resolved: mounting it through its fd,
// /proc/thread-self/fd/N, can not be redirected by a symlink swapped in
// later (CVE-2017-1002101). That path is only meaningful in the process
// that holds the handle, while it holds it: libcontainer performs a
// container's mounts in another process (its init), so do not put it in a
// configs.Mount. Use BindSubPath, which mounts the handle onto a stable
// path under the pod directory, and give that path to the container, as
// the kubelet does with its volume-subpaths directory. Close the handle
// when done.
func OpenSubPath(volumeRoot, subPath string) (*os.File, error) {
	if err := checkSubPath(subPath); err != nil {
		return nil, err
	}
	root, err := os.OpenFile(volumeRoot, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("subPath %q: open volume: %w", subPath, err)
	}
	defer root.Close()
	rel := filepath.Clean(subPath)
	if rel == "." {
		rel = ""
	}
	f, err := pathrs.OpenatInRoot(root, rel)
	if errors.Is(err, fs.ErrNotExist) {
		var st unix.Stat_t
		if err := unix.Fstat(int(root.Fd()), &st); err != nil {
			return nil, fmt.Errorf("subPath %q: stat volume %q: %w", subPath, volumeRoot, err)
		}
		f, err = pathrs.MkdirAllHandle(root, rel, fs.FileMode(st.Mode&0o777))
		if err != nil {
			return nil, fmt.Errorf("subPath %q: create in volume %q: %w", subPath, volumeRoot, err)
		}
		return f, nil
	}
	if err != nil {
		return nil, fmt.Errorf("subPath %q: open in volume %q: %w", subPath, volumeRoot, err)
	}
	return f, nil
}

// ResolveSubPath returns the real path of subPath inside the volume
// directory volumeRoot, creating it as a directory when missing (see
// OpenSubPath for the rules). The result has every symlink resolved and is
// inside the real path of volumeRoot.
//
// A path can change between this call and its use: to bind-mount a subPath
// into a container, use BindSubPath, which is immune to that race.
func ResolveSubPath(volumeRoot, subPath string) (string, error) {
	f, err := OpenSubPath(volumeRoot, subPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	p, err := procfs.ProcSelfFdReadlink(f)
	if err != nil {
		return "", fmt.Errorf("subPath %q: resolve in volume %q: %w", subPath, volumeRoot, err)
	}
	return p, nil
}

// SubPathTarget is where BindSubPath should mount the subPath of the
// index-th volume mount of a container, following the kubelet's layout:
// podDir/volume-subpaths/<volume>/<container>/<index>. CleanupVolumes
// unmounts and removes everything there.
func SubPathTarget(podDir, volume, container string, index int) string {
	return filepath.Join(podDir, subPathsDir, volume, container, strconv.Itoa(index))
}

// BindSubPath opens subPath inside volumeRoot safely (OpenSubPath) and
// bind-mounts (recursively) what it opened onto target, an empty directory
// or an empty file it creates to match. The sandbox then bind-mounts target
// into the container instead of the subPath's name, so that a container
// swapping a symlink inside the volume can not redirect the mount
// (CVE-2017-1002101; the kubelet does the same). Use SubPathTarget for
// target; CleanupVolumes removes it. A target left by a previous instance
// of the container is unmounted and made anew: the subPath is resolved
// again for every start, as what it names may have changed.
//
// Equivalent to: mount --rbind /proc/thread-self/fd/N TARGET
func BindSubPath(volumeRoot, subPath, target string) (retErr error) {
	f, err := OpenSubPath(volumeRoot, subPath)
	if err != nil {
		return err
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fmt.Errorf("subPath %q: stat: %w", subPath, err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o750); err != nil {
		return fmt.Errorf("subPath %q: %w", subPath, err)
	}
	if err := unbindSubPath(target); err != nil {
		return fmt.Errorf("subPath %q: %w", subPath, err)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = os.Mkdir(target, 0o750)
	} else {
		var t *os.File
		if t, err = os.OpenFile(target, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o640); err == nil {
			t.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("subPath %q: mount target: %w", subPath, err)
	}
	defer func() {
		if retErr != nil {
			os.Remove(target)
		}
	}()
	m := Mount{Source: "/proc/thread-self/fd/" + strconv.Itoa(int(f.Fd())), Target: target, Options: []string{"rbind"}}
	flags, _ := m.flags()
	if err := unix.Mount(m.Source, m.Target, "", flags, ""); err != nil {
		return fmt.Errorf("subPath %q: %w", subPath, &Error{Op: "mount", Mount: m, Err: err})
	}
	return nil
}

// unbindSubPath takes away what BindSubPath left at target: its mount (and
// any mounted over it) and the file or directory under it. A missing target
// is fine.
//
// Equivalent to: umount -l TARGET; rm -d TARGET
func unbindSubPath(target string) error {
	for {
		err := unix.Unmount(target, unix.MNT_DETACH|unix.UMOUNT_NOFOLLOW)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			break // not a mount point (any more), or no target
		}
		if err != nil {
			return &Error{Op: "unmount", Mount: Mount{Target: target}, Err: err}
		}
	}
	if err := os.Remove(target); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove old mount target: %w", err)
	}
	return nil
}
