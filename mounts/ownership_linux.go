package mounts

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Kubernetes' fsGroupChangePolicy values.
const (
	FSGroupChangeAlways         = "Always"
	FSGroupChangeOnRootMismatch = "OnRootMismatch"
)

// SetVolumeOwnership gives the group gid every file and directory under dir
// (dir included), makes them readable and writable by the group (and
// directories searchable and setgid, so that new files inherit the group),
// as the kubelet does for a pod's fsGroup on emptyDir volumes. Symlinks are
// left alone and never followed. With policy OnRootMismatch nothing is done
// when dir already has that group and those permissions.
//
// Equivalent to: chgrp -R GID DIR; chmod -R g+rwX DIR; find DIR -type d -exec chmod g+s {} +
func SetVolumeOwnership(dir string, gid int, policy string) error {
	if policy == FSGroupChangeOnRootMismatch {
		if st, err := os.Lstat(dir); err == nil && ownedBy(st, gid) {
			return nil
		}
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Lchown(p, -1, gid); err != nil {
			return err
		}
		return os.Chmod(p, info.Mode()|groupMask(info.IsDir()))
	})
	if err != nil {
		return fmt.Errorf("set group %d on volume %q: %w", gid, dir, err)
	}
	return nil
}

// groupMask is what a file of an fsGroup volume gets: g+rw, and for a
// directory g+x and setgid.
func groupMask(dir bool) fs.FileMode {
	if dir {
		return 0o070 | fs.ModeSetgid
	}
	return 0o060
}

// ownedBy: st has group gid and the group permissions of groupMask.
func ownedBy(st fs.FileInfo, gid int) bool {
	sys, ok := st.Sys().(*syscall.Stat_t)
	if !ok || int(sys.Gid) != gid {
		return false
	}
	want := groupMask(st.IsDir())
	return st.Mode()&want == want
}
