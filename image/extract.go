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
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh."
	whiteoutOpaque = ".wh..wh..opq"
)

// Default limits of an extraction (see ExtractOptions). They are far above
// any real image and low enough that a decompression bomb stops before it
// fills a disk.
const (
	DefaultMaxBytes   = 64 << 30 // 64 GiB of uncompressed tar stream per import
	DefaultMaxEntries = 1 << 20  // 1,048,576 paths per import
	DefaultMaxNameLen = 4096     // bytes per member name or link target (PATH_MAX)
)

// ExtractOptions bound what an import unpacks and relax what it refuses.
// The zero value gives the defaults.
type ExtractOptions struct {
	// AllowDevices makes character and block device nodes (only when the
	// process is root: an unprivileged import goes without them). Without
	// it a device member is an error. Overlay whiteouts (character device
	// 0:0) are always accepted.
	AllowDevices bool
	// MaxBytes bounds, for one import and all its layers together, both
	// the bytes read from the uncompressed tar streams and the sizes of
	// the files written (a sparse member is small in the stream and large
	// on disk); 0 or less means DefaultMaxBytes.
	MaxBytes int64
	// MaxEntries bounds the paths one import handles, all layers together:
	// every tar member counts, every parent directory its name implies
	// that the layer did not name before, and every directory made for it
	// (a missing parent counts twice, as implied and as made); 0 or less
	// means DefaultMaxEntries. It bounds the inodes an import makes and
	// the memory it holds.
	MaxEntries int64
	// MaxNameLen bounds the length in bytes of a member's name and link
	// target; 0 or less means DefaultMaxNameLen.
	MaxNameLen int
}

func (o ExtractOptions) withDefaults() ExtractOptions {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.MaxNameLen <= 0 {
		o.MaxNameLen = DefaultMaxNameLen
	}
	return o
}

// extractError is an extraction failure: in which layer (its DiffID; empty
// for a root filesystem tarball), at which member, and why.
type extractError struct {
	layer    string
	member   string
	atMember bool // member is set (it may be "")
	err      error
}

func (e *extractError) Error() string {
	s := "extract"
	if e.layer != "" {
		s += fmt.Sprintf(" layer %q", e.layer)
	}
	if e.atMember {
		m := e.member
		if len(m) > 256 {
			m = fmt.Sprintf("%s...(%d bytes)", m[:128], len(m))
		}
		s += fmt.Sprintf(" member %q", m)
	}
	return s + ": " + e.err.Error()
}

func (e *extractError) Unwrap() error { return e.err }

