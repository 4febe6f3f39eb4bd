package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// extractor unpacks tar streams into one root directory. Every member path
// is resolved inside the root as filepath-securejoin does (symlinks are
// followed but never out of the root), ".." members are refused and
// absolute ones are taken relative to the root: no member writes outside.
//
// Equivalent to: `tar -C root -xpf -`, and for image layers (layers set)
// the OCI whiteout rules on top.
type extractor struct {
	root   string // absolute, no symlinks
	layers bool   // honour .wh.<name> and .wh..wh..opq
	asRoot bool   // chown entries and make device nodes

	// Paths the current layer wrote (and their parents): an opaque whiteout
	// only hides what lower layers left.
	written map[string]bool
	// Directory metadata, applied by finish once nothing is written into
	// them any more (a 0555 directory must still take its children, and
	// every child changes its parent's mtime).
	dirs []dirMeta
}

type dirMeta struct {
	rel      string
	mode     fs.FileMode
	uid, gid int
	mtime    time.Time
}

func newExtractor(root string, layers bool) (*extractor, error) {
	real, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(real)
	if err != nil {
		return nil, err
	}
	return &extractor{root: abs, layers: layers, asRoot: os.Geteuid() == 0}, nil
}

// memberPath turns a tar member name into a clean path relative to the root
// ("" is the root itself). Leading slashes are dropped; ".." is refused.
func memberPath(name string) (string, error) {
	rel := strings.TrimLeft(name, "/")
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return "", fmt.Errorf("tar member %q: path leads outside the root filesystem", name)
		}
	}
	rel = path.Clean(rel)
	if rel == "." {
		rel = ""
	}
	return rel, nil
}

// resolve returns the host path of rel: its parent directories resolved
// inside the root (symlinks included), its last component left as it is
// so that it can be replaced rather than followed.
func (x *extractor) resolve(rel string) (string, error) {
	if rel == "" {
		return x.root, nil
	}
	dir, base := path.Split(rel)
	parent, err := securejoin.SecureJoin(x.root, dir)
	if err != nil {
		return "", err
	}
	return filepath.Join(parent, base), nil
}

// apply unpacks one tar stream (one layer) on top of the root.
func (x *extractor) apply(ctx context.Context, r io.Reader) error {
	x.written = map[string]bool{}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := x.entry(hdr, tr); err != nil {
			return err
		}
	}
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	rel, err := memberPath(hdr.Name)
	if err != nil {
		return err
	}
	if x.layers && strings.HasPrefix(path.Base(rel), whiteoutPrefix) {
		return x.whiteout(rel)
	}
	target, err := x.resolve(rel)
	if err != nil {
		return fmt.Errorf("tar member %q: %w", hdr.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("tar member %q: %w", hdr.Name, err)
	}
	x.markWritten(rel)
	if err := x.create(hdr, rel, target, r); err != nil {
		return fmt.Errorf("tar member %q: %w", hdr.Name, err)
	}
	return nil
}

func (x *extractor) create(hdr *tar.Header, rel, target string, r io.Reader) error {
	mode := hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	switch hdr.Typeflag {
	case tar.TypeDir:
		fi, err := os.Lstat(target)
		if err == nil && !fi.IsDir() {
			if err := os.Remove(target); err != nil {
				return err
			}
		}
		if err != nil || !fi.IsDir() {
			if err := os.Mkdir(target, 0o755); err != nil {
				return err
			}
		}
		x.dirs = append(x.dirs, dirMeta{rel: rel, mode: mode, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime})
		return nil

	case tar.TypeReg:
		if err := removeExisting(target); err != nil {
			return err
		}
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}

	case tar.TypeSymlink:
		if err := removeExisting(target); err != nil {
			return err
		}
		// The link's text is stored as it is: it is never followed while
		// extracting (resolve keeps every path inside the root).
		if err := os.Symlink(hdr.Linkname, target); err != nil {
			return err
		}

	case tar.TypeLink:
		srcRel, err := memberPath(hdr.Linkname)
		if err != nil {
			return err
		}
		src, err := x.resolve(srcRel)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(src)
		if err != nil {
			return fmt.Errorf("hard link to %q: %w", hdr.Linkname, err)
		}
		if fi.IsDir() {
			return fmt.Errorf("hard link to directory %q", hdr.Linkname)
		}
		if src == target {
			return nil
		}
		if err := removeExisting(target); err != nil {
			return err
		}
		return os.Link(src, target) // the inode keeps its own metadata

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := removeExisting(target); err != nil {
			return err
		}
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		err := unix.Mknod(target, kind|uint32(mode&fs.ModePerm), int(dev))
		if errors.Is(err, unix.EPERM) && !x.asRoot && hdr.Typeflag != tar.TypeFifo {
			return nil // only root makes device nodes; an unprivileged import goes without
		}
		if err != nil {
			return &os.PathError{Op: "mknod", Path: target, Err: err}
		}

	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	return x.setMeta(target, hdr.Typeflag == tar.TypeSymlink, mode, hdr.Uid, hdr.Gid, hdr.ModTime)
}

