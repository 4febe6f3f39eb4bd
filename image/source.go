package image

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
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

// unpack puts the layers of source (of the given kind) in the store and
// returns the image, without a name yet, using work for scratch space.
// ref is the normalized name being imported, which picks the image out
// of an archive of several.
func (s *Store) unpack(ctx context.Context, kind sourceKind, source, work, ref string, opts ExtractOptions) (*Image, error) {
	budget := &extractor{opts: opts.withDefaults()}
	switch kind {
	case kindRootfsDir:
		src, err := filepath.EvalSymlinks(source)
		if err != nil {
			return nil, err
		}
		return s.unpackRootfs(ctx, func() (io.ReadCloser, error) { return dirTarStream(ctx, src), nil }, budget)
	case kindRootfsTar:
		return s.unpackRootfs(ctx, func() (io.ReadCloser, error) { return openArchive(source) }, budget)
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
		x, err := newExtractor(dir, false, ExtractOptions{MaxBytes: opts.MaxBytes, MaxEntries: opts.MaxEntries, MaxNameLen: opts.MaxNameLen})
		if err != nil {
			rc.Close()
			return nil, err
		}
		err = x.apply(ctx, rc)
		if err == nil {
			err = x.finish()
		}
		x.close()
		rc.Close()
		if err != nil {
			return nil, err
		}
		img, err := ociLayoutImage(dir, ref)
		if err != nil {
			return nil, err
		}
		return s.storeImage(ctx, img, budget, nil)
	case kindOCIDir:
		img, err := ociLayoutImage(source, ref)
		if err != nil {
			return nil, err
		}
		return s.storeImage(ctx, img, budget, nil)
	case kindDockerTar:
		img, err := dockerArchiveImage(source, ref)
		if err != nil {
			return nil, err
		}
		return s.storeImage(ctx, img, budget, nil)
	}
	return nil, fmt.Errorf("unknown source kind %d", kind)
}

// unpackRootfs stores a root filesystem tar stream as an image of one
// layer; the ID is the digest of the (uncompressed) stream.
func (s *Store) unpackRootfs(ctx context.Context, open func() (io.ReadCloser, error), budget *extractor) (*Image, error) {
	chain, err := s.ensureLayer(ctx, layerSource{name: "#0", open: open}, budget)
	if err != nil {
		return nil, err
	}
	return &Image{ID: chain, Layers: []string{chain}}, nil
}

// dirTarStream streams the tree under src as a tar (see writeDirTar).
func dirTarStream(ctx context.Context, src string) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(writeDirTar(ctx, pw, src))
	}()
	return readCloser{pr, closeFunc(func() error {
		pr.CloseWithError(errors.New("extraction stopped")) // unblocks the writer on failure
		<-done
		return nil
	})}
}

type closeFunc func() error

func (f closeFunc) Close() error { return f() }

// storeImage unpacks img's layers that the store lacks, bottom first, and
// returns the image. openLayer, when set, opens a layer's uncompressed
// stream (a pull counts the compressed bytes for its progress).
func (s *Store) storeImage(ctx context.Context, img v1.Image, budget *extractor, openLayer func(int, v1.Layer) (io.ReadCloser, error)) (*Image, error) {
	cfgDigest, err := img.ConfigName()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("image layers: %w", err)
	}
	if len(cf.RootFS.DiffIDs) != len(layers) {
		return nil, fmt.Errorf("image config lists %d layers and the manifest %d", len(cf.RootFS.DiffIDs), len(layers))
	}
	if len(layers) == 0 {
		return nil, errors.New("image has no layers")
	}
	diffIDs := make([]string, len(layers))
	for i, d := range cf.RootFS.DiffIDs {
		if !digestRE.MatchString(d.String()) {
			return nil, fmt.Errorf("image config: layer DiffID %q is not a sha256 digest", d)
		}
		diffIDs[i] = d.String()
	}
	chains := chainIDs(diffIDs)
	for i, l := range layers {
		src := layerSource{chain: chains[i], diffID: diffIDs[i], name: fmt.Sprintf("#%d", i)}
		if i > 0 {
			src.parent = chains[i-1]
		}
		for j := i - 1; j >= 0; j-- {
			src.lowers = append(src.lowers, filepath.Join(s.layerDir(chains[j]), "fs"))
		}
		l, i := l, i
		src.open = l.Uncompressed
		if openLayer != nil {
			src.open = func() (io.ReadCloser, error) { return openLayer(i, l) }
		}
		if _, err := s.ensureLayer(ctx, src, budget); err != nil {
			return nil, err
		}
	}
	out := &Image{ID: cfgDigest.String(), Layers: chains}
	if d, err := img.Digest(); err == nil {
		out.Digest = d.String()
	}
	c := cf.Config
	out.Config = Config{Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env, WorkingDir: c.WorkingDir, User: c.User}
	return out, nil
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

// dockerArchiveImage is the image tagged ref in a `docker save` archive,
// or its only image.
func dockerArchiveImage(source, ref string) (v1.Image, error) {
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
	return img, nil
}

const (
	annotationRefName   = "org.opencontainers.image.ref.name"
	annotationImageName = "io.containerd.image.name"
)

// ociLayoutImage is the image named ref in an OCI image layout, or its
// only image, resolved to this machine's platform.
func ociLayoutImage(dir, ref string) (v1.Image, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, fmt.Errorf("OCI layout: %w", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("OCI layout index: %w", err)
	}
	repo, _, _ := SplitName(ref)
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
	return ociImage(idx, d)
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