// extractor unpacks tar streams into one root directory, always relative to
// a file descriptor of that root, never through a path string:
//   - a member's parent directories are resolved (and created) inside the
//     root with openat2(RESOLVE_IN_ROOT) or pathrs-lite's equivalent walk:
//     a symlink on the way is followed as if the root were "/", so it never
//     leads out;
//   - its last component is created with the *at system calls on that
//     parent (mkdirat, openat O_EXCL|O_NOFOLLOW, symlinkat, linkat,
//     mknodat), what was there is removed with unlinkat, and metadata is
//     set without following symlinks;
//   - a member naming the root itself may only be a directory (it sets the
//     root's metadata), ".." in a name is refused, an absolute name is
//     taken relative to the root.
//
// Equivalent to: `tar -C root -xpf -`, and for image layers (layers set)
// the OCI whiteout rules on top.
type extractor struct {
	root   *os.File // the root directory, O_RDONLY|O_DIRECTORY
	layers bool     // honour .wh.<name>, .wh..wh..opq and 0:0 character devices
	asRoot bool     // chown entries and make device nodes
	opts   ExtractOptions

	read    int64 // bytes read from the tar streams so far
	content int64 // sizes of the members so far
	entries int64 // paths created or touched so far

	// Paths the current layer wrote (and their parents): a whiteout only
	// hides what lower layers left.
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

func newExtractor(root string, layers bool, opts ExtractOptions) (*extractor, error) {
	f, err := os.OpenFile(root, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &extractor{root: f, layers: layers, asRoot: os.Geteuid() == 0, opts: opts.withDefaults()}, nil
}

func (x *extractor) close() error { return x.root.Close() }

// memberPath turns a tar member name into a clean path relative to the root
// ("" is the root itself). Leading slashes are dropped; ".." is refused.
func memberPath(name string) (string, error) {
	rel := strings.TrimLeft(name, "/")
	for _, c := range strings.Split(rel, "/") {
		if c == ".." {
			return "", errors.New("path leads outside the root filesystem")
		}
	}
	rel = path.Clean(rel)
	if rel == "." {
		rel = ""
	}
	return rel, nil
}

// errTooBig is the error reading a stream returns past ExtractOptions.MaxBytes.
type errTooBig struct{ limit int64 }

func (e errTooBig) Error() string {
	return fmt.Sprintf("more than %d bytes of uncompressed tar or file content (the limit of an import)", e.limit)
}

// countingReader counts the bytes read into the extractor and fails past
// its limit.
type countingReader struct {
	r io.Reader
	x *extractor
}

func (c countingReader) Read(p []byte) (int, error) {
	if c.x.read >= c.x.opts.MaxBytes {
		return 0, errTooBig{c.x.opts.MaxBytes}
	}
	if rest := c.x.opts.MaxBytes - c.x.read; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := c.r.Read(p)
	c.x.read += int64(n)
	return n, err
}

// apply unpacks one tar stream (one layer) on top of the root, and reads
// the stream to its end (a digest covers the padding, and gzip checks its
// checksum only there).
func (x *extractor) apply(ctx context.Context, r io.Reader) error {
	x.written = map[string]bool{}
	cr := countingReader{r, x}
	tr := tar.NewReader(cr)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &extractError{err: fmt.Errorf("read tar: %w", err)}
		}
		if err := x.entry(hdr, tr); err != nil {
			return &extractError{member: hdr.Name, atMember: true, err: err}
		}
	}
	if _, err := io.Copy(io.Discard, cr); err != nil {
		return &extractError{err: fmt.Errorf("read tar: %w", err)}
	}
	return nil
}

// count adds n paths to the import's count and fails past the limit.
func (x *extractor) count(n int64) error {
	x.entries += n
	if x.entries > x.opts.MaxEntries {
		return fmt.Errorf("more than %d paths (the limit of an import)", x.opts.MaxEntries)
	}
	return nil
}

func (x *extractor) entry(hdr *tar.Header, r io.Reader) error {
	if err := x.count(1); err != nil {
		return err
	}
	if len(hdr.Name) > x.opts.MaxNameLen {
		return fmt.Errorf("name of %d bytes, over the limit of %d", len(hdr.Name), x.opts.MaxNameLen)
	}
	if len(hdr.Linkname) > x.opts.MaxNameLen {
		return fmt.Errorf("link target of %d bytes, over the limit of %d", len(hdr.Linkname), x.opts.MaxNameLen)
	}
	if hdr.Size > x.opts.MaxBytes-x.content {
		return fmt.Errorf("size of %d bytes: %w", hdr.Size, errTooBig{x.opts.MaxBytes})
	}
	x.content += hdr.Size
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
	if x.layers && hdr.Typeflag == tar.TypeChar && hdr.Devmajor == 0 && hdr.Devminor == 0 && rel != "" {
		// An overlay whiteout, as an overlay upper directory holds it:
		// the same as ".wh.NAME".
		dirRel, base := path.Split(rel)
		return x.whiteout(dirRel + whiteoutPrefix + base)
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return errors.New("names the root directory and is not a directory")
		}
		x.dirs = append(x.dirs, dirMeta{rel: "", mode: tarMode(hdr), uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime})
		return nil
	}
	if err := x.count(x.markWritten(rel) - 1); err != nil {
		return err
	}
	dirRel, base := path.Split(rel)
	parent, release, err := x.openDir(dirRel, true)
	if err != nil {
		return err
	}
	defer release()
	return x.create(hdr, rel, parent, base, r)
}

