package image

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/klauspost/compress/zstd"
	"sigs.k8s.io/yaml"
)

// PullPolicy is Kubernetes' imagePullPolicy.
type PullPolicy string

const (
	PullAlways       PullPolicy = "Always"       // ask the registry every time (a present image is not fetched again)
	PullIfNotPresent PullPolicy = "IfNotPresent" // pull only when the store lacks the name
	PullNever        PullPolicy = "Never"        // never pull: the image must be in the store
)

// DefaultPullPolicy is Kubernetes' default for an image reference:
// Always for the tag "latest" or no tag, IfNotPresent for another tag or a
// digest.
func DefaultPullPolicy(ref string) PullPolicy {
	n, err := NormalizeName(ref)
	if err != nil {
		return PullAlways
	}
	if _, tag, digest := SplitName(n); digest == "" && tag == DefaultTag {
		return PullAlways
	}
	return PullIfNotPresent
}

// DefaultRegistriesConfig is where podbox reads its registries config.
const DefaultRegistriesConfig = "/etc/podbox/registries.yaml"

// RegistriesConfig says, per registry, where to pull from and whether
// plain HTTP is allowed. In YAML (or JSON):
//
//	registries:
//	  docker.io:                  # "docker.io" also matches index.docker.io
//	    mirrors: ["mirror.local:5000"]
//	    blocked: true             # only the mirrors, never docker.io itself
//	  mirror.local:5000:
//	    insecure: true            # plain HTTP (loopback needs no entry)
type RegistriesConfig struct {
	Registries map[string]RegistryConfig `json:"registries,omitempty"`
}

// RegistryConfig is one registry's entry.
type RegistryConfig struct {
	// Mirrors are tried in order before the registry itself, with the same
	// repository path, as containerd and podman try theirs.
	Mirrors []string `json:"mirrors,omitempty"`
	// Insecure allows plain HTTP to this registry. localhost and
	// 127.0.0.0/8 (and ::1) never need it, as with docker.
	Insecure bool `json:"insecure,omitempty"`
	// Blocked never asks the registry itself, only its mirrors (as
	// containers-registries.conf's blocked): an air-gapped node.
	Blocked bool `json:"blocked,omitempty"`
}

// LoadRegistriesConfig reads a registries config; a missing file is an
// empty config. Unknown fields are errors.
func LoadRegistriesConfig(path string) (*RegistriesConfig, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &RegistriesConfig{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read registries config: %w", err)
	}
	var c RegistriesConfig
	if err := yaml.UnmarshalStrict(data, &c); err != nil {
		return nil, fmt.Errorf("registries config %s: %w", path, err)
	}
	for host := range c.Registries {
		if !hostRE.MatchString(host) {
			return nil, fmt.Errorf("registries config %s: registries.%s: not a HOST[:PORT]", path, host)
		}
		for i, m := range c.Registries[host].Mirrors {
			if !hostRE.MatchString(m) {
				return nil, fmt.Errorf("registries config %s: registries.%s.mirrors[%d]: %q is not a HOST[:PORT]", path, host, i, m)
			}
		}
	}
	return &c, nil
}

func registryKey(host string) string {
	if host == name.DefaultRegistry {
		return "docker.io"
	}
	return host
}

func (c *RegistriesConfig) entry(host string) RegistryConfig {
	if c == nil {
		return RegistryConfig{}
	}
	return c.Registries[registryKey(host)]
}

// PullOptions are a pull's settings; the zero value pulls with the
// docker and podman credentials, no mirrors, for this machine's platform.
type PullOptions struct {
	// Registries gives mirrors and insecure registries.
	Registries *RegistriesConfig
	// Keychain finds credentials; default authn.DefaultKeychain
	// (~/.docker/config.json or $DOCKER_CONFIG, then $REGISTRY_AUTH_FILE or
	// containers' auth.json, with their credential helpers).
	Keychain authn.Keychain
	// Auth are credentials for the image's own registry (not its
	// mirrors), tried in order before the Keychain's, as the kubelet
	// tries a pod's pull secrets and then the node's credentials: the
	// first that the registry accepts pulls. When Auth is set and every
	// one fails (and the Keychain has none for the registry), the pull
	// fails with each one's error; it is not tried anonymously. The CRI's
	// PullImage auth is one AuthConfig here.
	Auth []AuthConfig
	// Platform picks the image out of a multi-platform index; default
	// this machine's (linux and GOARCH).
	Platform *v1.Platform
	// Transport is the HTTP transport; default remote.DefaultTransport.
	Transport http.RoundTripper
	// Progress, when set, is called as layers arrive.
	Progress func(PullProgress)
	// Budget bounds what the pull extracts (see ExtractOptions).
	Extract ExtractOptions
}

