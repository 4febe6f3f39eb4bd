package image

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	Name    string    `json:"name"`    // normalized, such as "busybox:latest"
	ID      string    `json:"id"`      // "sha256:HEX": the config digest (OCI, docker) or the digest of the root filesystem's tar stream
	Rootfs  string    `json:"-"`       // absolute path of the root filesystem directory; use it read-only
	Created time.Time `json:"created"` // when it was first imported (importing the same ID again keeps it)
	Size    int64     `json:"size"`    // bytes on disk (allocated blocks, hard links counted once)
	Config  Config    `json:"config"`  // from the image config; empty for a root filesystem
}

// Config is what podbox uses of an OCI or docker image config.
type Config struct {
	Entrypoint []string `json:"entrypoint,omitempty"`
	Cmd        []string `json:"cmd,omitempty"`
	Env        []string `json:"env,omitempty"`
	WorkingDir string   `json:"workingDir,omitempty"`
	User       string   `json:"user,omitempty"`
}

// Open opens the store under root, creating its directories if needed.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("open image store %q: %w", root, err)
	}
	for _, d := range []struct {
		name string
		mode fs.FileMode
	}{{"", 0o755}, {"names", 0o755}, {"content", 0o700}, {"tmp", 0o700}} {
		if err := os.MkdirAll(filepath.Join(abs, d.name), d.mode); err != nil {
			return nil, fmt.Errorf("open image store %q: %w", root, err)
		}
	}
	return &Store{root: abs}, nil
}

// Root returns the store's root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) namePath(normalized string) string {
	return filepath.Join(s.root, "names", url.PathEscape(normalized))
}

type notFoundError struct{ name string }

func (e *notFoundError) Error() string {
	return fmt.Sprintf("image %q not found: import it with \"podbox image import %s SOURCE\"", e.name, e.name)
}

func (e *notFoundError) Is(target error) bool { return target == ErrNotFound }

// Get returns the image called name ("busybox" is "busybox:latest"). A
// missing image gives an error wrapping ErrNotFound that says how to
// import it.
func (s *Store) Get(name string) (*Image, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	// A concurrent replace may remove the content between the readlink and
	// the read: look again.
	for try := 0; ; try++ {
		img, err := s.load(s.namePath(n))
		if errors.Is(err, fs.ErrNotExist) {
			if _, lerr := os.Lstat(s.namePath(n)); errors.Is(lerr, fs.ErrNotExist) {
				return nil, &notFoundError{n}
			}
			if try < 3 {
				continue
			}
		}
		if err != nil {
			return nil, fmt.Errorf("get image %q: %w", n, err)
		}
		return img, nil
	}
}

// load reads the image a names/ entry points at.
func (s *Store) load(entry string) (*Image, error) {
	target, err := os.Readlink(entry)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(filepath.Dir(entry), target)
	data, err := os.ReadFile(filepath.Join(dir, "image.json"))
	if err != nil {
		return nil, err
	}
	var img Image
	if err := json.Unmarshal(data, &img); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "image.json"), err)
	}
	img.Rootfs = filepath.Join(dir, "rootfs")
	return &img, nil
}