// tarMode is the permission bits of a member, set-id and sticky included.
func tarMode(hdr *tar.Header) fs.FileMode {
	return hdr.FileInfo().Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// openDir opens the directory dirRel inside the root (see walk), creating
// what is missing when create is set. release closes it.
func (x *extractor) openDir(dirRel string, create bool) (dir *os.File, release func(), err error) {
	dirRel = strings.TrimSuffix(dirRel, "/")
	if dirRel == "" {
		return x.root, func() {}, nil
	}
	fd, err := x.walk(dirRel, create)
	if err != nil {
		return nil, nil, fmt.Errorf("open directory %q: %w", dirRel, err)
	}
	dir = os.NewFile(uintptr(fd), dirRel)
	return dir, func() { dir.Close() }, nil
}

// maxSymlinks is how many symlinks one lookup may follow (Linux's MAXSYMLINKS).
const maxSymlinks = 40

// walk opens the directory rel inside the root and returns an O_PATH
// descriptor of it. It resolves as openat2(2) with RESOLVE_IN_ROOT would,
// one component at a time and never letting the kernel follow a symlink:
// a symlink's text is read and resolved again, from the root when it is
// absolute; ".." stops at the root. With create set, a missing directory is
// made (0755, under the umask), also where a dangling symlink points, as
// `mkdir -p` inside a chroot would.
func (x *extractor) walk(rel string, create bool) (fd int, err error) {
	if fd, err = unix.Dup(int(x.root.Fd())); err != nil {
		return -1, err
	}
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	var at []string // the real names from the root to fd
	todo := strings.Split(rel, "/")
	links := 0
	for len(todo) > 0 {
		c := todo[0]
		todo = todo[1:]
		switch c {
		case "", ".":
			continue
		case "..":
			// At the root, ".." stays. Below it, fd is len(at) real
			// directories down (nothing else writes in an import's
			// private directory to move them), so its ".." is inside.
			if len(at) > 0 {
				next, err := unix.Openat(fd, "..", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
				if err != nil {
					return fd, &os.PathError{Op: "openat", Path: strings.Join(at, "/") + "/..", Err: err}
				}
				unix.Close(fd)
				fd, at = next, at[:len(at)-1]
			}
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		switch {
		case err == nil:
			unix.Close(fd)
			fd = next
			at = append(at, c)
		case errors.Is(err, unix.ENOENT) && create:
			if err := unix.Mkdirat(fd, c, 0o755); err != nil && !errors.Is(err, unix.EEXIST) {
				return fd, &os.PathError{Op: "mkdirat", Path: strings.Join(append(at, c), "/"), Err: err}
			}
			if err := x.count(1); err != nil {
				return fd, err
			}
			todo = append([]string{c}, todo...) // and open it
		case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
			target, lerr := readlinkat(fd, c)
			if lerr != nil {
				return fd, &os.PathError{Op: "openat", Path: strings.Join(append(at, c), "/"), Err: unix.ENOTDIR}
			}
			if links++; links > maxSymlinks {
				return fd, &os.PathError{Op: "openat", Path: rel, Err: unix.ELOOP}
			}
			if strings.HasPrefix(target, "/") {
				next, err := unix.Dup(int(x.root.Fd()))
				if err != nil {
					return fd, err
				}
				unix.Close(fd)
				fd, at = next, nil
			}
			todo = append(strings.Split(target, "/"), todo...)
		default:
			return fd, &os.PathError{Op: "openat", Path: strings.Join(append(at, c), "/"), Err: err}
		}
	}
	return fd, nil
}

func (x *extractor) create(hdr *tar.Header, rel string, parent *os.File, base string, r io.Reader) error {
	pfd := int(parent.Fd())
	mode := tarMode(hdr)
	switch hdr.Typeflag {
	case tar.TypeDir:
		var st unix.Stat_t
		err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW)
		if err == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			// Kept, with what lower layers put in it.
		} else {
			if err == nil {
				if err := removeAt(pfd, base); err != nil {
					return err
				}
			}
			if err := unix.Mkdirat(pfd, base, 0o755); err != nil {
				return &os.PathError{Op: "mkdirat", Path: rel, Err: err}
			}
		}
		x.dirs = append(x.dirs, dirMeta{rel: rel, mode: mode, uid: hdr.Uid, gid: hdr.Gid, mtime: hdr.ModTime})
		return nil

	case tar.TypeReg, tar.TypeGNUSparse: // the reader expands a sparse file's holes
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return &os.PathError{Op: "openat", Path: rel, Err: err}
		}
		f := os.NewFile(uintptr(fd), rel)
		defer f.Close()
		if _, err := io.Copy(f, r); err != nil {
			return err
		}
		if x.asRoot {
			if err := f.Chown(hdr.Uid, hdr.Gid); err != nil {
				return err
			}
		}
		if err := f.Chmod(mode); err != nil { // after chown, which clears set-id bits
			return err
		}
		if err := futimens(fd, hdr.ModTime); err != nil {
			return &os.PathError{Op: "futimens", Path: rel, Err: err}
		}
		return f.Close()

	case tar.TypeSymlink:
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		// The link's text is stored as it is: it is never followed while
		// extracting (lookups stay inside the root).
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return &os.PathError{Op: "symlinkat", Path: rel, Err: err}
		}

	case tar.TypeLink:
		return x.hardlink(hdr.Linkname, rel, pfd, base)

	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if hdr.Typeflag != tar.TypeFifo && !x.opts.AllowDevices && (hdr.Typeflag != tar.TypeChar || hdr.Devmajor != 0 || hdr.Devminor != 0) {
			return fmt.Errorf("device node %d:%d refused (ExtractOptions.AllowDevices allows it)", hdr.Devmajor, hdr.Devminor)
		}
		if err := removeAt(pfd, base); err != nil {
			return err
		}
		kind := map[byte]uint32{tar.TypeChar: unix.S_IFCHR, tar.TypeBlock: unix.S_IFBLK, tar.TypeFifo: unix.S_IFIFO}[hdr.Typeflag]
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		err := unix.Mknodat(pfd, base, kind|0o600, int(dev))
		if errors.Is(err, unix.EPERM) && !x.asRoot && hdr.Typeflag != tar.TypeFifo {
			return nil // only root makes device nodes; an unprivileged import goes without
		}
		if err != nil {
			return &os.PathError{Op: "mknodat", Path: rel, Err: err}
		}

	default:
		return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
	}
	return x.setMetaAt(pfd, base, rel, hdr.Typeflag == tar.TypeSymlink, mode, hdr.Uid, hdr.Gid, hdr.ModTime)
}