// PullProgress is a pull's state for one layer.
type PullProgress struct {
	Layer   string // the layer's (compressed) digest
	Index   int    // its position in the image, 0 at the bottom
	Layers  int    // how many the image has
	Done    int64  // compressed bytes fetched so far
	Total   int64  // compressed size
	Present bool   // already in the store: nothing to fetch
}

// Pull fetches ref (NAME[:TAG] or NAME@sha256:...) from its registry, or
// from a mirror the config lists for it, and stores it under that name.
// An index is resolved to opts.Platform. Layers the store holds are not
// fetched; each layer is fetched and unpacked once even when several
// pulls run at once. A pull that fails or is interrupted (even by
// SIGKILL) keeps the layers it completed, and the next pull continues
// from there; the name is set only once every layer is in.
//
// Equivalent to: `podman pull REF` (`crictl pull REF`).
func (s *Store) Pull(ctx context.Context, ref string, opts PullOptions) (img *Image, retErr error) {
	n, err := NormalizeName(ref)
	if err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			retErr = fmt.Errorf("pull image %q: %w", n, retErr)
		}
	}()
	img, err = s.pullLocked(ctx, n, opts)
	if err != nil {
		return nil, err
	}
	s.collect(false)
	return img, nil
}

func (s *Store) pullLocked(ctx context.Context, n string, opts PullOptions) (*Image, error) {
	origin, err := name.ParseReference(n)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %v", ErrInvalidName, n, err)
	}
	cfg := opts.Registries
	tr := opts.Transport
	if tr == nil {
		tr = remote.DefaultTransport
	}
	tr = httpGuard{next: tr, cfg: cfg}
	kc := opts.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	platform := opts.Platform
	if platform == nil {
		platform = &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if runtime.GOARCH == "arm64" {
			platform.Variant = "v8"
		}
	}
	// The mirrors first, then the registry itself.
	var cands []name.Reference
	for _, m := range cfg.entry(origin.Context().RegistryStr()).Mirrors {
		r, err := rehost(origin, m, cfg)
		if err != nil {
			return nil, err
		}
		cands = append(cands, r)
	}
	if cfg.entry(origin.Context().RegistryStr()).Insecure {
		if origin, err = name.ParseReference(n, name.Insecure); err != nil {
			return nil, err
		}
	}
	if !cfg.entry(origin.Context().RegistryStr()).Blocked {
		cands = append(cands, origin)
	} else if len(cands) == 0 {
		return nil, fmt.Errorf("registry %s is blocked by the registries config and has no mirror", registryKey(origin.Context().RegistryStr()))
	}
	var errs []error
	var desc *remote.Descriptor
	for _, r := range cands {
		for _, a := range authsFor(r, origin, kc, opts.Auth) {
			desc, err = remote.Get(r, remote.WithContext(ctx), a.opt, remote.WithTransport(tr), remote.WithPlatform(*platform))
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, fmt.Errorf("from %s%s: %w", r.Context().RegistryStr(), a.with, err))
		}
		if desc != nil {
			break
		}
	}
	if desc == nil {
		return nil, errors.Join(errs...)
	}
	// Already there under this name: nothing to write.
	if have, err := s.Get(n); err == nil && have.Digest == desc.Digest.String() && s.hasLayers(have) {
		return have, nil
	}
	var rimg v1.Image
	if desc.MediaType.IsIndex() || desc.MediaType.IsImage() {
		if rimg, err = desc.Image(); err != nil {
			return nil, err
		}
	} else {
		return nil, fmt.Errorf("unsupported manifest media type %q", desc.MediaType)
	}
	unlock, err := s.lockShared(ctx)
	if err != nil {
		return nil, err
	}
	defer unlock()
	layers, _ := rimg.Layers()
	open := func(i int, l v1.Layer) (io.ReadCloser, error) {
		return openCompressed(l, i, len(layers), opts.Progress)
	}
	if opts.Progress != nil {
		for i, l := range layers {
			d, _ := l.Digest()
			size, _ := l.Size()
			opts.Progress(PullProgress{Layer: d.String(), Index: i, Layers: len(layers), Total: size, Present: s.layerPresent(rimg, i)})
		}
	}
	out, err := s.storeImage(ctx, rimg, &extractor{opts: opts.Extract.withDefaults()}, open)
	if err != nil {
		return nil, err
	}
	out.Name = n
	out.Digest = desc.Digest.String()
	out.Repo = strings.Replace(origin.Context().Name(), name.DefaultRegistry+"/", "docker.io/", 1)
	if err := s.commit(out); err != nil {
		return nil, err
	}
	return out, nil
}

// pullAuth is one way to authenticate a candidate: an option of
// remote.Get and, for messages, whose credentials.
type pullAuth struct {
	opt  remote.Option
	with string
}

