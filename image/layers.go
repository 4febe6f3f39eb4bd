package image

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// layerInfo is layers/HEX/layer.json: one unpacked layer, a snapshot
// keyed by its chain ID as containerd keys them.
type layerInfo struct {
	ChainID string `json:"chainID"`
	DiffID  string `json:"diffID"`           // digest of the layer's uncompressed tar
	Parent  string `json:"parent,omitempty"` // chain ID of the layer below
	Size    int64  `json:"size"`             // bytes on disk of this layer alone
}

func (s *Store) readLayer(chain string) (*layerInfo, error) {
	data, err := os.ReadFile(filepath.Join(s.layerDir(chain), "layer.json"))
	if err != nil {
		return nil, err
	}
	var l layerInfo
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, fmt.Errorf("layer %s: %w", chain, err)
	}
	return &l, nil
}

// chainIDs turns a bottom-first list of DiffIDs into chain IDs (OCI image
// spec): the first is its DiffID, each next one the digest of "PARENT DIFFID".
func chainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		h := sha256.Sum256([]byte(out[i-1] + " " + d))
		out[i] = "sha256:" + hex.EncodeToString(h[:])
	}
	return out
}

// layerSource is one layer to unpack: its chain ID and DiffID when known
// beforehand (both empty for a root filesystem, whose digest is learnt by
// reading it), its parent's chain ID and the layers under it (directories,
// topmost first), and how to open its uncompressed tar stream.
type layerSource struct {
	chain, diffID string
	parent        string
	lowers        []string
	name          string // for errors when the DiffID is not known: "#0"
	open          func() (io.ReadCloser, error)
}

// ensureLayer unpacks a layer into layers/HEX unless it is there already,
// and returns its chain ID. One process unpacks a given layer at a time
// (flock on locks/HEX): a second pull of the same layer waits, then finds
// it made, so each layer is fetched once. A layer above others is applied
// through an overlay mount of those below, as containerd's overlay
// snapshotter applies a diff: the kernel turns the layer's deletions into
// overlay whiteouts in the new directory and copies a lower file up when
// the layer hard-links to it. The layer is built under tmp/ and renamed
// into place once flushed to disk, so a crash at any point leaves either
// no layer or a whole one.
//
// budget carries the extraction limits' counts from one layer of an
// import to the next.
func (s *Store) ensureLayer(ctx context.Context, src layerSource, budget *extractor) (string, error) {
	if src.chain != "" {
		if _, err := s.readLayer(src.chain); err == nil {
			return src.chain, nil
		}
		unlock, err := flockFile(ctx, filepath.Join(s.root, "locks", strings.TrimPrefix(src.chain, "sha256:")), unix.LOCK_EX)
		if err != nil {
			return "", err
		}
		defer unlock()
		if _, err := s.readLayer(src.chain); err == nil {
			return src.chain, nil // made by another pull meanwhile
		}
	}
	work, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		return "", err
	}
	defer removeWork(work)
	upper := filepath.Join(work, "fs")
	if err := os.Mkdir(upper, 0o755); err != nil {
		return "", err
	}
	target := upper
	if len(src.lowers) > 0 {
		if target, err = mountOverlay(work, src.lowers, upper); err != nil {
			return "", fmt.Errorf("unpack layer %s: %w", src.label(), err)
		}
	}
	digest, err := s.extractLayer(ctx, src, target, budget)
	if len(src.lowers) > 0 {
		if uerr := unix.Unmount(target, 0); uerr != nil {
			err = errors.Join(err, &os.PathError{Op: "umount", Path: target, Err: uerr})
		}
	}
	if err != nil {
		return "", err
	}
	if src.diffID != "" && digest != src.diffID {
		return "", fmt.Errorf("layer %s: its uncompressed content has digest %s", src.diffID, digest)
	}
	chain := src.chain
	if chain == "" {
		chain = digest // a root filesystem: one layer, chain ID = DiffID
		unlock, err := flockFile(ctx, filepath.Join(s.root, "locks", strings.TrimPrefix(chain, "sha256:")), unix.LOCK_EX)
		if err != nil {
			return "", err
		}
		defer unlock()
		if _, err := s.readLayer(chain); err == nil {
			return chain, nil // the same content is there: keep it, drop ours
		}
	}
	size, err := diskUsage(upper)
	if err != nil {
		return "", err
	}
	info, err := json.MarshalIndent(layerInfo{ChainID: chain, DiffID: digest, Parent: src.parent, Size: size}, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(work, "layer.json"), info, 0o644); err != nil {
		return "", err
	}
	for _, d := range []string{"work", "mnt"} {
		if err := removeAll(filepath.Join(work, d)); err != nil {
			return "", err
		}
	}
	// Everything on disk before the layer becomes visible.
	if err := syncfs(work); err != nil {
		return "", err
	}
	if err := os.Rename(work, s.layerDir(chain)); err != nil {
		return "", err
	}
	return chain, nil
}

