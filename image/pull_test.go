package image

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/podbox/podbox/internal/testutil"
)

// testRegistry is go-containerregistry's in-process registry on a
// loopback port, counting the blob downloads per digest.
type testRegistry struct {
	host string
	mu   sync.Mutex
	gets map[string]int
	// hook, when set, may serve a request itself (it returns true).
	hook func(w http.ResponseWriter, r *http.Request) bool
}

func startRegistry(t *testing.T) *testRegistry {
	t.Helper()
	tr := &testRegistry{gets: map[string]int{}}
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/blobs/sha256:") {
			tr.mu.Lock()
			tr.gets[r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:]]++
			tr.mu.Unlock()
		}
		if tr.hook != nil && tr.hook(w, r) {
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tr.host = strings.TrimPrefix(srv.URL, "http://")
	return tr
}

// basicAuth makes the registry refuse every request without these
// credentials, as a registry with an htpasswd file does.
func (tr *testRegistry) basicAuth(user, pass string) {
	tr.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if u, p, ok := r.BasicAuth(); ok && u == user && p == pass {
			return false
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
		w.WriteHeader(http.StatusUnauthorized)
		return true
	}
}

func (tr *testRegistry) blobGets(d v1.Hash) int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.gets[d.String()]
}

func (tr *testRegistry) push(t *testing.T, ref string, img v1.Image) v1.Hash {
	t.Helper()
	r, err := name.ParseReference(tr.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func randomImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(64<<10, int64(layers))
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"/app"}, Env: []string{"A=1"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []v1.Hash
	for _, l := range ls {
		d, _ := l.Digest()
		out = append(out, d)
	}
	return out
}

func TestPullByTagAndDigest(t *testing.T) {
	testutil.RequiresRoot(t) // layers above the first are applied through overlay
	reg := startRegistry(t)
	img := randomImage(t, 3)
	digest := reg.push(t, "team/app:v1", img)
	s := newStore(t)
	var progress int
	got, err := s.Pull(ctx, reg.host+"/team/app:v1", PullOptions{Progress: func(PullProgress) { progress++ }})
	if err != nil {
		t.Fatal(err)
	}
	cfgDigest, _ := img.ConfigName()
	if got.ID != cfgDigest.String() || got.Digest != digest.String() || len(got.Layers) != 3 || len(got.LayerDirs) != 3 || got.Rootfs != "" {
		t.Errorf("pulled %+v", got)
	}
	if want := reg.host + "/team/app@" + digest.String(); got.ImageRef() != want {
		t.Errorf("ImageRef %q, want %q", got.ImageRef(), want)
	}
	if got.Config.Entrypoint[0] != "/app" || got.Size <= 0 || progress == 0 {
		t.Errorf("config %+v, size %d, %d progress calls", got.Config, got.Size, progress)
	}
	// Present: asking again fetches no blob; by digest neither.
	if _, err := s.Pull(ctx, reg.host+"/team/app:v1", PullOptions{}); err != nil {
		t.Fatal(err)
	}
	byDigest, err := s.Pull(ctx, reg.host+"/team/app@"+digest.String(), PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if byDigest.ID != got.ID || byDigest.Name != reg.host+"/team/app@"+digest.String() {
		t.Errorf("by digest: %+v", byDigest)
	}
	for _, d := range layerDigests(t, img) {
		if n := reg.blobGets(d); n != 1 {
			t.Errorf("layer %s fetched %d times, want once", d, n)
		}
	}
	assertClean(t, s, 3)
	// The layers stack as the image says.
	view := rootfs(t, s, got)
	if entries := listDir(t, view); len(entries) == 0 {
		t.Error("the image's view is empty")
	}

	// Policies.
	if _, err := s.Ensure(ctx, reg.host+"/team/other:v1", PullNever, PullOptions{}); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Never") {
		t.Errorf("Never of a missing image: %v", err)
	}
	if _, err := s.Ensure(ctx, reg.host+"/team/app:v1", PullIfNotPresent, PullOptions{Transport: failingTransport{}}); err != nil {
		t.Errorf("IfNotPresent of a present image asked the registry: %v", err)
	}
	if _, err := s.Ensure(ctx, reg.host+"/team/app:v1", PullAlways, PullOptions{Transport: failingTransport{}}); err == nil {
		t.Error("Always did not ask the registry")
	}
	if _, err := s.Pull(ctx, reg.host+"/team/missing:v1", PullOptions{}); err == nil || !strings.Contains(err.Error(), `pull image "`+reg.host+`/team/missing:v1"`) {
		t.Errorf("pull of a missing image: %v", err)
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

func TestDefaultPullPolicy(t *testing.T) {
	for ref, want := range map[string]PullPolicy{
		"busybox": PullAlways, "busybox:latest": PullAlways, "busybox:1.36": PullIfNotPresent,
		"127.0.0.1:5000/app": PullAlways, "127.0.0.1:5000/app:v1": PullIfNotPresent,
		"app@sha256:" + strings.Repeat("a", 64): PullIfNotPresent,
	} {
		if got := DefaultPullPolicy(ref); got != want {
			t.Errorf("DefaultPullPolicy(%q) = %s, want %s", ref, got, want)
		}
	}
}

func TestPullIndexPicksPlatform(t *testing.T) {
	reg := startRegistry(t)
	mine, other := randomImage(t, 1), randomImage(t, 1)
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: runtime.GOARCH}}},
	)
	r, _ := name.ParseReference(reg.host + "/multi:v1")
	if err := remote.WriteIndex(r, idx); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	got, err := s.Pull(ctx, reg.host+"/multi:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := mine.ConfigName()
	idxDigest, _ := idx.Digest()
	if got.ID != want.String() || got.Digest != idxDigest.String() {
		t.Errorf("pulled ID %s digest %s, want this platform's %s and the index's %s", got.ID, got.Digest, want, idxDigest)
	}
}