// authsFor are the authentications to try, in order, against candidate
// r of the pull of origin: the given credentials for the origin's own
// registry, then the keychain's unless they were given and the keychain
// has none (no anonymous retry after refused credentials, as the kubelet).
func authsFor(r, origin name.Reference, kc authn.Keychain, given []AuthConfig) []pullAuth {
	keychain := pullAuth{opt: remote.WithAuthFromKeychain(kc)}
	if len(given) == 0 || r.Context().RegistryStr() != origin.Context().RegistryStr() {
		return []pullAuth{keychain}
	}
	var out []pullAuth
	for _, a := range given {
		out = append(out, pullAuth{opt: remote.WithAuth(a.authenticator()), with: " with " + a.String()})
	}
	if node, err := kc.Resolve(r.Context()); err == nil && node != authn.Anonymous {
		keychain.with = " with the node's credentials"
		out = append(out, keychain)
	}
	return out
}

func (s *Store) hasLayers(img *Image) bool {
	for _, c := range img.Layers {
		if _, err := s.readLayer(c); err != nil {
			return false
		}
	}
	return true
}

// layerPresent reports whether the i-th layer of img is in the store.
func (s *Store) layerPresent(img v1.Image, i int) bool {
	cf, err := img.ConfigFile()
	if err != nil || i >= len(cf.RootFS.DiffIDs) {
		return false
	}
	ids := make([]string, i+1)
	for j := range ids {
		ids[j] = cf.RootFS.DiffIDs[j].String()
	}
	_, err = s.readLayer(chainIDs(ids)[i])
	return err == nil
}

// rehost is ref with its registry replaced by a mirror.
func rehost(ref name.Reference, mirror string, cfg *RegistriesConfig) (name.Reference, error) {
	var nopts []name.Option
	if cfg.entry(mirror).Insecure {
		nopts = append(nopts, name.Insecure)
	}
	repo := mirror + "/" + ref.Context().RepositoryStr()
	if d, ok := ref.(name.Digest); ok {
		return name.NewDigest(repo+"@"+d.DigestStr(), nopts...)
	}
	return name.NewTag(repo+":"+ref.Identifier(), nopts...)
}

// httpGuard refuses plain HTTP except to loopback and to the registries
// the config calls insecure: go-containerregistry falls back to HTTP for
// private and .local addresses too, which docker and podman do not.
type httpGuard struct {
	next http.RoundTripper
	cfg  *RegistriesConfig
}

func (g httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !loopback(req.URL.Hostname()) && !g.cfg.entry(req.URL.Host).Insecure && !g.cfg.entry(req.URL.Hostname()).Insecure {
		return nil, fmt.Errorf("plain HTTP to %s refused: list it with insecure: true in the registries config", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// openCompressed opens a layer's compressed stream, counting the bytes
// for progress, and decompresses it (gzip, zstd or none, by its magic).
func openCompressed(l v1.Layer, i, n int, progress func(PullProgress)) (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	var r io.Reader = rc
	if progress != nil {
		d, _ := l.Digest()
		size, _ := l.Size()
		r = &progressReader{r: rc, fn: func(done int64) {
			progress(PullProgress{Layer: d.String(), Index: i, Layers: n, Done: done, Total: size})
		}}
	}
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(magic, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("gzip: %w", err)
		}
		return readCloser{zr, closers{zr, rc}}, nil
	case bytes.HasPrefix(magic, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		zr, err := zstd.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, fmt.Errorf("zstd: %w", err)
		}
		return readCloser{zr, closers{closeFunc(func() error { zr.Close(); return nil }), rc}}, nil
	}
	return readCloser{br, rc}, nil
}

type progressReader struct {
	r    io.Reader
	done int64
	last int64
	fn   func(int64)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if p.done-p.last >= 256<<10 || err != nil {
		p.last = p.done
		p.fn(p.done)
	}
	return n, err
}

// Ensure returns the image ref under policy: PullNever takes it from the
// store, PullIfNotPresent pulls it when the store lacks it, PullAlways
// asks the registry (fetching only what changed). An empty policy is
// DefaultPullPolicy(ref). An image that was imported, not pulled, has no
// registry to ask: PullAlways takes it from the store, so that
// `image: busybox` runs the busybox imported by hand (without this, the
// default policy of an untagged name would replace it by docker.io's).
func (s *Store) Ensure(ctx context.Context, ref string, policy PullPolicy, opts PullOptions) (*Image, error) {
	if policy == "" {
		policy = DefaultPullPolicy(ref)
	}
	switch policy {
	case PullNever:
		img, err := s.Get(ref)
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%w (imagePullPolicy is Never)", err)
		}
		return img, err
	case PullIfNotPresent:
		if img, err := s.Get(ref); err == nil {
			return img, nil
		} else if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		return s.Pull(ctx, ref, opts)
	case PullAlways:
		if img, err := s.Get(ref); err == nil && img.Repo == "" {
			return img, nil
		}
		return s.Pull(ctx, ref, opts)
	}
	return nil, fmt.Errorf("image %q: pull policy %q is not Always, IfNotPresent or Never", ref, policy)
}