// List returns the images in the store, sorted by name.
func (s *Store) List() ([]*Image, error) {
	entries, err := os.ReadDir(filepath.Join(s.root, "names"))
	if err != nil {
		return nil, fmt.Errorf("list images: %w", err)
	}
	var out []*Image
	for _, e := range entries {
		if e.Name()[0] == '.' {
			continue // a symlink being renamed into place
		}
		img, err := s.load(filepath.Join(s.root, "names", e.Name()))
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
// images, the one tagged name is taken. A failed import leaves nothing
// behind.
//
// Extraction never writes outside the image's root filesystem and refuses
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
	unlock, err := s.lock(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s.collect()

	var rnd [8]byte
	rand.Read(rnd[:])
	id := hex.EncodeToString(rnd[:])
	work := filepath.Join(s.root, "tmp", id)
	if err := os.Mkdir(work, 0o700); err != nil {
		return nil, err
	}
	committed := false
	defer func() {
		if !committed {
			removeAll(work)
		}
	}()
	rootfs := filepath.Join(work, "rootfs")
	if err := os.Mkdir(rootfs, 0o755); err != nil {
		return nil, err
	}
	u, err := unpack(ctx, kind, source, rootfs, work, n, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	size, err := diskUsage(rootfs)
	if err != nil {
		return nil, err
	}
	img = &Image{Name: n, ID: u.id, Created: time.Now().UTC(), Size: size, Config: u.config}
	// The same image imported again keeps its age, as docker load does.
	if prev, err := s.load(s.namePath(n)); err == nil && prev.ID == img.ID {
		img.Created = prev.Created
	}
	data, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(work, "image.json"), data, 0o644); err != nil {
		return nil, err
	}
	// Everything on disk before the image becomes visible: a crash never
	// exposes a name whose files were still in the page cache.
	if err := syncfs(work); err != nil {
		return nil, err
	}
	content := filepath.Join(s.root, "content", id)
	if err := os.Rename(work, content); err != nil {
		return nil, err
	}
	committed = true
	entry := s.namePath(n)
	old, _ := os.Readlink(entry)
	if err := s.link(entry, filepath.Join("..", "content", id)); err != nil {
		removeAll(content)
		return nil, err
	}
	if old != "" && filepath.Base(old) != id {
		removeAll(filepath.Join(s.root, "content", filepath.Base(old)))
	}
	img.Rootfs = filepath.Join(content, "rootfs")
	return img, nil
}

// link points entry at target by renaming a new symlink over it.
func (s *Store) link(entry, target string) error {
	tmp := filepath.Join(filepath.Dir(entry), ".new")
	os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, entry); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

// Remove deletes the image called name. A missing image gives an error
// wrapping ErrNotFound.
func (s *Store) Remove(name string) error {
	n, err := NormalizeName(name)
	if err != nil {
		return err
	}
	unlock, err := s.lock(context.Background())
	if err != nil {
		return fmt.Errorf("remove image %q: %w", n, err)
	}
	defer unlock()
	entry := s.namePath(n)
	target, err := os.Readlink(entry)
	if errors.Is(err, fs.ErrNotExist) {
		return &notFoundError{n}
	}
	if err != nil {
		return fmt.Errorf("remove image %q: %w", n, err)
	}
	if err := os.Remove(entry); err != nil {
		return fmt.Errorf("remove image %q: %w", n, err)
	}
	if err := removeAll(filepath.Join(s.root, "content", filepath.Base(target))); err != nil {
		return fmt.Errorf("remove image %q: %w", n, err)
	}
	return nil
}

// lock takes the store's mutation lock, waiting for it as long as ctx lets.
// Equivalent to: `flock ROOT/lock`.
func (s *Store) lock(ctx context.Context) (unlock func(), err error) {
	f, err := os.OpenFile(filepath.Join(s.root, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock image store: %w", err)
	}
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock image store: %w", err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock image store: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// collect removes what a crashed mutation left: everything in tmp/ and the
// content directories no name points at. The caller holds the lock.
func (s *Store) collect() {
	if entries, err := os.ReadDir(filepath.Join(s.root, "tmp")); err == nil {
		for _, e := range entries {
			removeAll(filepath.Join(s.root, "tmp", e.Name()))
		}
	}
	used := map[string]bool{}
	names, err := os.ReadDir(filepath.Join(s.root, "names"))
	if err != nil {
		return
	}
	for _, e := range names {
		if t, err := os.Readlink(filepath.Join(s.root, "names", e.Name())); err == nil {
			used[filepath.Base(t)] = true
		}
	}
	content, _ := os.ReadDir(filepath.Join(s.root, "content"))
	for _, e := range content {
		if !used[e.Name()] {
			removeAll(filepath.Join(s.root, "content", e.Name()))
		}
	}
}

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
