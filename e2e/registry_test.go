package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/podbox/podbox/internal/testutil"
)

// registry is Debian's docker-registry (distribution 2.8) on a loopback
// port, with basic auth from an htpasswd file.
type registry struct {
	host, user, pass string
}

func startRegistry(t *testing.T, dir string) *registry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		t.Fatal("docker-registry not found: install Debian's docker-registry (make deps does)")
	}
	htpasswd, err := exec.LookPath("htpasswd")
	if err != nil {
		t.Fatal("htpasswd not found: install Debian's apache2-utils (make deps does)")
	}
	r := &registry{user: "podbox", pass: "s3cret-pull"}
	out, err := exec.Command(htpasswd, "-Bbn", r.user, r.pass).Output()
	if err != nil {
		t.Fatalf("htpasswd: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "htpasswd"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.host = l.Addr().String()
	l.Close()
	cfg := fmt.Sprintf(`version: 0.1
log: {level: error}
storage:
  filesystem: {rootdirectory: %s}
http:
  addr: %s
auth:
  htpasswd: {realm: podbox-test, path: %s}
`, filepath.Join(dir, "data"), r.host, filepath.Join(dir, "htpasswd"))
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", filepath.Join(dir, "config.yml"))
	logf, _ := os.Create(filepath.Join(dir, "registry.log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait(); logf.Close() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get("http://" + r.host + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized {
				return r
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("docker-registry did not answer on %s: %v\n%s", r.host, err, log)
		}
	}
}

// push puts img at REF in the registry and returns its manifest digest.
func (r *registry) push(t *testing.T, ref string, img v1.Image) string {
	t.Helper()
	nr, err := name.ParseReference(r.host + "/" + ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(nr, img, remote.WithAuth(&authn.Basic{Username: r.user, Password: r.pass})); err != nil {
		t.Fatalf("push %s: %v", nr, err)
	}
	d, _ := img.Digest()
	return d.String()
}

// dockerConfig writes a docker config.json with the registry's
// credentials into dir.
func (r *registry) dockerConfig(t *testing.T, dir string) {
	t.Helper()
	auth := base64.StdEncoding.EncodeToString([]byte(r.user + ":" + r.pass))
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{r.host: map[string]string{"auth": auth}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// busyboxImage is the test busybox as an image of two layers: the root
// filesystem, and a layer that adds /etc/layer2 and runs sleep.
func busyboxImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	base, err := tarball.LayerFromFile(busyboxTar(t))
	if err != nil {
		t.Fatal(err)
	}
	top, err := tarball.LayerFromFile(testutil.WriteTar(t, filepath.Join(dir, "top.tar"), "etc/layer2", "from the second layer\n"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, base, top)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Cmd: []string{"sleep", "3600"}, Env: []string{"PATH=/bin", "FROM=registry"}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestRunFromRegistry pulls on run from a real registry (docker-registry
// with basic auth on loopback): by tag, by digest, through a mirror; the
// pods hold the image against image rm.
func TestRunFromRegistry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	work := t.TempDir()
	reg := startRegistry(t, work)
	img := busyboxImage(t, work)
	digest := reg.push(t, "test/busybox:v1", img)

	// Without credentials the registry refuses.
	noauth := t.TempDir()
	e.vars = append(e.vars, "DOCKER_CONFIG="+noauth, "REGISTRY_AUTH_FILE="+filepath.Join(noauth, "none.json"), "HOME="+noauth)
	failPodbox(t, e, 1, []string{"podbox: ", `pull image "` + reg.host + `/test/busybox:v1"`, "UNAUTHORIZED"}, "image", "pull", reg.host+"/test/busybox:v1")
	reg.dockerConfig(t, noauth)

	byTag := manifest(t, "bytag.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: bytag}
spec:
  containers:
  - name: c
    image: %s/test/busybox:v1
`, reg.host))
	mustPodbox(t, e, "run", byTag)
	pod := e.getPod(t, "bytag")
	if want := reg.host + "/test/busybox@" + digest; pod.Status.ContainerStatuses[0].ImageID != want {
		t.Errorf("imageID %q, want %q", pod.Status.ContainerStatuses[0].ImageID, want)
	}
	if out := mustPodbox(t, e, "exec", "bytag", "--", "sh", "-c", "cat /etc/layer2; echo $FROM"); out != "from the second layer\nregistry\n" {
		t.Errorf("exec in a pod of a pulled image: %q", out)
	}

	byDigest := manifest(t, "bydigest.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: bydigest}
spec:
  containers:
  - name: c
    image: %s/test/busybox@%s
    imagePullPolicy: IfNotPresent
`, reg.host, digest))
	mustPodbox(t, e, "run", byDigest)
	out := mustPodbox(t, e, "image", "ls")
	if !strings.Contains(out, reg.host+"/test/busybox") || !strings.Contains(out, digest[:19]) {
		t.Errorf("image ls after the pulls:\n%s", out)
	}

	// In use: refused, naming the pod; --force untags and the pod runs on.
	failPodbox(t, e, 1, []string{"podbox: ", "in use", "bytag", "--force"}, "image", "rm", reg.host+"/test/busybox:v1")
	mustPodbox(t, e, "image", "rm", "--force", reg.host+"/test/busybox:v1")
	mustPodbox(t, e, "rm", "-f", "bydigest")
	if out := mustPodbox(t, e, "exec", "bytag", "--", "cat", "/etc/layer2"); out != "from the second layer\n" {
		t.Errorf("exec after image rm --force: %q", out)
	}
	mustPodbox(t, e, "rm", "-f", "bytag")

	// Through a mirror: the named registry is never asked.
	e.writeRegistries(t, fmt.Sprintf("  registry.invalid:5000:\n    mirrors: [%q]\n    blocked: true\n", reg.host))
	out = mustPodbox(t, e, "image", "pull", "registry.invalid:5000/test/busybox:v1")
	if want := "registry.invalid:5000/test/busybox:v1 registry.invalid:5000/test/busybox@" + digest; strings.TrimSpace(out) != want {
		t.Errorf("pull through a mirror printed %q, want %q", out, want)
	}
	mustPodbox(t, e, "image", "rm", reg.host+"/test/busybox@"+digest, "registry.invalid:5000/test/busybox:v1")
	mustPodbox(t, e, "image", "prune")
	if left, _ := os.ReadDir(filepath.Join(e.root, "images", "layers")); len(left) != 0 {
		t.Errorf("layers left after the last image and pod went: %d", len(left))
	}
}

// TestRunWithImagePullSecret pulls with the credentials of a
// kubernetes.io/dockerconfigjson Secret given beside the pod, as the
// kubelet does with imagePullSecrets, and never writes them.
func TestRunWithImagePullSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	work := t.TempDir()
	reg := startRegistry(t, work)
	reg.push(t, "test/busybox:v1", busyboxImage(t, work))
	reg.push(t, "test/content:v1", busyboxImage(t, work))
	// No node credentials.
	noauth := t.TempDir()
	e.vars = append(e.vars, "DOCKER_CONFIG="+noauth, "REGISTRY_AUTH_FILE="+filepath.Join(noauth, "none.json"), "HOME="+noauth)

	withSecret := func(file, pass, typ string) string {
		auth := base64.StdEncoding.EncodeToString([]byte(reg.user + ":" + pass))
		key, data := ".dockerconfigjson", fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, auth)
		if typ == "kubernetes.io/dockercfg" {
			key, data = ".dockercfg", fmt.Sprintf(`{%q:{"auth":%q}}`, reg.host, auth)
		}
		return manifest(t, file, fmt.Sprintf(`apiVersion: v1
kind: Secret
metadata: {name: regcred}
type: %s
data: {%s: %s}
---
apiVersion: v1
kind: Pod
metadata: {name: private}
spec:
  imagePullSecrets: [{name: regcred}]
  containers:
  - name: c
    image: %s/test/busybox:v1
    volumeMounts: [{name: content, mountPath: /content}]
  volumes:
  - name: content
    image: {reference: %s/test/content:v1}
`, typ, key, base64.StdEncoding.EncodeToString([]byte(data)), reg.host, reg.host))
	}
	without := manifest(t, "without.yaml", fmt.Sprintf(`apiVersion: v1
kind: Pod
metadata: {name: private}
spec:
  containers:
  - name: c
    image: %s/test/busybox:v1
`, reg.host))
	failPodbox(t, e, 1, []string{"podbox: ", "spec.containers[0].image (c)", "UNAUTHORIZED"}, "run", without)
	failPodbox(t, e, 1, []string{"podbox: ", `with credentials of user "podbox" from Secret default/regcred`, "UNAUTHORIZED",
		"spec.volumes[0].image.reference (content)"},
		"run", withSecret("wrong.yaml", "wrong-password", "kubernetes.io/dockerconfigjson"))
	missing := manifest(t, "missing.yaml", strings.Replace(readFile(t, without), "spec:\n", "spec:\n  imagePullSecrets: [{name: regcred}]\n", 1))
	failPodbox(t, e, 1, []string{"podbox: ", `spec.imagePullSecrets[0].name: Secret "regcred" is not in the manifest`}, "run", missing)
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("refused pods were kept: %v", rows)
	}

	mustPodbox(t, e, "run", withSecret("good.yaml", reg.pass, "kubernetes.io/dockerconfigjson"))
	// The image volume is pulled with the pod's secret too.
	if out := mustPodbox(t, e, "exec", "private", "--", "cat", "/etc/layer2", "/content/etc/layer2"); out != "from the second layer\nfrom the second layer\n" {
		t.Errorf("exec in the pod pulled with a secret: %q", out)
	}
	// The credentials are nowhere under the state, log or image roots.
	auth := base64.StdEncoding.EncodeToString([]byte(reg.user + ":" + reg.pass))
	for _, dir := range []string{"root", "logs", "images"} {
		filepath.WalkDir(filepath.Join(e.root, dir), func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return nil
			}
			if b, err := os.ReadFile(p); err == nil && (strings.Contains(string(b), reg.pass) || strings.Contains(string(b), auth)) {
				t.Errorf("%s holds the pull secret's credentials", p)
			}
			return nil
		})
	}
	mustPodbox(t, e, "rm", "-f", "private")

	// The legacy kubernetes.io/dockercfg type too (the image is pulled
	// again: Always for a pod of another file would not, so remove it).
	mustPodbox(t, e, "image", "rm", reg.host+"/test/busybox:v1", reg.host+"/test/content:v1")
	mustPodbox(t, e, "run", withSecret("legacy.yaml", reg.pass, "kubernetes.io/dockercfg"))
	mustPodbox(t, e, "rm", "-f", "private")
}
