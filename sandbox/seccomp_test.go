package sandbox

import (
	"strings"
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
)

func TestCheckSeccomp(t *testing.T) {
	for _, tt := range []struct {
		p    *SeccompProfile
		want string
	}{
		{nil, ""},
		{&SeccompProfile{Type: SeccompRuntimeDefault}, ""},
		{&SeccompProfile{Type: SeccompLocalhost, LocalhostProfile: "a/b.json"}, ""},
		{&SeccompProfile{Type: SeccompLocalhost}, "c.securityContext.seccompProfile.localhostProfile: a Localhost profile needs one"},
		{&SeccompProfile{Type: SeccompLocalhost, LocalhostProfile: "../x.json"}, `c.securityContext.seccompProfile.localhostProfile: "../x.json" is not a relative path`},
		{&SeccompProfile{Type: SeccompLocalhost, LocalhostProfile: "/x.json"}, `c.securityContext.seccompProfile.localhostProfile: "/x.json" is not a relative path`},
		{&SeccompProfile{Type: SeccompUnconfined, LocalhostProfile: "x.json"}, "c.securityContext.seccompProfile.localhostProfile: only a Localhost profile has one"},
		{&SeccompProfile{Type: "Strict"}, `c.securityContext.seccompProfile.type: "Strict" is not`},
	} {
		var errs []string
		for _, p := range ContainerRules(&ContainerConfig{Seccomp: tt.p}, false) {
			errs = append(errs, "c."+p.Field+": "+p.Msg)
		}
		switch {
		case tt.want == "" && len(errs) > 0:
			t.Errorf("%+v: %v", tt.p, errs)
		case tt.want != "" && (len(errs) != 1 || !strings.Contains(errs[0], tt.want)):
			t.Errorf("%+v: %v, want %q", tt.p, errs, tt.want)
		}
	}
}

func TestDefaultSeccompProfile(t *testing.T) {
	c := &ContainerConfig{Name: "c"}
	sc, err := loadSeccomp(nil, capabilities(c))
	if err != nil {
		t.Fatal(err)
	}
	if sc == nil || sc.DefaultAction != configs.Errno || len(sc.Syscalls) < 100 {
		t.Fatalf("RuntimeDefault: %+v", sc)
	}
	// Without CAP_SYS_ADMIN the default profile does not allow unshare;
	// with it, it does (moby's profile follows the capabilities).
	allows := func(sc *configs.Seccomp, name string) bool {
		for _, s := range sc.Syscalls {
			if s.Name == name && s.Action == configs.Allow && len(s.Args) == 0 {
				return true
			}
		}
		return false
	}
	if allows(sc, "unshare") {
		t.Errorf("RuntimeDefault without CAP_SYS_ADMIN allows unshare")
	}
	admin, err := loadSeccomp(nil, capabilities(&ContainerConfig{CapAdd: []string{"SYS_ADMIN"}}))
	if err != nil || !allows(admin, "unshare") {
		t.Errorf("RuntimeDefault with CAP_SYS_ADMIN does not allow unshare (%v)", err)
	}
	if sc, err := seccompConfig(t.TempDir(), &ContainerConfig{Name: "p", Privileged: true, Seccomp: &SeccompProfile{Type: SeccompRuntimeDefault}}, nil); sc != nil || err != nil {
		t.Errorf("privileged: filter %v, %v; want none", sc, err)
	}
	if _, err := loadSeccomp([]byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [}`), nil); err == nil {
		t.Errorf("a malformed profile loads")
	}
}
