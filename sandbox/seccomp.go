package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	profiles "github.com/moby/profiles/seccomp"
	"github.com/opencontainers/runc/libcontainer/configs"
	lcseccomp "github.com/opencontainers/runc/libcontainer/seccomp"
	"github.com/opencontainers/runc/libcontainer/specconv"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/errdefs"
)

// Seccomp profile types, as Kubernetes' seccompProfile.type.
const (
	SeccompRuntimeDefault = "RuntimeDefault"
	SeccompUnconfined     = "Unconfined"
	SeccompLocalhost      = "Localhost"
)

// DefaultSeccompRoot is where Localhost profiles are looked up unless
// Options.SeccompRoot says otherwise (the kubelet's <root-dir>/seccomp).
const DefaultSeccompRoot = "/var/lib/podbox/seccomp"

// SeccompProfile is a container's seccomp profile (Kubernetes'
// seccompProfile). A nil *SeccompProfile means RuntimeDefault.
type SeccompProfile struct {
	// Type is RuntimeDefault, Unconfined or Localhost.
	Type string `json:"type"`
	// LocalhostProfile is the profile file of a Localhost profile,
	// relative to Options.SeccompRoot. The file is read when the pod is
	// created and kept with the pod, so a later change to it does not
	// affect the pod's restarts.
	LocalhostProfile string `json:"localhostProfile,omitempty"`
}

// seccompType is the profile a container runs with: privileged containers
// run Unconfined whatever they ask, as in Kubernetes.
func (c *ContainerConfig) seccompType() string {
	switch {
	case c.Privileged:
		return SeccompUnconfined
	case c.Seccomp == nil || c.Seccomp.Type == "":
		return SeccompRuntimeDefault
	}
	return c.Seccomp.Type
}

// SeccompDescription says which profile a container runs with, for
// inspection: "RuntimeDefault", "Unconfined" or "Localhost/<file>".
func (c *ContainerConfig) SeccompDescription() string {
	t := c.seccompType()
	if t == SeccompLocalhost {
		return t + "/" + c.Seccomp.LocalhostProfile
	}
	return t
}

// SeccompRules checks a seccomp profile as the API server checks one: a
// known type (empty meaning RuntimeDefault), and a localhostProfile (a
// relative path inside the profile directory) exactly when the type is
// Localhost. Fields are relative to the profile ("localhostProfile").
func SeccompRules(p *SeccompProfile) []Problem {
	if p == nil {
		return nil
	}
	switch p.Type {
	case SeccompRuntimeDefault, SeccompUnconfined, "":
		if p.LocalhostProfile != "" {
			return []Problem{{"localhostProfile", "only a Localhost profile has one"}}
		}
	case SeccompLocalhost:
		lp := p.LocalhostProfile
		if lp == "" {
			return []Problem{{"localhostProfile", "a Localhost profile needs one"}}
		}
		if filepath.IsAbs(lp) || !filepath.IsLocal(lp) {
			return []Problem{{"localhostProfile", fmt.Sprintf("%q is not a relative path inside the profile directory (no leading / or ..)", lp)}}
		}
	default:
		return []Problem{{"type", fmt.Sprintf("%q is not RuntimeDefault, Unconfined or Localhost", p.Type)}}
	}
	return nil
}

// seccompFile is where a container's Localhost profile is kept with the pod.
func seccompFile(dir, ctr string) string { return filepath.Join(dir, "seccomp", ctr+".json") }

// readSeccompProfiles reads the Localhost profile of every container from
// root and checks that it is one libcontainer can load, before anything of
// the pod is made. It returns the profiles' contents by container name; the
// error names the file.
func readSeccompProfiles(root string, cfg *PodConfig) (map[string][]byte, error) {
	bodies := map[string][]byte{}
	for _, list := range [][]ContainerConfig{cfg.InitContainers, cfg.Containers} {
		for i := range list {
			c := &list[i]
			if c.seccompType() != SeccompLocalhost {
				continue
			}
			file := filepath.Join(root, c.Seccomp.LocalhostProfile)
			body, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("container %q: seccomp profile: %w", c.Name, err)
			}
			if _, err := loadSeccomp(body, capabilities(c)); err != nil {
				return nil, fmt.Errorf("container %q: seccomp profile %q: %w", c.Name, file, err)
			}
			bodies[c.Name] = body
		}
	}
	return bodies, nil
}