func TestPullMirrorAndInsecure(t *testing.T) {
	reg := startRegistry(t)
	reg.push(t, "library/app:v1", randomImage(t, 1))
	s := newStore(t)
	cfg := writeFile(t, filepath.Join(t.TempDir(), "registries.yaml"), []byte("registries:\n  docker.io:\n    mirrors: [\""+reg.host+"\"]\n"))
	rc, err := LoadRegistriesConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// docker.io is never reached: the mirror has it.
	got, err := s.Pull(ctx, "app:v1", PullOptions{Registries: rc})
	if err != nil {
		t.Fatal(err)
	}
	if got.Repo != "docker.io/library/app" {
		t.Errorf("repo %q, want docker.io/library/app", got.Repo)
	}
	// Plain HTTP to a host that is not loopback needs insecure: true.
	_, err = s.Pull(ctx, "registry.example:5000/app:v1", PullOptions{Registries: &RegistriesConfig{Registries: map[string]RegistryConfig{
		"registry.example:5000": {Mirrors: []string{"mirror.example:5000"}},
		"mirror.example:5000":   {Insecure: true},
	}}, Transport: failingTransport{}})
	if err == nil || !strings.Contains(err.Error(), "from mirror.example:5000") || !strings.Contains(err.Error(), "no network in this test") {
		t.Errorf("pull through an insecure mirror: %v", err)
	}
	if _, err := (httpGuard{next: failingTransport{}}).RoundTrip(&http.Request{URL: mustURL(t, "http://10.1.2.3:5000/v2/")}); err == nil || !strings.Contains(err.Error(), "plain HTTP to 10.1.2.3:5000 refused") {
		t.Errorf("plain HTTP to a private address: %v", err)
	}
	if _, err := LoadRegistriesConfig(writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), []byte("registries:\n  docker.io:\n    mirror: [x]\n"))); err == nil {
		t.Error("an unknown field in the registries config was accepted")
	}
}

