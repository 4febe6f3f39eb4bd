package image

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseDockerConfigAndLookup(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	k, err := ParseDockerConfigJSON([]byte(fmt.Sprintf(`{"auths":{
		"https://index.docker.io/v1/": {"auth": %q},
		"registry.example.com:5000": {"username": "u", "password": "p"},
		"registry.example.com:5000/team": {"auth": %q},
		"*.corp.example": {"identitytoken": "tok"}}}`, b64("hub:x"), b64("team:y"))), "Secret default/regcred")
	if err != nil {
		t.Fatal(err)
	}
	users := func(ref string) []string {
		var out []string
		for _, a := range k.Lookup(ref) {
			out = append(out, a.String())
		}
		return out
	}
	for ref, want := range map[string][]string{
		"busybox":                               {`credentials of user "hub" from Secret default/regcred`},
		"docker.io/library/busybox:1.36":        {`credentials of user "hub" from Secret default/regcred`},
		"registry.example.com:5000/app:v1":      {`credentials of user "u" from Secret default/regcred`},
		"registry.example.com:5000/team/app:v1": {`credentials of user "team" from Secret default/regcred`, `credentials of user "u" from Secret default/regcred`},
		"registry.example.com:5000/teamx/app":   {`credentials of user "u" from Secret default/regcred`},
		"registry.example.com/app":              nil, // another port
		"a.corp.example/app":                    {"credentials from Secret default/regcred"},
		"a.b.corp.example/app":                  nil, // a glob is one part
		"quay.io/app":                           nil,
	} {
		if got := users(ref); !reflect.DeepEqual(got, want) {
			t.Errorf("Lookup(%q) = %q, want %q", ref, got, want)
		}
	}
	if s := fmt.Sprintf("%v %+v %#v", k[0].Auth, k[0].Auth, k[0].Auth); strings.Contains(s, b64("hub:x")) {
		t.Errorf("credentials printed: %s", s)
	}
	old, err := ParseDockercfg([]byte(fmt.Sprintf(`{"registry.example.com": {"auth": %q}}`, b64("old:z"))), "Secret default/old")
	if err != nil || len(old.Lookup("registry.example.com/app")) != 1 {
		t.Errorf("dockercfg: %v %v", old, err)
	}
	for _, bad := range []string{`{}`, `[1]`, `{"auths":{"r.example": {"auth": "not base64!"}}}`, `{"auths":{"https://": {}}}`} {
		if _, err := ParseDockerConfigJSON([]byte(bad), "x"); err == nil {
			t.Errorf("ParseDockerConfigJSON(%s) accepted", bad)
		}
	}
}

// TestPullWithAuth pulls with credentials given per pull (a pod's pull
// secret, the CRI's auth) ahead of the keychain's.
func TestPullWithAuth(t *testing.T) {
	reg := startRegistry(t)
	reg.push(t, "private/app:v1", randomImage(t, 1))
	reg.basicAuth("user", "secret")
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	t.Setenv("HOME", dir)
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "none.json"))
	s := newStore(t)
	ref := reg.host + "/private/app:v1"

	wrong := AuthConfig{Username: "user", Password: "wrong-password", Source: "Secret default/bad"}
	_, err := s.Pull(ctx, ref, PullOptions{Auth: []AuthConfig{wrong}})
	if err == nil || !strings.Contains(err.Error(), "401 Unauthorized") || !strings.Contains(err.Error(), "Secret default/bad") {
		t.Errorf("pull with a wrong password: %v", err)
	} else if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("the error shows the password: %v", err)
	}
	// The first that works wins; a base64 auth works as a username and
	// password do.
	good := AuthConfig{Auth: base64.StdEncoding.EncodeToString([]byte("user:secret")), Source: "Secret default/good"}
	if _, err := s.Pull(ctx, ref, PullOptions{Auth: []AuthConfig{wrong, good}}); err != nil {
		t.Errorf("pull with the right credentials second: %v", err)
	}
	// The node's credentials come after a pod's that fail.
	writeFile(t, filepath.Join(dir, "config.json"), []byte(fmt.Sprintf(`{"auths":{%q:{"auth":%q}}}`, reg.host, good.Auth)))
	if err := s.Remove(ref); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pull(ctx, ref, PullOptions{Auth: []AuthConfig{wrong}}); err != nil {
		t.Errorf("pull falling back to the node's credentials: %v", err)
	}
}
