package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/atomicfile"
)

// DefaultRoot is where podbox keeps its images unless told otherwise.
const DefaultRoot = "/var/lib/podbox/images"

// Store is a local image store under one root directory. Its methods are
// safe for concurrent use, also by several processes.
type Store struct {
	root string
}

// Image is an image in the store.
type Image struct {
	Name    string    `json:"name"`             // normalized, such as "busybox:latest" or "app@sha256:..."
	ID      string    `json:"id"`               // "sha256:HEX": the config digest (OCI, docker) or the digest of the root filesystem's tar stream
	Digest  string    `json:"digest,omitempty"` // the manifest's digest, when the image came with a manifest (pulled, OCI, docker archive)
	Repo    string    `json:"repo,omitempty"`   // the registry repository it was pulled from ("docker.io/library/busybox")
	Created time.Time `json:"created"`          // when it was first imported or pulled (the same ID again keeps it)
	Size    int64     `json:"size"`             // bytes on disk of its layers (allocated blocks, hard links counted once)
	Config  Config    `json:"config"`           // from the image config; empty for a root filesystem
	// Layers are the chain IDs of the image's layers, bottom first: each
	// is unpacked once under layers/ and shared by every image that has it.
	Layers []string `json:"layers"`
	// LayerDirs are the layers' directories, topmost first: the lowerdir
	// list of an overlay mount. Use them read-only.
	LayerDirs []string `json:"-"`
	// Rootfs is the root filesystem directory of an image of one layer
	// (a root filesystem import, most single-layer images); empty for an
	// image of several layers, which exists only as LayerDirs stacked.
	Rootfs string `json:"-"`
}

// ImageRef is the image as the kubelet reports a container's imageID:
// repository@digest, the manifest's digest when there is one, else the ID.
func (img *Image) ImageRef() string {
	repo, _, _ := SplitName(img.Name)
	if img.Repo != "" {
		repo = img.Repo
	}
	if img.Digest != "" {
		return repo + "@" + img.Digest
	}
	return repo + "@" + img.ID
}

// Config is what podbox uses of an OCI or docker image config.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
}

// Open opens the store under root, creating its directories if needed. A
// store written by podbox before layers were shared (a names/ directory of
// symlinks into content/) is converted in place: each image becomes an
// image of one layer.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open image store %q: %w", root, err)
	}
	if strings.Contains(abs, ":") {
		return nil, fmt.Errorf("open image store %q: a path with \":\" can not be an overlay lower directory", root)
	}
	for _, d := range []struct {
		name string
		mode fs.FileMode
	}{{"", 0o755}, {"images", 0o755}, {"layers", 0o700}, {"leases", 0o700}, {"locks", 0o700}, {"tmp", 0o700}} {
		if err := os.MkdirAll(filepath.Join(abs, d.name), d.mode); err != nil {
			return nil, fmt.Errorf("open image store %q: %w", root, err)
		}
	}
	s := &Store{root: abs}
	if _, err := os.Stat(filepath.Join(abs, "names")); err == nil {
		if err := s.migrate(); err != nil {
			return nil, fmt.Errorf("open image store %q: convert the store of an older podbox (move %s aside to start afresh): %w", root, filepath.Join(abs, "names"), err)
		}
	}
	return s, nil
}

// Root returns the store's root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) namePath(normalized string) string {
	return filepath.Join(s.root, "images", url.PathEscape(normalized))
}

func (s *Store) layerDir(chain string) string {
	return filepath.Join(s.root, "layers", strings.TrimPrefix(chain, "sha256:"))
}

type notFoundError struct{ name string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("image %q not found in the store", e.name)
}

func (e *notFoundError) Is(target error) bool {
	return target == ErrNotFound || target == errdefs.ErrNotFound
}

// Get returns the image called name ("busybox" is "busybox:latest"). A
// missing image gives an error wrapping ErrNotFound.
func (s *Store) Get(name string) (*Image, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	img, err := s.load(s.namePath(n))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &notFoundError{n}
	}
	if err != nil {
		return nil, fmt.Errorf("get image %q: %w", n, err)
	}
	return img, nil
}

// load reads an images/ record.
func (s *Store) load(entry string) (*Image, error) {
	data, err := os.ReadFile(entry)
	if err != nil {
		return nil, err
	}
	var img Image
	if err := json.Unmarshal(data, &img); err != nil {
		return nil, fmt.Errorf("%s: %w", entry, err)
	}
	s.fillDirs(&img)
	return &img, nil
}

func (s *Store) fillDirs(img *Image) {
	img.LayerDirs = make([]string, len(img.Layers))
	for i, c := range img.Layers {
		img.LayerDirs[len(img.Layers)-1-i] = filepath.Join(s.layerDir(c), "fs")
	}
	img.Rootfs = ""
	if len(img.LayerDirs) == 1 {
		img.Rootfs = img.LayerDirs[0]
	}
}