// setMeta sets ownership (as root), mode (not on symlinks) and mtime. Mode
// comes after chown, which clears set-id bits.
func (x *extractor) setMeta(target string, symlink bool, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	if x.asRoot {
		if err := os.Lchown(target, uid, gid); err != nil {
			return err
		}
	}
	if !symlink {
		if err := os.Chmod(target, mode); err != nil {
			return err
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, target, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimes", Path: target, Err: err}
	}
	return nil
}

// whiteout applies an OCI whiteout member: ".wh.NAME" deletes NAME from
// the lower layers, ".wh..wh..opq" empties its directory of what lower
// layers put there.
func (x *extractor) whiteout(rel string) error {
	dirRel, base := path.Split(rel)
	dirRel = strings.TrimSuffix(dirRel, "/")
	switch {
	case base == whiteoutOpaque:
		dir, err := securejoin.SecureJoin(x.root, dirRel)
		if err != nil {
			return err
		}
		entries, err := os.ReadDir(dir)
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !x.written[path.Join(dirRel, e.Name())] {
				if err := removeAll(filepath.Join(dir, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil // other aufs metadata (.wh..wh.plnk, ...): nothing to apply
	default:
		victim := path.Join(dirRel, strings.TrimPrefix(base, whiteoutPrefix))
		if x.written[victim] {
			return nil // the same layer adds it back: the whiteout is for the lower one
		}
		target, err := x.resolve(victim)
		if err != nil {
			return err
		}
		return removeAll(target)
	}
}

func (x *extractor) markWritten(rel string) {
	for rel != "" && rel != "." && !x.written[rel] {
		x.written[rel] = true
		rel = path.Dir(rel)
	}
}

// finish applies the directories' metadata, the last layer's word winning.
// A directory that is no longer one, or is now reached through a symlink,
// is skipped.
func (x *extractor) finish() error {
	done := map[string]bool{}
	for i := len(x.dirs) - 1; i >= 0; i-- {
		d := x.dirs[i]
		if done[d.rel] {
			continue
		}
		done[d.rel] = true
		p, err := securejoin.SecureJoin(x.root, d.rel)
		if err != nil {
			return err
		}
		if p != filepath.Join(x.root, d.rel) {
			continue
		}
		if fi, err := os.Lstat(p); err != nil || !fi.IsDir() {
			continue
		}
		if err := x.setMeta(p, false, d.mode, d.uid, d.gid, d.mtime); err != nil {
			return err
		}
	}
	return nil
}

func removeExisting(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return removeAll(p)
	}
	return os.Remove(p)
}

// removeAll is os.RemoveAll that also gets through directories without
// write permission (an unprivileged store may hold a 0555 directory).
func removeAll(p string) error {
	err := os.RemoveAll(p)
	if err == nil || os.Geteuid() == 0 {
		return err
	}
	filepath.WalkDir(p, func(q string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(q, 0o700)
		}
		return nil
	})
	return os.RemoveAll(p)
}
