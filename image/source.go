package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// sourceKind is what Import found at SOURCE.
type sourceKind int

const (
	kindRootfsDir sourceKind = iota // a root filesystem directory
	kindRootfsTar                   // a tar (maybe gzip) of a root filesystem
	kindOCIDir                      // an OCI image layout directory
	kindOCITar                      // a tar of an OCI image layout
	kindDockerTar                   // a `docker save` archive
)

func (k sourceKind) String() string {
	return [...]string{"root filesystem directory", "root filesystem tarball", "OCI image layout", "OCI image layout tarball", "docker save archive"}[k]
}

// detect tells the kind of source: by its type and, for a file, by its
// compression magic and the top-level names in the archive, which it reads
// within the limits of opts.
func detect(source string, opts ExtractOptions) (sourceKind, error) {
	opts = opts.withDefaults()
	fi, err := os.Stat(source)
	if err != nil {
		return 0, err
	}
	if fi.IsDir() {
		if isFile(filepath.Join(source, "oci-layout")) && isFile(filepath.Join(source, "index.json")) {
			return kindOCIDir, nil
		}
		return kindRootfsDir, nil
	}
	if !fi.Mode().IsRegular() {
		return 0, errors.New("neither a directory nor a file")
	}
	rc, err := openArchive(source)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	top := map[string]bool{}
	x := &extractor{opts: opts} // counts the bytes read
	tr := tar.NewReader(countingReader{rc, x})
	n := 0
	for ; ; n++ {
		if int64(n) >= opts.MaxEntries {
			return 0, fmt.Errorf("read tar archive: more than %d members (the limit of an import)", opts.MaxEntries)
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && n == 0 {
			return 0, fmt.Errorf("neither a directory nor a tar archive: %w", err)
		}
		if err != nil {
			return 0, fmt.Errorf("read tar archive: %w", err)
		}
		if rel, err := memberPath(hdr.Name); err == nil && !strings.Contains(rel, "/") {
			top[rel] = true
		}
	}
	switch {
	case n == 0:
		return 0, errors.New("empty archive")
	case top["manifest.json"]:
		return kindDockerTar, nil // docker 25+ also writes oci-layout: the manifest tells the tags
	case top["oci-layout"] && top["index.json"]:
		return kindOCITar, nil
	}
	return kindRootfsTar, nil
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// openArchive opens a tar file, decompressing it when it starts with the
// gzip magic. Other compressions are named in the error.
func openArchive(p string) (io.ReadCloser, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	magic, _ := br.Peek(6)
	for _, c := range []struct {
		magic []byte
		name  string
	}{{[]byte{0x28, 0xb5, 0x2f, 0xfd}, "zstd"}, {[]byte{0xfd, '7', 'z', 'X', 'Z', 0}, "xz"}, {[]byte("BZh"), "bzip2"}} {
		if bytes.HasPrefix(magic, c.magic) {
			f.Close()
			return nil, fmt.Errorf("compressed with %s: only plain and gzip-compressed tarballs are supported", c.name)
		}
	}
	if !bytes.HasPrefix(magic, []byte{0x1f, 0x8b}) {
		return readCloser{br, f}, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("gzip: %w", err)
	}
	return readCloser{zr, closers{zr, f}}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

type closers []io.Closer

func (cs closers) Close() error {
	var errs []error
	for _, c := range cs {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// unpacked is what an import puts in the store beside the root filesystem.
type unpacked struct {
	id     string
	config Config
}

// unpack lays out source (of the given kind) as the root filesystem rootfs,
// using work for scratch space. ref is the normalized name being imported,
// which picks the image out of an archive of several.
func unpack(ctx context.Context, kind sourceKind, source, rootfs, work, ref string, opts ExtractOptions) (*unpacked, error) {
	switch kind {
	case kindRootfsDir:
		return unpackDir(ctx, source, rootfs, opts)
	case kindRootfsTar:
		rc, err := openArchive(source)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return unpackTar(ctx, rc, rootfs, opts)
	case kindOCITar:
		dir := filepath.Join(work, "oci")
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		defer removeAll(dir)
		rc, err := openArchive(source)
		if err != nil {
			return nil, err
		}
		// The layout's own files: never devices, whatever opts say.
		layoutOpts := opts
		layoutOpts.AllowDevices = false
		_, err = unpackTar(ctx, rc, dir, layoutOpts)
		rc.Close()
		if err != nil {
			return nil, err
		}
		return unpackOCI(ctx, dir, rootfs, ref, opts)
	case kindOCIDir:
		return unpackOCI(ctx, source, rootfs, ref, opts)
	case kindDockerTar:
		return unpackDocker(ctx, source, rootfs, ref, opts)
	}
	return nil, fmt.Errorf("unknown source kind %d", kind)
}

// unpackTar extracts a root filesystem tar stream; the ID is the digest of
// the (uncompressed) stream.
func unpackTar(ctx context.Context, r io.Reader, rootfs string, opts ExtractOptions) (*unpacked, error) {
	x, err := newExtractor(rootfs, false, opts)
	if err != nil {
		return nil, err
	}
	defer x.close()
	h := sha256.New()
	if err := x.apply(ctx, io.TeeReader(r, h)); err != nil {
		return nil, err
	}
	if err := x.finish(); err != nil {
		return nil, err
	}
	return &unpacked{id: "sha256:" + hex.EncodeToString(h.Sum(nil))}, nil
}

// unpackDir copies a root filesystem directory by streaming it as a tar
// through the same extractor; the ID is the digest of that stream.
func unpackDir(ctx context.Context, src, rootfs string, opts ExtractOptions) (*unpacked, error) {
	src, err := filepath.EvalSymlinks(src)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeDirTar(ctx, pw, src))
	}()
	u, err := unpackTar(ctx, pr, rootfs, opts)
	pr.CloseWithError(errors.New("extraction stopped")) // unblocks the writer on failure
	<-done
	return u, err
}

// imageConfig is what Image.Config keeps of an OCI or docker image config.
func imageConfig(img v1.Image) (*unpacked, error) {
	digest, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	c := cf.Config
	return &unpacked{id: digest.String(), config: Config{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User,
	}}, nil
}

// applyLayers extracts img's layers in order, honouring whiteouts. An
// error names the layer by its DiffID (the digest of the uncompressed tar
// the extractor read).
func applyLayers(ctx context.Context, img v1.Image, rootfs string, opts ExtractOptions) (*unpacked, error) {
	u, err := imageConfig(img)
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	x, err := newExtractor(rootfs, true, opts)
	if err != nil {
		return nil, err
	}
	defer x.close()
	for i, l := range layers {
		if err := applyLayer(ctx, x, l); err != nil {
			name := fmt.Sprintf("#%d", i)
			if d, derr := l.DiffID(); derr == nil {
				name = d.String()
			}
			var xe *extractError
			if errors.As(err, &xe) {
				xe.layer = name
				return nil, err
			}
			return nil, fmt.Errorf("extract layer %q: %w", name, err)
		}
	}
	if err := x.finish(); err != nil {
		return nil, err
	}
	return u, nil
}

func applyLayer(ctx context.Context, x *extractor, l v1.Layer) error {
	rc, err := l.Uncompressed()
	if err != nil {
		return err
	}
	defer rc.Close()
	return x.apply(ctx, rc)
}

// sameRef reports whether two references name the same repository and tag
// ("busybox" and "docker.io/library/busybox:latest" do).
func sameRef(a, b string) bool {
	ta, errA := name.NewTag(a)
	tb, errB := name.NewTag(b)
	if errA == nil && errB == nil {
		return ta.Name() == tb.Name()
	}
	na, errA := NormalizeName(a)
	nb, errB := NormalizeName(b)
	return errA == nil && errB == nil && na == nb
}

func unpackDocker(ctx context.Context, source, rootfs, ref string, opts ExtractOptions) (*unpacked, error) {
	opener := func() (io.ReadCloser, error) { return openArchive(source) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return nil, fmt.Errorf("docker archive manifest: %w", err)
	}
	var tag *name.Tag
	var all []string
	for _, d := range m {
		for _, rt := range d.RepoTags {
			all = append(all, rt)
			if tag == nil && sameRef(rt, ref) {
				t, err := name.NewTag(rt)
				if err != nil {
					return nil, fmt.Errorf("docker archive tag %q: %w", rt, err)
				}
				tag = &t
			}
		}
	}
	if tag == nil && len(m) != 1 {
		return nil, fmt.Errorf("docker archive holds %d images and none is tagged %q (tags: %s)", len(m), ref, listOrNone(all))
	}
	img, err := tarball.Image(opener, tag)
	if err != nil {
		return nil, fmt.Errorf("docker archive: %w", err)
	}
	return applyLayers(ctx, img, rootfs, opts)
}

const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

func unpackOCI(ctx context.Context, dir, rootfs, ref string, opts ExtractOptions) (*unpacked, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout index: %w", err)
	}
	repo, _ := splitName(ref)
	var match []v1.Descriptor
	var all []string
	for _, d := range im.Manifests {
		var refs []string
		if v := d.Annotations[annotationImageName]; v != "" {
			refs = append(refs, v)
		}
		if v := d.Annotations[annotationRefName]; v != "" {
			all = append(all, v)
			if tagRE.MatchString(v) {
				refs = append(refs, repo+":"+v) // a bare tag, as `skopeo copy oci:dir:TAG` writes
			} else {
				refs = append(refs, v)
			}
		}
		for _, r := range refs {
			if sameRef(r, ref) {
				match = append(match, d)
				break
			}
		}
	}
	var d v1.Descriptor
	switch {
	case len(match) == 1:
		d = match[0]
	case len(match) == 0 && len(im.Manifests) == 1:
		d = im.Manifests[0]
	case len(match) == 0 && len(im.Manifests) == 0:
		return nil, errors.New("OCI layout holds no image")
	case len(match) == 0:
		if p, ok := pickPlatform(im.Manifests); ok {
			d = p // one image for several platforms, listed without an index
			break
		}
		return nil, fmt.Errorf("OCI layout holds %d images and none is named %q (ref names: %s)", len(im.Manifests), ref, listOrNone(all))
	default:
		return nil, fmt.Errorf("OCI layout holds %d images named %q", len(match), ref)
	}
	img, err := ociImage(idx, d)
	if err != nil {
		return nil, err
	}
	return applyLayers(ctx, img, rootfs, opts)
}

// ociImage resolves a descriptor to an image, descending into an index by
// this machine's platform.
func ociImage(idx v1.ImageIndex, d v1.Descriptor) (v1.Image, error) {
	for depth := 0; depth < 4; depth++ {
		switch {
		case d.MediaType.IsImage():
			return idx.Image(d.Digest)
		case d.MediaType.IsIndex():
			child, err := idx.ImageIndex(d.Digest)
			if err != nil {
				return nil, err
			}
			im, err := child.IndexManifest()
			if err != nil {
				return nil, err
			}
			p, ok := pickPlatform(im.Manifests)
			if !ok {
				return nil, fmt.Errorf("OCI index %s has no image for %s/%s", d.Digest, runtime.GOOS, runtime.GOARCH)
			}
			idx, d = child, p
		default:
			return nil, fmt.Errorf("OCI descriptor %s: unsupported media type %q", d.Digest, d.MediaType)
		}
	}
	return nil, errors.New("OCI indexes nested too deep")
}

// pickPlatform returns the only descriptor, or the one for this machine's
// OS and architecture.
func pickPlatform(ds []v1.Descriptor) (v1.Descriptor, bool) {
	if len(ds) == 1 {
		return ds[0], true
	}
	for _, d := range ds {
		if d.Platform != nil && d.Platform.OS == runtime.GOOS && d.Platform.Architecture == runtime.GOARCH {
			return d, true
		}
	}
	return v1.Descriptor{}, false
}

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = fmt.Sprintf("%q", v)
	}
	return strings.Join(q, ", ")
}