// List returns the images in the store, sorted by name.
func (s *Store) List() ([]*Image, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "images"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []*Image
	for _, e := range entries {
		if e.Name()[0] == '.' {
			continue // a record being written
		}
		img, err := s.load(filepath.Join(s.root, "images", e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // removed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("list images: %w", err)
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Import stores source as name (NAME[:TAG], tag "latest" by default),
// replacing an image of that name atomically. Source is a root filesystem
// directory, a root filesystem tarball (plain or gzip), an OCI image layout
// (directory or tar) or a `docker save` archive. From an archive of several
// images, the one tagged name is taken. Layers already in the store are
// not unpacked again. A failed import leaves no image behind.
//
// Extraction never writes outside the layer's directory and refuses
// what could (see the package documentation); ImportWith sets its limits
// and allows device nodes.
//
// Equivalent to: `docker load -i SOURCE && docker tag ... NAME` or
// `docker import SOURCE NAME` for a root filesystem.
func (s *Store) Import(ctx context.Context, name, source string) (*Image, error) {
	return s.ImportWith(ctx, name, source, ExtractOptions{})
}

// ImportWith is Import with extraction options: limits other than the
// defaults, device nodes allowed.
func (s *Store) ImportWith(ctx context.Context, name, source string, opts ExtractOptions) (img *Image, retErr error) {
	n, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = fmt.Errorf("import %q from %q: %w", n, source, retErr)
		}
	}()
	kind, err := detect(source, opts)
	if err != nil {
		return nil, err
	}
	if kind == kindRootfsDir && s.within(source) {
		return nil, fmt.Errorf("source directory holds the image store %q", s.root)
	}
	img, err = s.importLocked(ctx, kind, source, n, opts)
	if err != nil {
		return nil, err
	}
	s.collect(false) // what the old image of that name alone held
	return img, nil
}

func (s *Store) importLocked(ctx context.Context, kind sourceKind, source, n string, opts ExtractOptions) (*Image, error) {
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	work, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "import-")
	if err != nil {
		return nil, err
	}
	defer removeAll(work)
	img, err := s.unpack(ctx, kind, source, work, n, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	img.Name = n
	if err := s.commit(img); err != nil {
		return nil, err
	}
	return img, nil
}

// commit sizes img from its layers and points its name at it by renaming
// a new record over the old one: readers see the old image or the new one.
// Layers the old image alone held go at the next collection. The caller
// holds the store's lock shared.
func (s *Store) commit(img *Image) error {
	img.Created = time.Now().UTC()
	// The same image stored again keeps its age, as docker load does.
	if prev, err := s.load(s.namePath(img.Name)); err == nil && prev.ID == img.ID {
		img.Created = prev.Created
	}
	img.Size = 0
	for _, c := range img.Layers {
		l, err := s.readLayer(c)
		if err != nil {
			return fmt.Errorf("layer %s: %w", c, err)
		}
		img.Size += l.Size
	}
	data, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(s.namePath(img.Name), data); err != nil {
		return err
	}
	s.fillDirs(img)
	return nil
}

// writeFileAtomic writes p through a temporary file, flushed, renamed over
// p: a crash leaves the old content or the new, never a part.
func writeFileAtomic(p string, data []byte) error { return atomicfile.Write(p, data, 0o644) }

// Remove deletes the name of an image and, once no other image or pod
// uses them, its layers. An image a pod holds a lease on (see Lease) is
// refused with an error wrapping ErrInUse that names the pods; Untag
// removes the name anyway. A missing image gives an error wrapping
// ErrNotFound.
func (s *Store) Remove(name string) error { return s.remove(name, false) }

// Untag deletes the name of an image even when pods use it; its layers
// stay until no image and no pod uses them.
func (s *Store) Untag(name string) error { return s.remove(name, true) }

func (s *Store) remove(name string, force bool) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	img, err := s.Get(n)
	if err != nil {
		return err
	}
	if !force {
		if users, err := s.Users(img); err != nil {
			return fmt.Errorf("remove image %q: %w", n, err)
		} else if len(users) > 0 {
			return fmt.Errorf("remove image %q: %w by pod %s", n, ErrInUse, strings.Join(users, ", "))
		}
	}
	if err := os.Remove(s.namePath(n)); errors.Is(err, fs.ErrNotExist) {
		return &notFoundError{n}
	} else if err != nil {
		return fmt.Errorf("remove image %q: %w", n, err)
	}
	s.collect(true)
	return nil
}

// lockShared takes the store's lock shared, as every import and pull
// does (they may run at once); lockExclusive takes it alone, as a
// collection does. Both wait as long as ctx lets.
// Equivalent to: `flock -s ROOT/lock` and `flock ROOT/lock`.
func (s *Store) lockShared(ctx context.Context) (func(), error) {
	return flockFile(ctx, filepath.Join(s.root, "lock"), unix.LOCK_SH)
}

func (s *Store) lockExclusive(ctx context.Context) (func(), error) {
	return flockFile(ctx, filepath.Join(s.root, "lock"), unix.LOCK_EX)
}

// flockFile takes a flock(2) on p, polling so that ctx can end the wait;
// a nil ctx tries once.
func flockFile(ctx context.Context, p string, how int) (unlock func(), err error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", p, err)
	}
	for {
		err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, err)
		}
		if ctx == nil {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, errBusy)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", p, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var errBusy = errors.New("held by another process")

// diskUsage sums the blocks allocated under dir, counting each inode once.
// Equivalent to: `du -s -B1 dir`.
func diskUsage(dir string) (int64, error) {
	type inode struct{ dev, ino uint64 }
	seen := map[inode]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			total += fi.Size()
			return nil
		}
		key := inode{uint64(st.Dev), st.Ino}
		if !seen[key] {
			seen[key] = true
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}

// within reports whether the store's root lies inside dir.
func (s *Store) within(dir string) bool {
	d, err1 := filepath.EvalSymlinks(dir)
	r, err2 := filepath.EvalSymlinks(s.root)
	if err1 != nil || err2 != nil {
		return false
	}
	rel, err := filepath.Rel(d, r)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// removeAll is os.RemoveAll that also gets through directories without
// write permission (an unprivileged store may hold a 0555 directory). It
// is for the store's own paths; the extractor removes with removeAt.
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

// syncfs flushes the filesystem that holds p. Equivalent to: `sync -f p`.
func syncfs(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return &os.PathError{Op: "syncfs", Path: p, Err: err}
	}
	return nil
}