func TestPullBasicAuth(t *testing.T) {
	reg := startRegistry(t)
	reg.push(t, "private/app:v1", randomImage(t, 1))
	reg.basicAuth("user", "secret")
	s := newStore(t)
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", t.TempDir())
	t.Setenv("REGISTRY_AUTH_FILE", "")
	if _, err := s.Pull(ctx, reg.host+"/private/app:v1", PullOptions{}); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") && !strings.Contains(err.Error(), "401") {
		t.Errorf("pull without credentials: %v", err)
	}
	auth := base64.StdEncoding.EncodeToString([]byte("user:secret"))
	writeFile(t, filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, auth)))
	if _, err := s.Pull(ctx, reg.host+"/private/app:v1", PullOptions{}); err != nil {
		t.Errorf("pull with credentials: %v", err)
	}
}

func TestConcurrentPullsFetchOnce(t *testing.T) {
	testutil.RequiresRoot(t)
	reg := startRegistry(t)
	img := randomImage(t, 3)
	reg.push(t, "app:v1", img)
	root := newStore(t).Root()
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(root) // its own lock descriptors, as another process
			if err == nil {
				_, err = s.Pull(ctx, fmt.Sprintf("%s/app:v1", reg.host), PullOptions{})
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range layerDigests(t, img) {
		if n := reg.blobGets(d); n != 1 {
			t.Errorf("layer %s fetched %d times by 3 pulls at once, want once", d, n)
		}
	}
}

// TestPullKilledAndResumed kills (SIGKILL) a pull in another process while
// it is in the middle of the second layer, then pulls again: the store is
// readable, the first layer is not fetched again, nothing is left over.
func TestPullKilledAndResumed(t *testing.T) {
	if ref := os.Getenv("PODBOX_TEST_PULL_CHILD"); ref != "" {
		s, err := Open(os.Getenv("PODBOX_TEST_PULL_ROOT"))
		if err == nil {
			_, err = s.Pull(context.Background(), ref, PullOptions{})
		}
		fmt.Fprintln(os.Stderr, "child pull ended:", err)
		os.Exit(3)
	}
	testutil.RequiresRoot(t)
	reg := startRegistry(t)
	img := randomImage(t, 3)
	reg.push(t, "app:v1", img)
	layers := layerDigests(t, img)
	stalled := make(chan struct{}, 1)
	release := make(chan struct{})
	reg.hook = func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, layers[1].String()) || reg.blobGets(layers[1]) > 1 {
			return false
		}
		// Half of the blob, then nothing until the test ends.
		l, _ := img.LayerByDigest(layers[1])
		rc, _ := l.Compressed()
		defer rc.Close()
		size, _ := l.Size()
		w.Header().Set("Content-Length", fmt.Sprint(size))
		io.CopyN(w, rc, size/2)
		w.(http.Flusher).Flush()
		stalled <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return true
	}
	defer close(release)
	s := newStore(t)
	child := exec.Command(os.Args[0], "-test.run=^TestPullKilledAndResumed$")
	child.Env = append(os.Environ(), "PODBOX_TEST_PULL_CHILD="+reg.host+"/app:v1", "PODBOX_TEST_PULL_ROOT="+s.Root())
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-stalled:
	case <-time.After(30 * time.Second):
		child.Process.Kill()
		t.Fatal("the child pull never reached the second layer")
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()

	// Readable, without the half-pulled image; its first layer is whole.
	if list, err := s.List(); err != nil || len(list) != 0 {
		t.Fatalf("after the kill: List = %v, %v; want no image", list, err)
	}
	if got := listDir(t, filepath.Join(s.Root(), "layers")); len(got) != 1 {
		t.Errorf("after the kill: layers/ holds %v, want the first layer", got)
	}
	got, err := s.Pull(ctx, reg.host+"/app:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Layers) != 3 {
		t.Errorf("resumed pull has %d layers", len(got.Layers))
	}
	if n := reg.blobGets(layers[0]); n != 1 {
		t.Errorf("the first layer was fetched %d times, want once (kept from the killed pull)", n)
	}
	assertClean(t, s, 3)
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), s.Root()) {
		t.Errorf("mounts left under the store:\n%s", mounts)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
