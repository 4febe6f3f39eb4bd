package sandbox

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"runtime"
	"slices"
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

// TestWithoutDeadArches: x32 leaves the RuntimeDefault profile only where
// the kernel can not run it; the other architectures stay, in order.
func TestWithoutDeadArches(t *testing.T) {
	moby := []string{"amd64", "x86", "x32"}
	if got := withoutDeadArches(moby, true); !slices.Equal(got, moby) {
		t.Errorf("kernel with x32: %v, want %v", got, moby)
	}
	if got, want := withoutDeadArches(moby, false), []string{"amd64", "x86"}; !slices.Equal(got, want) {
		t.Errorf("kernel without x32: %v, want %v", got, want)
	}
	if got, want := withoutDeadArches([]string{"arm64", "arm"}, false), []string{"arm64", "arm"}; !slices.Equal(got, want) {
		t.Errorf("arm64: %v, want %v", got, want)
	}
}

// TestRuntimeDefaultArches: the RuntimeDefault filter keeps x86_64 and
// i386 and has x32 exactly when the kernel runs it, which the probe tells
// as the kernel's build configuration does (where it can be read).
func TestRuntimeDefaultArches(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the x32 ABI is amd64's")
	}
	sc, err := loadSeccomp(nil, capabilities(&ContainerConfig{}))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"amd64", "x86"} {
		if !slices.Contains(sc.Architectures, a) {
			t.Errorf("architectures %v: no %s", sc.Architectures, a)
		}
	}
	if got := slices.Contains(sc.Architectures, "x32"); got != kernelRunsX32() {
		t.Errorf("architectures %v: x32 %v, but the kernel runs x32: %v", sc.Architectures, got, kernelRunsX32())
	}
	config := kernelConfig()
	if config == nil {
		t.Log("no kernel configuration to compare the probe with")
		return
	}
	built := bytes.Contains(config, []byte("\nCONFIG_X86_X32_ABI=y\n"))
	status, _ := os.ReadFile("/proc/self/status")
	cmdline, _ := os.ReadFile("/proc/cmdline")
	underFilter := !strings.Contains(string(status), "\nSeccomp:\t0\n")
	if !underFilter && !strings.Contains(string(cmdline), "syscall.x32=") && kernelRunsX32() != built {
		t.Errorf("the probe says x32 runs: %v; the kernel's configuration has CONFIG_X86_X32_ABI: %v", kernelRunsX32(), built)
	}
}

// kernelConfig is the running kernel's build configuration, or nil.
func kernelConfig() []byte {
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if z, err := gzip.NewReader(f); err == nil {
			if b, err := io.ReadAll(z); err == nil {
				return b
			}
		}
	}
	if rel, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		if c, err := os.ReadFile("/boot/config-" + string(bytes.TrimSpace(rel))); err == nil {
			return c
		}
	}
	return nil
}