func (src layerSource) label() string {
	if src.diffID != "" {
		return src.diffID
	}
	return src.name
}

// extractLayer applies the layer's tar stream onto target and returns the
// stream's digest. An error names the layer by its DiffID.
func (s *Store) extractLayer(ctx context.Context, src layerSource, target string, budget *extractor) (string, error) {
	// A root filesystem tarball (no DiffID) has no whiteouts: its 0:0
	// character devices are kept as they are.
	x, err := newExtractor(target, src.diffID != "", budget.opts)
	if err != nil {
		return "", err
	}
	defer x.close()
	x.read, x.content, x.entries = budget.read, budget.content, budget.entries
	rc, err := src.open()
	if err != nil {
		return "", fmt.Errorf("open layer %s: %w", src.label(), err)
	}
	defer rc.Close()
	h := sha256.New()
	err = x.apply(ctx, io.TeeReader(rc, h))
	if err == nil {
		err = x.finish()
	}
	budget.read, budget.content, budget.entries = x.read, x.content, x.entries
	if err != nil {
		var xe *extractError
		if src.diffID != "" && errors.As(err, &xe) {
			xe.layer = src.diffID
			return "", err
		}
		if src.diffID != "" {
			return "", fmt.Errorf("extract layer %q: %w", src.diffID, err)
		}
		return "", err
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

// mountOverlay mounts lowers (topmost first) under upper at work/mnt.
// Equivalent to: `mount -t overlay overlay -o lowerdir=L1:L2,upperdir=U,workdir=W work/mnt`.
func mountOverlay(work string, lowers []string, upper string) (string, error) {
	mnt, wd := filepath.Join(work, "mnt"), filepath.Join(work, "work")
	for _, d := range []string{mnt, wd} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return "", err
		}
	}
	opts := "lowerdir=" + strings.Join(lowers, ":")
	if upper != "" {
		opts += ",upperdir=" + upper + ",workdir=" + wd
	}
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		if errors.Is(err, unix.EPERM) {
			return "", fmt.Errorf("mount overlay on %s: %w (layers above the first are applied through an overlay mount, which needs root)", mnt, err)
		}
		return "", fmt.Errorf("mount overlay on %s (%d lower layers): %w", mnt, len(lowers), err)
	}
	return mnt, nil
}

// removeWork unmounts what a tmp/ entry may have mounted and removes it.
func removeWork(work string) error {
	if err := unix.Unmount(filepath.Join(work, "mnt"), unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return &os.PathError{Op: "umount", Path: filepath.Join(work, "mnt"), Err: err}
	}
	return removeAll(work)
}

// View returns a directory that shows img's root filesystem, read-only:
// the layer itself for an image of one layer, else a read-only overlay of
// its layers, which release unmounts. The store keeps the layers while
// the view is open.
func (s *Store) View(ctx context.Context, img *Image) (dir string, release func(), err error) {
	if len(img.LayerDirs) == 0 {
		return "", nil, fmt.Errorf("view image %q: it has no layers", img.Name)
	}
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return "", nil, fmt.Errorf("view image %q: %w", img.Name, err)
	}
	if len(img.LayerDirs) == 1 {
		return img.LayerDirs[0], unlock, nil
	}
	work, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "view-")
	if err != nil {
		unlock()
		return "", nil, fmt.Errorf("view image %q: %w", img.Name, err)
	}
	mnt, err := mountOverlay(work, img.LayerDirs, "")
	if err != nil {
		removeWork(work)
		unlock()
		return "", nil, fmt.Errorf("view image %q: %w", img.Name, err)
	}
	return mnt, func() { removeWork(work); unlock() }, nil
}

