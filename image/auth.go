package image

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// AuthConfig is one set of registry credentials, with the fields of the
// CRI's AuthConfig and of an entry of docker's config.json: Username and
// Password, or Auth (base64 of "username:password"), or an IdentityToken
// (an OAuth2 refresh token) or a RegistryToken (a bearer token sent as
// is). Source says where it came from, for messages only ("Secret
// default/regcred"). Its String never shows a secret, and nothing in this
// package writes one to disk.
type AuthConfig struct {
	Username      string
	Password      string
	Auth          string
	IdentityToken string
	RegistryToken string
	Source        string
}

// String names the credentials without their secrets.
func (a AuthConfig) String() string {
	user := a.Username
	if user == "" && a.Auth != "" {
		if b, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			user, _, _ = strings.Cut(string(b), ":")
		}
	}
	s := "credentials"
	if user != "" {
		s += fmt.Sprintf(" of user %q", user)
	}
	if a.Source != "" {
		s += " from " + a.Source
	}
	return s
}

// GoString is String, so that %#v shows no secret either.
func (a AuthConfig) GoString() string { return a.String() }

func (a AuthConfig) authenticator() authn.Authenticator {
	return authn.FromConfig(authn.AuthConfig{Username: a.Username, Password: a.Password, Auth: a.Auth,
		IdentityToken: a.IdentityToken, RegistryToken: a.RegistryToken})
}

// Keyring is credentials by registry, as Kubernetes' image pull secrets
// hold them: each entry's Registry is a HOST[:PORT][/PATH] pattern, where
// a host part may be a glob ("*.example.com"), as the kubelet matches them.
type Keyring []KeyringEntry

// KeyringEntry is one registry's credentials.
type KeyringEntry struct {
	Registry string
	Auth     AuthConfig
}

// dockerConfigEntry is one "auths" entry of a docker config.
type dockerConfigEntry struct {
	Username      string `json:"username"`
	Password      string `json:"password"`
	Auth          string `json:"auth"`
	IdentityToken string `json:"identitytoken"`
	RegistryToken string `json:"registrytoken"`
}

// ParseDockerConfigJSON reads the credentials of a docker config.json
// ({"auths": {"REGISTRY": {"auth": ...}}}), the ".dockerconfigjson" key of
// a kubernetes.io/dockerconfigjson Secret; source names it in messages.
func ParseDockerConfigJSON(data []byte, source string) (Keyring, error) {
	var c struct {
		Auths map[string]dockerConfigEntry `json:"auths"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("not a docker config.json: %w", err)
	}
	if c.Auths == nil {
		return nil, fmt.Errorf(`not a docker config.json: no "auths"`)
	}
	return keyringOf(c.Auths, source)
}

// ParseDockercfg reads the legacy ~/.dockercfg format ({"REGISTRY":
// {"auth": ...}}), the ".dockercfg" key of a kubernetes.io/dockercfg
// Secret.
func ParseDockercfg(data []byte, source string) (Keyring, error) {
	var c map[string]dockerConfigEntry
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("not a .dockercfg: %w", err)
	}
	return keyringOf(c, source)
}

func keyringOf(auths map[string]dockerConfigEntry, source string) (Keyring, error) {
	var k Keyring
	for reg, e := range auths {
		pat, err := registryPattern(reg)
		if err != nil {
			return nil, err
		}
		if e.Auth != "" {
			b, err := base64.StdEncoding.DecodeString(e.Auth)
			if err != nil || !strings.Contains(string(b), ":") {
				return nil, fmt.Errorf("registry %q: auth is not base64 of USER:PASSWORD", reg)
			}
		}
		k = append(k, KeyringEntry{Registry: pat, Auth: AuthConfig{Username: e.Username, Password: e.Password,
			Auth: e.Auth, IdentityToken: e.IdentityToken, RegistryToken: e.RegistryToken, Source: source}})
	}
	sort.Slice(k, func(i, j int) bool { return k[i].Registry < k[j].Registry })
	return k, nil
}

// registryPattern turns a config's registry key ("https://index.docker.io/v1/",
// "registry.example.com:5000", "*.example.com/team") into HOST[:PORT][/PATH],
// as the kubelet does: no scheme, a leading /v1/ or /v2/ dropped, Docker
// Hub's names as docker.io.
func registryPattern(key string) (string, error) {
	v := key
	if !strings.HasPrefix(v, "https://") && !strings.HasPrefix(v, "http://") {
		v = "https://" + v
	}
	u, err := url.Parse(v)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("registry %q is not HOST[:PORT][/PATH]", key)
	}
	p := u.Path
	if strings.HasPrefix(p, "/v1/") || strings.HasPrefix(p, "/v2/") {
		p = p[3:]
	}
	p = strings.Trim(p, "/")
	host := dockerHub(strings.ToLower(u.Host))
	if p == "" {
		return host, nil
	}
	return host + "/" + p, nil
}

func dockerHub(host string) string {
	switch host {
	case "index.docker.io", "registry-1.docker.io":
		return "docker.io"
	}
	return host
}

// Lookup returns the credentials for image ref, as the kubelet looks up
// a pod's pull secrets: every entry whose host matches (globs per
// dot-separated part, the same port) and whose path is a prefix of the
// repository's, the most specific first.
func (k Keyring) Lookup(ref string) []AuthConfig {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil
	}
	host := dockerHub(strings.ToLower(r.Context().RegistryStr()))
	repo := r.Context().RepositoryStr()
	var matched Keyring
	for _, e := range k {
		pHost, pPath, _ := strings.Cut(e.Registry, "/")
		if hostMatch(pHost, host) && (pPath == "" || repo == pPath || strings.HasPrefix(repo, pPath+"/")) {
			matched = append(matched, e)
		}
	}
	// As the kubelet: longer (more specific) patterns first.
	sort.SliceStable(matched, func(i, j int) bool { return matched[i].Registry > matched[j].Registry })
	out := make([]AuthConfig, len(matched))
	for i, e := range matched {
		out[i] = e.Auth
	}
	return out
}

// hostMatch matches HOST[:PORT] against a pattern whose dot-separated
// parts may be globs; the ports must be equal.
func hostMatch(pattern, host string) bool {
	ph, pp := splitPort(pattern)
	hh, hp := splitPort(host)
	if pp != hp {
		return false
	}
	pparts, hparts := strings.Split(ph, "."), strings.Split(hh, ".")
	if len(pparts) != len(hparts) {
		return false
	}
	for i := range pparts {
		if ok, err := path.Match(pparts[i], hparts[i]); err != nil || !ok {
			return false
		}
	}
	return true
}

func splitPort(h string) (string, string) {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		return h[:i], h[i+1:]
	}
	return h, ""
}