// hardlink links base in the directory pfd to the member linkname, found
// inside the root without following its last component: a link to a
// symlink links the symlink, never what it points at.
func (x *extractor) hardlink(linkname, rel string, pfd int, base string) error {
	srcRel, err := memberPath(linkname)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", linkname, err)
	}
	if srcRel == "" {
		return fmt.Errorf("hard link to the root directory (%q)", linkname)
	}
	srcDirRel, srcBase := path.Split(srcRel)
	srcDir, release, err := x.openDir(srcDirRel, false)
	if err != nil {
		return fmt.Errorf("hard link to %q: %w", linkname, err)
	}
	defer release()
	sfd := int(srcDir.Fd())
	var src, dst unix.Stat_t
	if err := unix.Fstatat(sfd, srcBase, &src, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("hard link to %q: %w", linkname, err)
	}
	if src.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("hard link to directory %q", linkname)
	}
	if err := unix.Fstatat(pfd, base, &dst, unix.AT_SYMLINK_NOFOLLOW); err == nil && dst.Dev == src.Dev && dst.Ino == src.Ino {
		return nil // already that file
	}
	if err := removeAt(pfd, base); err != nil {
		return err
	}
	if err := unix.Linkat(sfd, srcBase, pfd, base, 0); err != nil {
		return &os.PathError{Op: "linkat", Path: rel, Err: fmt.Errorf("hard link to %q: %w", linkname, err)}
	}
	return nil // the inode keeps its own metadata
}

// setMetaAt sets the ownership (as root), mode (not on symlinks) and mtime
// of base in the directory dirfd, never following a symlink. Mode comes
// after chown, which clears set-id bits.
func (x *extractor) setMetaAt(dirfd int, base, rel string, symlink bool, mode fs.FileMode, uid, gid int, mtime time.Time) error {
	if x.asRoot {
		if err := unix.Fchownat(dirfd, base, uid, gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return &os.PathError{Op: "fchownat", Path: rel, Err: err}
		}
	}
	if !symlink {
		if err := fchmodatNoFollow(dirfd, base, unixMode(mode)); err != nil {
			return &os.PathError{Op: "fchmodat", Path: rel, Err: err}
		}
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dirfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: rel, Err: err}
	}
	return nil
}

