package sandbox

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"
)

// PodConfig is a pod as plain data: what spec produces from a Kubernetes
// manifest and what an embedder fills in directly. It holds no live state.
type PodConfig struct {
	// Name is the pod's name, a DNS-1123 label; it names files and cgroups.
	Name string `json:"name"`
	// Hostname is set once in the pod's UTS namespace; default Name.
	Hostname string `json:"hostname,omitempty"`
	// ShareProcessNamespace puts every container in one PID namespace whose
	// PID 1 is the pause process (Kubernetes shareProcessNamespace).
	ShareProcessNamespace bool `json:"shareProcessNamespace,omitempty"`
	// MemoryLimit is the pod's memory quota in bytes, enforced on the pod
	// cgroup; 0 means none.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
	// TerminationGracePeriod is how long Stop waits between SIGTERM and
	// SIGKILL; 0 means the default, 30 s (Kubernetes).
	TerminationGracePeriod time.Duration     `json:"terminationGracePeriod,omitempty"`
	Labels                 map[string]string `json:"labels,omitempty"`
	Annotations            map[string]string `json:"annotations,omitempty"`
	// Containers start in order.
	Containers []ContainerConfig `json:"containers"`
}

// ContainerConfig is one container of a pod.
type ContainerConfig struct {
	// Name is a DNS-1123 label, unique in the pod.
	Name string `json:"name"`
	// Rootfs is the image's root filesystem directory. It is never written:
	// each container gets its own writable overlay on top.
	Rootfs string `json:"rootfs"`
	// Args is the command and its arguments (Kubernetes command + args).
	Args []string `json:"args"`
	// Env is a list of KEY=value; PATH gets a default when missing.
	Env []string `json:"env,omitempty"`
	// WorkingDir is the absolute working directory; default "/".
	WorkingDir string `json:"workingDir,omitempty"`
	UID        int    `json:"uid,omitempty"`
	GID        int    `json:"gid,omitempty"`
	// MemoryLimit is the container's own limit in bytes; 0 means none.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
	// ReadOnlyRootfs mounts the container's root read-only.
	ReadOnlyRootfs bool `json:"readOnlyRootfs,omitempty"`
	// Mounts are bind mounts from the host (the pod's volumes).
	Mounts []BindMount `json:"mounts,omitempty"`
}

// BindMount is a host path bind-mounted into a container.
type BindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// DefaultGracePeriod is Kubernetes' default terminationGracePeriodSeconds.
const DefaultGracePeriod = 30 * time.Second

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidateName checks that name is a DNS-1123 label (lowercase letters,
// digits and '-', starting and ending with a letter or digit, at most 63
// characters), as Kubernetes requires of container names. Pod and container
// names become file and cgroup names, so nothing else is accepted.
func ValidateName(field, name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%s: name is required", field)
	case len(name) > 63:
		return fmt.Errorf("%s: %q is longer than 63 characters", field, name)
	case !dns1123Label.MatchString(name):
		return fmt.Errorf("%s: %q is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)", field, name)
	}
	return nil
}

// check is one validation rule; each returns errors that name a field path.
type check func(c *PodConfig) []error

var checks = []check{checkPodFields, checkContainers}

// Validate reports every problem in c at once, each naming its field, wrapped
// so that errors.Is(err, ErrInvalid) holds.
func (c *PodConfig) Validate() error {
	var errs []error
	for _, ck := range checks {
		errs = append(errs, ck(c)...)
	}
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
}

func checkPodFields(c *PodConfig) []error {
	var errs []error
	if err := ValidateName("name", c.Name); err != nil {
		errs = append(errs, err)
	}
	if c.Hostname != "" {
		if err := ValidateName("hostname", c.Hostname); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("memoryLimit: %d is negative", c.MemoryLimit))
	}
	if c.TerminationGracePeriod < 0 {
		errs = append(errs, fmt.Errorf("terminationGracePeriod: %s is negative", c.TerminationGracePeriod))
	}
	if len(c.Containers) == 0 {
		errs = append(errs, errors.New("containers: a pod needs at least one container"))
	}
	return errs
}

func checkContainers(c *PodConfig) []error {
	var errs []error
	seen := map[string]bool{}
	for i, ctr := range c.Containers {
		f := fmt.Sprintf("containers[%d]", i)
		if err := ValidateName(f+".name", ctr.Name); err != nil {
			errs = append(errs, err)
		} else if ctr.Name == pauseCgroup {
			errs = append(errs, fmt.Errorf("%s.name: %q is reserved for the pause process", f, ctr.Name))
		} else if seen[ctr.Name] {
			errs = append(errs, fmt.Errorf("%s.name: %q is used twice", f, ctr.Name))
		}
		seen[ctr.Name] = true
		if !path.IsAbs(ctr.Rootfs) {
			errs = append(errs, fmt.Errorf("%s.rootfs: %q is not an absolute path", f, ctr.Rootfs))
		}
		if len(ctr.Args) == 0 || ctr.Args[0] == "" {
			errs = append(errs, fmt.Errorf("%s.args: a command is required", f))
		}
		if ctr.WorkingDir != "" && !path.IsAbs(ctr.WorkingDir) {
			errs = append(errs, fmt.Errorf("%s.workingDir: %q is not an absolute path", f, ctr.WorkingDir))
		}
		for j, e := range ctr.Env {
			if k, _, ok := strings.Cut(e, "="); !ok || k == "" {
				errs = append(errs, fmt.Errorf("%s.env[%d]: %q is not KEY=value", f, j, e))
			}
		}
		if ctr.MemoryLimit < 0 {
			errs = append(errs, fmt.Errorf("%s.memoryLimit: %d is negative", f, ctr.MemoryLimit))
		}
		if ctr.UID < 0 || ctr.GID < 0 {
			errs = append(errs, fmt.Errorf("%s: uid and gid must not be negative", f))
		}
		for j, m := range ctr.Mounts {
			mf := fmt.Sprintf("%s.mounts[%d]", f, j)
			if !path.IsAbs(m.Source) {
				errs = append(errs, fmt.Errorf("%s.source: %q is not an absolute path", mf, m.Source))
			}
			if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
				errs = append(errs, fmt.Errorf("%s.target: %q is not an absolute path below /", mf, m.Target))
			}
		}
	}
	return errs
}

func (c *PodConfig) hostname() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	return c.Name
}

func (c *PodConfig) gracePeriod() time.Duration {
	if c.TerminationGracePeriod == 0 {
		return DefaultGracePeriod
	}
	return c.TerminationGracePeriod
}
