package mounts

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// DiskUsage is the disk space the files under dir take (their allocated
// blocks, as du counts them), not crossing into other filesystems (mounts
// under dir are not counted). A missing dir uses nothing.
//
// Equivalent to: du -sx --block-size=1 DIR
func DiskUsage(dir string) (int64, error) {
	var root unix.Stat_t
	if err := unix.Lstat(dir, &root); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return 0, nil
		}
		return 0, err
	}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return nil // gone meanwhile
			}
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil
		}
		if st.Dev != root.Dev {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		total += st.Blocks * 512
		return nil
	})
	return total, err
}

// UpperDir is the writable layer of the overlay CreateOverlay made in dir:
// what a container wrote to its root filesystem.
func UpperDir(dir string) string { return filepath.Join(dir, "upper") }