// whiteout applies an OCI whiteout member: ".wh.NAME" deletes NAME from
// the lower layers, ".wh..wh..opq" empties its directory of what lower
// layers put there. A whiteout naming nothing, "." or ".." is refused.
func (x *extractor) whiteout(rel string) error {
	dirRel, base := path.Split(rel)
	dirRel = strings.TrimSuffix(dirRel, "/")
	if base == whiteoutOpaque {
		return x.opaque(dirRel)
	}
	if strings.HasPrefix(base, whiteoutMeta) {
		return nil // other aufs metadata (.wh..wh.plnk, ...): nothing to apply
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("whiteout %q names no file in its directory: refused", base)
	}
	if x.written[path.Join(dirRel, name)] {
		return nil // the same layer adds it back: the whiteout is for the lower one
	}
	dir, release, err := x.openDir(dirRel, false)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil // nothing there to delete
	}
	if err != nil {
		return err
	}
	defer release()
	return removeAt(int(dir.Fd()), name)
}

// opaque removes from dirRel what the current layer did not write.
func (x *extractor) opaque(dirRel string) error {
	dir, release, err := x.openDir(dirRel, false)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return err
	}
	defer release()
	rfd, err := unix.Openat(int(dir.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("read directory %q: %w", dirRel, err)
	}
	names, err := readDirNames(rfd)
	unix.Close(rfd)
	if err != nil {
		return fmt.Errorf("read directory %q: %w", dirRel, err)
	}
	for _, n := range names {
		if !x.written[path.Join(dirRel, n)] {
			if err := removeAt(int(dir.Fd()), n); err != nil {
				return err
			}
		}
	}
	return nil
}

// markWritten records rel and its parents as written by the current layer
// and returns how many of them were new.
func (x *extractor) markWritten(rel string) int64 {
	var n int64
	for rel != "" && rel != "." && !x.written[rel] {
		x.written[rel] = true
		n++
		rel = path.Dir(rel)
	}
	return max(n, 1)
}

// finish applies the directories' metadata, the last layer's word winning,
// deepest first. A directory that is no longer one, or is now reached
// through a symlink, is skipped.
func (x *extractor) finish() error {
	last := map[string]dirMeta{}
	for _, d := range x.dirs {
		last[d.rel] = d
	}
	rels := make([]string, 0, len(last))
	for rel := range last {
		rels = append(rels, rel)
	}
	depth := func(rel string) int {
		if rel == "" {
			return -1
		}
		return strings.Count(rel, "/")
	}
	sort.Slice(rels, func(i, j int) bool {
		if di, dj := depth(rels[i]), depth(rels[j]); di != dj {
			return di > dj
		}
		return rels[i] < rels[j]
	})
	for _, rel := range rels {
		d := last[rel]
		f, err := x.openNoFollow(rel)
		if err != nil {
			continue
		}
		err = x.setMetaFd(f, d)
		f.Close()
		if err != nil {
			return &extractError{member: rel + "/", atMember: true, err: err}
		}
	}
	x.dirs = nil
	return nil
}

// openNoFollow opens the directory rel under the root component by
// component, failing on any symlink on the way.
func (x *extractor) openNoFollow(rel string) (*os.File, error) {
	fd, err := unix.Dup(int(x.root.Fd()))
	if err != nil {
		return nil, err
	}
	if rel != "" {
		for _, c := range strings.Split(rel, "/") {
			next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
			unix.Close(fd)
			if err != nil {
				return nil, err
			}
			fd = next
		}
	}
	return os.NewFile(uintptr(fd), rel), nil
}

// setMetaFd sets a directory's ownership (as root), mode and mtime.
func (x *extractor) setMetaFd(f *os.File, d dirMeta) error {
	if x.asRoot {
		if err := f.Chown(d.uid, d.gid); err != nil {
			return err
		}
	}
	if err := f.Chmod(d.mode); err != nil {
		return err
	}
	if err := futimens(int(f.Fd()), d.mtime); err != nil {
		return &os.PathError{Op: "futimens", Path: d.rel, Err: err}
	}
	return nil
}