// writeSeccompProfiles keeps the pod's Localhost profiles in its
// directory, where its containers' (re)starts read them.
func writeSeccompProfiles(dir string, bodies map[string][]byte) error {
	for ctr, body := range bodies {
		if err := os.MkdirAll(filepath.Dir(seccompFile(dir, ctr)), 0o700); err != nil {
			return err
		}
		if err := os.WriteFile(seccompFile(dir, ctr), body, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// ErrNoSeccomp: the program was built without libcontainer's seccomp
// support (build tag seccomp), and a container needs a profile.
var ErrNoSeccomp = errdefs.New("built without seccomp support (go build -tags seccomp, with libseccomp-dev)", errdefs.ErrNotImplemented)

// seccompConfig is the filter a container gets: nil for Unconfined, the
// RuntimeDefault profile (moby's, adjusted to the container's capabilities
// and the host's architecture), or the pod's copy of its Localhost profile.
func seccompConfig(dir string, c *ContainerConfig, caps []string) (*configs.Seccomp, error) {
	var body []byte
	switch c.seccompType() {
	case SeccompUnconfined:
		return nil, nil
	case SeccompLocalhost:
		b, err := os.ReadFile(seccompFile(dir, c.Name))
		if err != nil {
			return nil, fmt.Errorf("seccomp profile of container %q: %w", c.Name, err)
		}
		body = b
	}
	if !lcseccomp.Enabled {
		return nil, fmt.Errorf("seccomp profile %s of container %q: %w", c.SeccompDescription(), c.Name, ErrNoSeccomp)
	}
	sc, err := loadSeccomp(body, caps)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s of container %q: %w", c.SeccompDescription(), c.Name, err)
	}
	return sc, nil
}

// loadSeccomp turns a profile in Docker's (or the OCI runtime spec's) JSON
// format, or the default profile when body is nil, into libcontainer's
// filter for a process with the bounding capabilities caps.
func loadSeccomp(body []byte, caps []string) (*configs.Seccomp, error) {
	rs := &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{Bounding: caps}}}
	var (
		ls  *specs.LinuxSeccomp
		err error
	)
	if body == nil {
		ls, err = profiles.GetDefaultProfile(rs)
	} else {
		ls, err = profiles.LoadProfile(string(body), rs)
	}
	if err != nil {
		// moby's messages start with a capital letter.
		return nil, errors.New(strings.ToLower(err.Error()[:1]) + err.Error()[1:])
	}
	if ls == nil {
		return nil, errors.New("the profile has no defaultAction and no syscalls")
	}
	sc, err := specconv.SetupSeccomp(ls)
	if err != nil || body != nil {
		return sc, err
	}
	sc.Architectures = withoutDeadArches(sc.Architectures, kernelRunsX32())
	return sc, nil
}

// withoutDeadArches drops the x32 ABI from the RuntimeDefault profile's
// architectures when the kernel can not run x32 system calls (built without
// CONFIG_X86_X32_ABI, or booted with syscall.x32=n: most distributions).
// Such a call then meets the filter's bad-architecture action (the process
// is killed) instead of the kernel's ENOSYS; no x32 program can run there
// either way. It is worth it: x32 shares x86_64's audit architecture, and
// merging it makes libseccomp's compilation of the profile, which every
// container's init does before its exec, several times slower (about 13 of
// 15 ms here). A Localhost profile is kept as written.
func withoutDeadArches(arches []string, x32 bool) []string {
	if x32 {
		return arches
	}
	var out []string
	for _, a := range arches {
		if a != "x32" {
			out = append(out, a)
		}
	}
	return out
}

// kernelRunsX32 reports whether this kernel runs x32 system calls (amd64
// only). It asks the kernel with an x32 getpid, but only when this process
// runs without a seccomp filter, whose own bad-architecture action might
// kill it; under one it assumes x32 runs.
var kernelRunsX32 = sync.OnceValue(func() bool {
	if runtime.GOARCH != "amd64" {
		return false
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil || !strings.Contains(string(status), "\nSeccomp:\t0\n") {
		return true
	}
	const x32Bit = 0x40000000
	_, _, errno := unix.RawSyscall(unix.SYS_GETPID|x32Bit, 0, 0, 0)
	return errno != unix.ENOSYS
})