// collect removes what no image and no lease uses: layers, and what a
// crashed import or pull left in tmp/. It needs the store alone: with
// wait false it gives up when an import or pull runs (the next
// collection does the work).
func (s *Store) collect(wait bool) error {
	var ctx context.Context
	if wait {
		ctx = context.Background()
	}
	unlock, err := s.lockExclusive(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	var errs []error
	if entries, err := os.ReadDir(filepath.Join(s.root, "tmp")); err == nil {
		for _, e := range entries {
			errs = append(errs, removeWork(filepath.Join(s.root, "tmp", e.Name())))
		}
	}
	used, err := s.usedLayers()
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	layers, err := os.ReadDir(filepath.Join(s.root, "layers"))
	if err != nil {
		return errors.Join(append(errs, err)...)
	}
	for _, e := range layers {
		if !used["sha256:"+e.Name()] {
			errs = append(errs, removeAll(filepath.Join(s.root, "layers", e.Name())))
		}
	}
	if locks, err := os.ReadDir(filepath.Join(s.root, "locks")); err == nil {
		for _, e := range locks {
			if !used["sha256:"+e.Name()] {
				os.Remove(filepath.Join(s.root, "locks", e.Name()))
			}
		}
	}
	return errors.Join(errs...)
}

// usedLayers are the chain IDs some image or lease holds.
func (s *Store) usedLayers() (map[string]bool, error) {
	used := map[string]bool{}
	imgs, err := s.List()
	if err != nil {
		return nil, err
	}
	for _, img := range imgs {
		for _, l := range img.Layers {
			used[l] = true
		}
	}
	leases, err := s.leases()
	if err != nil {
		return nil, err
	}
	for _, l := range leases {
		for _, c := range l.Layers {
			used[c] = true
		}
	}
	return used, nil
}

// Prune removes the layers no image and no pod uses, and what interrupted
// imports and pulls left, waiting for running ones to end. Import, pull
// and Remove prune too when the store is idle.
//
// Equivalent to: `podman image prune` of the layers alone.
func (s *Store) Prune(ctx context.Context) error {
	unlock, err := s.lockShared(ctx) // waits for nothing, but honours ctx on a busy store
	if err != nil {
		return fmt.Errorf("prune image store: %w", err)
	}
	unlock()
	if err := s.collect(true); err != nil {
		return fmt.Errorf("prune image store: %w", err)
	}
	return nil
}

// migrate converts a store of the older layout (names/NAME symlinks to
// content/DIR holding image.json and a flat rootfs/) into images of one
// layer each, moving the directories (no copy).
func (s *Store) migrate() error {
	unlock, err := s.lockExclusive(context.Background())
	if err != nil {
		return err
	}
	defer unlock()
	names, err := os.ReadDir(filepath.Join(s.root, "names"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	for _, e := range names {
		entry := filepath.Join(s.root, "names", e.Name())
		target, err := os.Readlink(entry)
		if err != nil {
			continue // a half-renamed symlink of a crashed import
		}
		dir := filepath.Join(s.root, "content", filepath.Base(target))
		data, err := os.ReadFile(filepath.Join(dir, "image.json"))
		if err != nil {
			continue
		}
		var img Image
		if err := json.Unmarshal(data, &img); err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, "image.json"), err)
		}
		// The flat root filesystem has no DiffID: key it by its old ID
		// and directory, which no real layer's chain ID can equal.
		h := sha256.Sum256([]byte("podbox v1 image " + img.ID + " " + filepath.Base(target)))
		chain := "sha256:" + hex.EncodeToString(h[:])
		ld := s.layerDir(chain)
		if _, err := os.Stat(ld); err != nil {
			if err := os.Mkdir(ld, 0o700); err != nil {
				return err
			}
			info, _ := json.Marshal(layerInfo{ChainID: chain, DiffID: img.ID, Size: img.Size})
			if err := os.WriteFile(filepath.Join(ld, "layer.json"), info, 0o644); err != nil {
				return err
			}
			if err := os.Rename(filepath.Join(dir, "rootfs"), filepath.Join(ld, "fs")); err != nil {
				return err
			}
		}
		img.Layers = []string{chain}
		rec, _ := json.MarshalIndent(&img, "", "  ")
		if err := writeFileAtomic(s.namePath(img.Name), rec); err != nil {
			return err
		}
	}
	for _, d := range []string{"content", "names"} {
		if err := removeAll(filepath.Join(s.root, d)); err != nil {
			return err
		}
	}
	return nil
}
