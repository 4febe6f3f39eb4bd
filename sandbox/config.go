package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/mounts"
	"github.com/podbox/podbox/netns"
)

// PodConfig is a pod as plain data: what spec produces from a Kubernetes
// manifest and what an embedder fills in directly. It holds no live state.
type PodConfig struct {
	// Name is the pod's name, a DNS-1123 label; it names files and cgroups.
	Name string `json:"name"`
	// Namespace is the Kubernetes namespace the manifest names (default
	// "default"); podbox only reports it (metadata.namespace field refs).
	Namespace string `json:"namespace,omitempty"`
	// Hostname is set once in the pod's UTS namespace; default Name.
	Hostname string `json:"hostname,omitempty"`
	// ShareProcessNamespace puts every container in one PID namespace whose
	// PID 1 is the pause process (Kubernetes shareProcessNamespace).
	ShareProcessNamespace bool `json:"shareProcessNamespace,omitempty"`
	// HostNetwork: the pod uses the host's network namespace (no veth, no
	// IP of its own).
	HostNetwork bool `json:"hostNetwork,omitempty"`
	// UserNamespace (Kubernetes' hostUsers: false) gives the pod a user
	// namespace of its own, mapping its IDs 0-65535 to a range of host IDs
	// that no other pod holds; its network, IPC, UTS (and shared PID)
	// namespaces belong to it, and its image layers and volumes other than
	// hostPath are seen through idmapped mounts (see Options.IDRangeDir).
	UserNamespace bool `json:"userNamespace,omitempty"`
	// MemoryLimit is the pod's memory quota in bytes, enforced on the pod
	// cgroup; 0 means none.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
	// CPULimitMillis and CPURequestMillis are pod-level cpu (1000 = one
	// CPU): a CFS quota over a 100 ms period and a cpu weight on the pod
	// cgroup, which all its containers share, as the kubelet sets them from
	// a pod's spec.resources. 0: none.
	CPULimitMillis   int64 `json:"cpuLimitMillis,omitempty"`
	CPURequestMillis int64 `json:"cpuRequestMillis,omitempty"`
	// TerminationGracePeriodSeconds is how long Stop waits between SIGTERM
	// and SIGKILL; nil means Kubernetes' default, 30 s; 0 kills at once.
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
	// RestartPolicy of the pod: Always (default), OnFailure or Never.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// ActiveDeadlineSeconds, as Kubernetes': how long the pod may run
	// (from its start) before it is stopped and Failed with reason
	// DeadlineExceeded. nil: no deadline.
	ActiveDeadlineSeconds *int64 `json:"activeDeadlineSeconds,omitempty"`
	// BackoffLimit, set for the pod of a Job, is the Job's backoffLimit:
	// a container that fails is run again (whatever RestartPolicy says:
	// the Job controller would run a new pod) until that many retries
	// failed too; then the pod is Failed with reason BackoffLimitExceeded.
	BackoffLimit *int32            `json:"backoffLimit,omitempty"`
	Labels       map[string]string `json:"labels,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	// HostAliases are extra /etc/hosts lines.
	HostAliases []HostAlias `json:"hostAliases,omitempty"`
	// DNS says how /etc/resolv.conf is made.
	DNS DNSConfig `json:"dns,omitempty"`
	// Sysctls are namespaced sysctls set in the pod's namespaces.
	Sysctls []Sysctl `json:"sysctls,omitempty"`
	// Volumes are the pod's volumes, mounted by containers' VolumeMounts.
	Volumes []Volume `json:"volumes,omitempty"`
	// FSGroup, as Kubernetes' fsGroup: every container also runs with this
	// group, and the pod's emptyDir volumes are given to it (group
	// read-write, setgid directories) before any container starts.
	// FSGroupChangePolicy is "Always" (default: every file) or
	// "OnRootMismatch" (nothing when the volume's root already matches).
	// hostPath volumes are left as they are, as the kubelet leaves them.
	FSGroup             *int64 `json:"fsGroup,omitempty"`
	FSGroupChangePolicy string `json:"fsGroupChangePolicy,omitempty"`
	// InitContainers run in order, each to completion, before Containers
	// start; one with RestartPolicy Always is a native sidecar.
	InitContainers []ContainerConfig `json:"initContainers,omitempty"`
	// Containers start in order.
	Containers []ContainerConfig `json:"containers"`
	// EphemeralContainers are the debugging containers added to the
	// running pod (Manager.AddEphemeralContainer), as Kubernetes'
	// spec.ephemeralContainers: never restarted, no ports, no resources. A
	// pod is never created with any.
	EphemeralContainers []ContainerConfig `json:"ephemeralContainers,omitempty"`
	// PullSecrets are the credentials of the pod's imagePullSecrets, by
	// registry: PullImages tries those that match an image before the
	// node's, as the kubelet does. They are never written (not to the
	// pod's state, not to its logs).
	PullSecrets image.Keyring `json:"-"`
	// HostPID and HostIPC put the pod's containers in the host's PID and
	// IPC namespaces (Kubernetes' hostPID and hostIPC; for embedders).
	HostPID bool `json:"hostPID,omitempty"`
	HostIPC bool `json:"hostIPC,omitempty"`
	// Manifest is the Kubernetes manifest (JSON) the config came from, if
	// any, kept so that the pod can be shown as a v1.Pod.
	Manifest json.RawMessage `json:"manifest,omitempty"`
	// Managed: the embedder adds, starts, stops and removes the app
	// containers one by one (AddContainer, StartContainer, StopContainer,
	// RemoveContainer), as a CRI runtime does for the kubelet. The pod is
	// created with no container, its lifecycle never starts nor restarts
	// one by itself, and it stays up until Stop. See containers.go.
	Managed bool `json:"managed,omitempty"`
	// Ports are the pod's own port mappings (a CRI sandbox's): a HostPort
	// forwards the host's port to the pod, as a container's port does.
	Ports []Port `json:"ports,omitempty"`
	// Extra is the embedder's own data about the pod (a CRI server's
	// sandbox ID and metadata), kept with the pod and never read by podbox.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// RestartPolicy is Kubernetes' restartPolicy.
type RestartPolicy string

const (
	RestartAlways    RestartPolicy = "Always"
	RestartOnFailure RestartPolicy = "OnFailure"
	RestartNever     RestartPolicy = "Never"
)

// RestartRule is one container restart rule (Kubernetes'
// ContainerRestartRule): when the exit code is In (or NotIn)
// ExitCodes.Values, Action ("Restart") is taken.
type RestartRule struct {
	Action    string        `json:"action"`
	ExitCodes *ExitCodeRule `json:"exitCodes,omitempty"`
}

// ExitCodeRule is Kubernetes' ContainerRestartRuleOnExitCodes.
type ExitCodeRule struct {
	Operator string  `json:"operator"`
	Values   []int32 `json:"values,omitempty"`
}

// matches: the rule's exit codes hold code.
func (r RestartRule) matches(code int) bool {
	if r.ExitCodes == nil {
		return false
	}
	in := slices.Contains(r.ExitCodes.Values, int32(code))
	return in == (r.ExitCodes.Operator == RuleIn)
}

// Restart rule actions and operators.
const (
	RuleRestart = "Restart"
	RuleIn      = "In"
	RuleNotIn   = "NotIn"
)

// Termination message policies.
const (
	TerminationMessageFile           = "File"
	TerminationMessageFallbackToLogs = "FallbackToLogsOnError"
)

// HostAlias is one /etc/hosts line: IP and its names.
type HostAlias struct {
	IP        string   `json:"ip"`
	Hostnames []string `json:"hostnames"`
}

// DNSConfig follows Kubernetes' dnsPolicy and dnsConfig. Policy is
// "ClusterFirst" (default; on a single host the same as Default), "Default"
// (the host's resolv.conf), or "None" (only what Nameservers, Searches and
// Options say).
type DNSConfig struct {
	Policy      string   `json:"policy,omitempty"`
	Nameservers []string `json:"nameservers,omitempty"`
	Searches    []string `json:"searches,omitempty"`
	Options     []string `json:"options,omitempty"`
}

// Sysctl is one namespaced sysctl, such as net.ipv4.ip_unprivileged_port_start.
type Sysctl struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Volume is one pod volume; exactly one source is set.
type Volume struct {
	Name     string          `json:"name"`
	HostPath *HostPathVolume `json:"hostPath,omitempty"`
	EmptyDir *EmptyDirVolume `json:"emptyDir,omitempty"`
	// Files is a volume of files given in the config (what Kubernetes'
	// configMap, secret, projected and downwardAPI volumes hold).
	Files *FilesVolume `json:"files,omitempty"`
	// PersistentVolumeClaim is a named volume, kept after the pod.
	PersistentVolumeClaim *ClaimVolume `json:"persistentVolumeClaim,omitempty"`
	// Image is an image's content, read-only (Kubernetes' image volumes).
	Image *ImageVolume `json:"image,omitempty"`
}

// ClaimVolume is Kubernetes' persistentVolumeClaim as a single host has
// it, the way podman kube play maps one: a named local volume
// (Options.VolumeRoot/<ClaimName>/_data), made on the first use and kept
// after the pod, until removed (mounts.NamedVolumes). ClaimName is a
// DNS-1123 subdomain. ReadOnly mounts it read-only in every container.
type ClaimVolume struct {
	ClaimName string `json:"claimName"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
}

// ImageVolume is Kubernetes' image volume: the content of the image
// Reference, mounted read-only (an overlay of its layers with no writable
// one). PullPolicy is as a container's ImagePullPolicy (PullImages
// honours it). Create fills ImageID and Layers from Options.Images and
// leases the image while the pod exists; an embedder without an image
// store sets Layers itself.
type ImageVolume struct {
	Reference  string   `json:"reference"`
	PullPolicy string   `json:"pullPolicy,omitempty"`
	ImageID    string   `json:"imageID,omitempty"`
	Layers     []string `json:"layers,omitempty"`
}

// FilesVolume is made when the pod is created, on a tmpfs (its content,
// secrets included, never reaches a disk), and mounted read-only, as the
// kubelet mounts these volumes. With an fsGroup its files belong to that
// group and are group-readable.
type FilesVolume struct {
	Files []VolumeFile `json:"files"`
}

// VolumeFile is one file of a FilesVolume: its path in the volume, its
// mode, and its content: Data, or a downward API field (FieldPath:
// metadata.name, metadata.namespace, metadata.uid, metadata.labels,
// metadata.annotations, metadata.labels['KEY'], metadata.annotations['KEY']),
// or a container's resource (ResourceField).
type VolumeFile struct {
	Path          string            `json:"path"`
	Mode          uint32            `json:"mode"`
	Data          []byte            `json:"data,omitempty"`
	FieldPath     string            `json:"fieldPath,omitempty"`
	ResourceField *ResourceFieldRef `json:"resourceField,omitempty"`
}

// ResourceFieldRef is Kubernetes' resourceFieldRef: Resource (limits.cpu,
// requests.cpu, limits.memory, requests.memory) of Container, divided by
// Divisor (millicores for cpu, bytes for memory) and rounded up. A limit
// that is not set is the node's: every CPU, or the allocatable memory.
type ResourceFieldRef struct {
	Container string `json:"container"`
	Resource  string `json:"resource"`
	Divisor   int64  `json:"divisor"`
}

// HostPathVolume is a host path, checked against Type before any container
// starts (Kubernetes hostPath types: "", DirectoryOrCreate, Directory,
// FileOrCreate, File, Socket, CharDevice, BlockDevice).
type HostPathVolume struct {
	Path string `json:"path"`
	Type string `json:"type,omitempty"`
}

// EmptyDirVolume is a directory made for the pod and removed with it;
// Medium "Memory" makes it a tmpfs of at most SizeLimit bytes (0: no limit
// beyond the pod's memory).
type EmptyDirVolume struct {
	Medium    string `json:"medium,omitempty"`
	SizeLimit int64  `json:"sizeLimit,omitempty"`
}

// ContainerConfig is one container of a pod.
type ContainerConfig struct {
	// Name is a DNS-1123 label, unique in the pod.
	Name string `json:"name"`
	// Image is the image's name as the manifest gives it, for display and
	// for resolving Rootfs in an image store (Options.Images, ResolveImages).
	Image string `json:"image,omitempty"`
	// ImagePullPolicy is the manifest's imagePullPolicy ("Always",
	// "IfNotPresent", "Never"); empty means Kubernetes' default for Image
	// (see image.DefaultPullPolicy). PullImages honours it.
	ImagePullPolicy string `json:"imagePullPolicy,omitempty"`
	// ImageID is the image Image resolved to, as the kubelet reports it
	// (repository@sha256:digest); ResolveImages fills it.
	ImageID string `json:"imageID,omitempty"`
	// Rootfs is the image's root filesystem directory. It is never written:
	// each container gets its own writable overlay on top.
	Rootfs string `json:"rootfs"`
	// RootfsLayers, when set instead of Rootfs, are the directories of the
	// image's layers, topmost first, stacked as the overlay's lower layers
	// (image.Image.LayerDirs). Never written either.
	RootfsLayers []string `json:"rootfsLayers,omitempty"`
	// Command and Args are Kubernetes' command and args: the process run is
	// Command followed by Args. Whoever resolves Image (ResolveImages)
	// fills them from the image's entrypoint and cmd the way Kubernetes
	// does: Command replaces the entrypoint, Args replaces cmd.
	Command []string `json:"command,omitempty"`
	Args    []string `json:"args,omitempty"`
	// ExpandCommand: Command and Args may refer to the container's
	// variables as $(NAME), as Kubernetes' do ($$ is $).
	ExpandCommand bool `json:"expandCommand,omitempty"`
	// Env are the container's variables, in order; PATH gets a default
	// when missing.
	Env []EnvVar `json:"env,omitempty"`
	// WorkingDir is the absolute working directory; default "/".
	WorkingDir string `json:"workingDir,omitempty"`
	// UID and GID run the process; nil means root (whoever resolves Image
	// fills them from the image's USER when the manifest leaves them unset,
	// as Kubernetes does).
	UID *int64 `json:"uid,omitempty"`
	GID *int64 `json:"gid,omitempty"`
	// MemoryLimit is the container's own limit in bytes; 0 means none.
	MemoryLimit int64 `json:"memoryLimit,omitempty"`
	// MemoryRequest is only reported (resourceFieldRef requests.memory).
	MemoryRequest int64 `json:"memoryRequest,omitempty"`
	// CPULimitMillis caps the container's CPU time (1000 = one CPU) by a
	// CFS quota over a 100 ms period; CPURequestMillis weighs it against
	// other containers (cpu.shares / cpu.weight), as the kubelet does. 0
	// means none.
	CPULimitMillis int64 `json:"cpuLimitMillis,omitempty"`
	// EphemeralStorageLimit is the most disk the container may use for its
	// writable root filesystem and its logs (limits.ephemeral-storage);
	// past it the pod is evicted, as the kubelet does. 0: no limit.
	EphemeralStorageLimit int64 `json:"ephemeralStorageLimit,omitempty"`
	CPURequestMillis      int64 `json:"cpuRequestMillis,omitempty"`
	// ReadOnlyRootfs mounts the container's root read-only.
	ReadOnlyRootfs bool `json:"readOnlyRootfs,omitempty"`
	// Privileged gives every capability and device, and no masked paths.
	Privileged bool `json:"privileged,omitempty"`
	// AllowPrivilegeEscalation true clears no_new_privs (set by default,
	// and unless Privileged).
	AllowPrivilegeEscalation *bool `json:"allowPrivilegeEscalation,omitempty"`
	// RunAsNonRoot refuses to run the container as uid 0.
	RunAsNonRoot bool `json:"runAsNonRoot,omitempty"`
	// SupplementalGroups are extra groups of the process.
	SupplementalGroups []int64 `json:"supplementalGroups,omitempty"`
	// SupplementalGroupsPolicy is Kubernetes' supplementalGroupsPolicy:
	// "Merge" also gives the process the groups its user is a member of
	// in the image's /etc/group (ImageGroups, filled when the image is
	// resolved), "Strict" or "" only SupplementalGroups (and fsGroup).
	SupplementalGroupsPolicy string  `json:"supplementalGroupsPolicy,omitempty"`
	ImageGroups              []int64 `json:"imageGroups,omitempty"`
	// CapAdd and CapDrop change the default capability set ("NET_ADMIN",
	// "ALL"; with or without the CAP_ prefix).
	CapAdd  []string `json:"capAdd,omitempty"`
	CapDrop []string `json:"capDrop,omitempty"`
	// Seccomp is the container's seccomp profile; nil means
	// RuntimeDefault. Privileged containers run Unconfined.
	Seccomp *SeccompProfile `json:"seccomp,omitempty"`
	// Stdin keeps the container's stdin open; TTY gives it a terminal.
	Stdin bool `json:"stdin,omitempty"`
	TTY   bool `json:"tty,omitempty"`
	// StdinOnce closes the container's stdin when the first client
	// attached to it (AttachContainer) closes its input (Kubernetes'
	// stdinOnce).
	StdinOnce bool `json:"stdinOnce,omitempty"`
	// RestartPolicy overrides the pod's for this container (Kubernetes'
	// container restartPolicy): on an init container Always makes a native
	// sidecar; Never or OnFailure (on any container but a sidecar) say
	// whether it runs again after it exits.
	RestartPolicy RestartPolicy `json:"restartPolicy,omitempty"`
	// RestartPolicyRules are Kubernetes' container restart rules: the
	// first whose exit codes match an exit decides (Restart), else
	// RestartPolicy does. A container with rules has a RestartPolicy.
	RestartPolicyRules []RestartRule `json:"restartPolicyRules,omitempty"`
	// TerminationMessagePath is where in the container the process may
	// write why it ended (Kubernetes' default /dev/termination-log): a file
	// of the pod's mounted there, read when the container exits into its
	// state's message, at most 4096 bytes. Empty: none.
	// TerminationMessagePolicy FallbackToLogsOnError takes the last lines of
	// the log instead when the file is empty and the container failed
	// ("File", the default, never does).
	TerminationMessagePath   string `json:"terminationMessagePath,omitempty"`
	TerminationMessagePolicy string `json:"terminationMessagePolicy,omitempty"`
	// Ports are the container's ports; a HostPort forwards the host's port
	// to the pod.
	Ports []Port `json:"ports,omitempty"`
	// VolumeMounts mount the pod's Volumes.
	VolumeMounts []VolumeMount `json:"volumeMounts,omitempty"`
	// Mounts are bind mounts straight from host paths (for embedders).
	Mounts []BindMount `json:"mounts,omitempty"`
	// LivenessProbe, ReadinessProbe and StartupProbe are Kubernetes'
	// probes, run by the pod's lifecycle (see Probe).
	LivenessProbe  *Probe `json:"livenessProbe,omitempty"`
	ReadinessProbe *Probe `json:"readinessProbe,omitempty"`
	StartupProbe   *Probe `json:"startupProbe,omitempty"`
	// Lifecycle holds the postStart and preStop hooks and the stop signal.
	Lifecycle *Lifecycle `json:"lifecycle,omitempty"`
	// TargetContainer, only for an ephemeral container, names the
	// container whose PID namespace it joins (Kubernetes'
	// targetContainerName); empty: a PID namespace of its own, or the
	// pod's when shared.
	TargetContainer string `json:"targetContainerName,omitempty"`
	// User, when set, is who the container runs as, looked up in its
	// image as the image's USER is (a name or uid, with :group); it takes
	// the place of the image's USER. UID and GID, when set, win.
	User string `json:"user,omitempty"`
	// MaskedPaths and ReadonlyPaths, when not nil, replace podbox's default
	// masked and read-only paths (containerd's), as the CRI may ask.
	MaskedPaths   []string `json:"maskedPaths,omitempty"`
	ReadonlyPaths []string `json:"readonlyPaths,omitempty"`
	// LogPath, when set, is the absolute path of the log file of the
	// container (a managed pod's: the CRI's log_directory/log_path) in
	// place of one in the pod's log directory. podbox does not rotate it:
	// whoever set it does, and calls ReopenContainerLog.
	LogPath string `json:"logPath,omitempty"`
	// Extra is the embedder's own data about the container, kept with it
	// and never read by podbox.
	Extra json.RawMessage `json:"extra,omitempty"`
}

// EnvVar is a variable with a literal Value, or one taken from a pod field
// (FieldPath: metadata.name, metadata.namespace, metadata.uid,
// metadata.labels['KEY'], metadata.annotations['KEY'], spec.nodeName,
// spec.serviceAccountName, status.hostIP, status.hostIPs, status.podIP,
// status.podIPs) or a container's resource (ResourceField).
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	// Expand: Value may refer to the variables before it as $(NAME), as
	// Kubernetes' env values do ($$ is $; a name not defined stays as
	// written).
	Expand        bool              `json:"expand,omitempty"`
	FieldPath     string            `json:"fieldPath,omitempty"`
	ResourceField *ResourceFieldRef `json:"resourceField,omitempty"`
}

// Port is a container port, TCP or UDP; HostPort 0 means not published.
type Port struct {
	Name          string `json:"name,omitempty"`
	ContainerPort int    `json:"containerPort"`
	HostPort      int    `json:"hostPort,omitempty"`
	Protocol      string `json:"protocol,omitempty"` // TCP (default) or UDP
	HostIP        string `json:"hostIP,omitempty"`
}

// VolumeMount mounts the pod volume Name at Target. SubPath mounts a path
// inside the volume (it can not escape it); Propagation is "None"
// (default, private), "HostToContainer" (rslave) or "Bidirectional" (rshared).
type VolumeMount struct {
	Name        string `json:"name"`
	Target      string `json:"target"`
	ReadOnly    bool   `json:"readOnly,omitempty"`
	SubPath     string `json:"subPath,omitempty"`
	Propagation string `json:"propagation,omitempty"`
}

// BindMount is a host path bind-mounted into a container.
type BindMount struct {
	Source   string `json:"source"`
	Target   string `json:"target"`
	ReadOnly bool   `json:"readOnly,omitempty"`
	// Propagation is "None" (default, private), "HostToContainer"
	// (rslave) or "Bidirectional" (rshared), as a VolumeMount's.
	Propagation string `json:"propagation,omitempty"`
	// RecursiveReadOnly makes every submount read-only too (Kubernetes'
	// recursiveReadOnly); it needs ReadOnly and propagation None, and a
	// kernel with mount_setattr(2).
	RecursiveReadOnly bool `json:"recursiveReadOnly,omitempty"`
	// Image, set instead of Source, mounts the content of an image of the
	// store read-only (the CRI's image volumes, Kubernetes' image volume
	// source): AddContainer resolves it into ImageLayers (its layer
	// directories, topmost first) and leases it with the container.
	// SubPath is a directory inside the image to mount instead of its root.
	Image       string   `json:"image,omitempty"`
	ImageLayers []string `json:"imageLayers,omitempty"`
	SubPath     string   `json:"subPath,omitempty"`
}

// DefaultGracePeriod is Kubernetes' default terminationGracePeriodSeconds.
const DefaultGracePeriod = 30 * time.Second

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// ValidateName checks that name is a DNS-1123 label (lowercase letters,
// digits and '-', starting and ending with a letter or digit, at most 63
// characters), as Kubernetes requires of container names; the error matches
// errdefs.ErrInvalidArgument. Pod and container
// names become file and cgroup names, so nothing else is accepted.
func ValidateName(field, name string) error {
	var err error
	switch {
	case name == "":
		err = fmt.Errorf("%s: name is required", field)
	case len(name) > 63:
		err = fmt.Errorf("%s: %q is longer than 63 characters", field, name)
	case !dns1123Label.MatchString(name):
		err = fmt.Errorf("%s: %q is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)", field, name)
	}
	return errdefs.With(errdefs.ErrInvalidArgument, err)
}

// check is one validation rule; each returns errors that name a field path.
type check func(c *PodConfig) []error

var checks = []check{checkPodFields, checkContainers, checkUserNamespace}

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
	if c.Namespace != "" {
		if err := ValidateName("namespace", c.Namespace); err != nil {
			errs = append(errs, err)
		}
	}
	if c.Hostname != "" {
		if err := ValidateName("hostname", c.Hostname); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range append(PodRules(c), SysctlRules(c)...) {
		errs = append(errs, fmt.Errorf("%s: %s", p.Field, p.Msg))
	}
	if c.HostPID && c.ShareProcessNamespace {
		errs = append(errs, errors.New("shareProcessNamespace: a pod in the host's PID namespace (hostPID) can not share one of its own"))
	}
	return errs
}

// PodRules checks the pod's own fields that the API server checks alike
// (one set of rules: spec checks manifests with it, Validate
// configurations): its restartPolicy, grace period, active deadline, Job
// backoff limit, fsGroup and fsGroupChangePolicy, its resources (as
// ResourceRules: resources.limits[memory], limits[cpu], requests[cpu]),
// that it has a container and no ephemeral one yet.
func PodRules(c *PodConfig) []Problem {
	var ps []Problem
	add := func(f, format string, args ...any) { ps = append(ps, Problem{f, fmt.Sprintf(format, args...)}) }
	switch c.RestartPolicy {
	case "", RestartAlways, RestartOnFailure, RestartNever:
	default:
		add("restartPolicy", "%q is not Always, OnFailure or Never", c.RestartPolicy)
	}
	if g := c.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		add("terminationGracePeriodSeconds", "%d is negative", *g)
	}
	if d := c.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		add("activeDeadlineSeconds", "%d is not positive", *d)
	}
	if b := c.BackoffLimit; b != nil && *b < 0 {
		add("backoffLimit", "%d is negative", *b)
	}
	if p := idProblem("fsGroup", c.FSGroup); p != nil {
		ps = append(ps, *p)
	}
	switch c.FSGroupChangePolicy {
	case "", "Always", "OnRootMismatch":
	default:
		add("fsGroupChangePolicy", "%q is not Always or OnRootMismatch", c.FSGroupChangePolicy)
	}
	if len(c.Containers) == 0 && !c.Managed {
		add("containers", "a pod needs at least one container")
	}
	if len(c.EphemeralContainers) > 0 {
		// As the API server refuses them: they join a running pod.
		add("ephemeralContainers", "can not be set on create: add them to the running pod (podbox debug, AddEphemeralContainer)")
	}
	return append(ps, resourceRules(resources{memLimit: c.MemoryLimit, cpuLimit: c.CPULimitMillis, cpuRequest: c.CPURequestMillis}, nil, true)...)
}

var sysctlName = regexp.MustCompile(`^([a-z0-9]([-_a-z0-9]*[a-z0-9])?\.)*[a-z0-9]([-_a-z0-9]*[a-z0-9])?$`)

// SysctlRules checks the pod's sysctls as Kubernetes' validation checks
// them (one set of rules: spec checks manifests with it, Validate
// configurations): names in dot (or Kubernetes' slash) form, each set
// once, of the pod's IPC or network namespace (netns.ValidateSysctl), no
// net.* beside hostNetwork.
func SysctlRules(c *PodConfig) []Problem {
	var ps []Problem
	seen := map[string]bool{}
	for i, s := range c.Sysctls {
		f := fmt.Sprintf("sysctls[%d].name", i)
		add := func(format string, args ...any) { ps = append(ps, Problem{f, fmt.Sprintf(format, args...)}) }
		dot := netns.NormalizeSysctl(s.Name)
		switch {
		case !sysctlName.MatchString(strings.ReplaceAll(dot, "/", ".")) || len(s.Name) > 253:
			add("%q is not a sysctl name (dotted, such as net.ipv4.ip_forward)", s.Name)
		case errors.Is(netns.ValidateSysctl(s.Name), netns.ErrNotNamespaced):
			add("%q is not a namespaced sysctl (only kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.* and net.*)", s.Name)
		case strings.HasPrefix(dot, "net.") && c.HostNetwork:
			add("%q would change the host: net.* sysctls are not allowed with hostNetwork", s.Name)
		case seen[dot]:
			add("%q is set twice", s.Name)
		}
		seen[dot] = true
	}
	return ps
}

// MinMemoryLimit is the smallest memory limit a pod or container starts
// under: the cgroups and the container's first process are charged to it
// before the process runs (Docker refuses less than 6 MB for the same
// reason).
const MinMemoryLimit = 6 << 20

// ResourceRules checks a container's resources as the API server checks
// them (one set of rules: spec checks manifests with it, Validate a pod's
// containers): no limit or request negative, a memory limit of at least
// MinMemoryLimit, no request above its limit, no limit above the pod's
// (pod; nil: none). Fields and values are a manifest's
// (resources.limits[memory]: 5Mi).
func ResourceRules(c *ContainerConfig, pod *PodConfig) []Problem {
	var pr *resources
	if pod != nil {
		pr = &resources{memLimit: pod.MemoryLimit, cpuLimit: pod.CPULimitMillis}
	}
	return resourceRules(c.resources(), pr, true)
}

func (c *ContainerConfig) resources() resources {
	return resources{memLimit: c.MemoryLimit, memRequest: c.MemoryRequest, cpuLimit: c.CPULimitMillis,
		cpuRequest: c.CPURequestMillis, storageLimit: c.EphemeralStorageLimit}
}

// resources are the limits and requests of a pod or a container: bytes,
// millicores; 0 is none.
type resources struct{ memLimit, memRequest, cpuLimit, cpuRequest, storageLimit int64 }

// resourceRules: ResourceRules on r, pod the pod's limits (nil: none); all
// false checks only that none is negative (a container added to a running
// pod, whose CRI client validated it).
func resourceRules(r resources, pod *resources, all bool) []Problem {
	var ps []Problem
	type value struct {
		field   string
		v       int64
		qty     func(int64) string
		limit   bool
		request int64 // the request of a limit (-1: none)
		pod     int64 // the pod's limit (0: none)
	}
	podMem, podCPU := int64(0), int64(0)
	if pod != nil {
		podMem, podCPU = pod.memLimit, pod.cpuLimit
	}
	for _, v := range []value{
		{"limits[memory]", r.memLimit, bytesQty, true, r.memRequest, podMem},
		{"limits[cpu]", r.cpuLimit, milliQty, true, r.cpuRequest, podCPU},
		{"limits[ephemeral-storage]", r.storageLimit, bytesQty, true, -1, 0},
		{"requests[memory]", r.memRequest, bytesQty, false, -1, 0},
		{"requests[cpu]", r.cpuRequest, milliQty, false, -1, 0},
	} {
		f := "resources." + v.field
		if v.v < 0 {
			ps = append(ps, Problem{f, v.qty(v.v) + " is negative"})
		}
		if !all || !v.limit || v.v <= 0 {
			continue
		}
		if v.field == "limits[memory]" && v.v < MinMemoryLimit {
			ps = append(ps, Problem{f, fmt.Sprintf("%s is below %s, the least a container (or pod) needs to start", bytesQty(v.v), bytesQty(MinMemoryLimit))})
		}
		if v.pod > 0 && v.v > v.pod {
			ps = append(ps, Problem{f, fmt.Sprintf("%s is above the pod's limit %s", v.qty(v.v), v.qty(v.pod))})
		}
		if v.request > v.v {
			rf := "resources.requests" + strings.TrimPrefix(v.field, "limits")
			ps = append(ps, Problem{rf, fmt.Sprintf("%s is above the limit %s", v.qty(v.request), v.qty(v.v))})
		}
	}
	return ps
}

// bytesQty writes n bytes as a manifest would: 64Mi, 1G, 1500.
func bytesQty(n int64) string {
	for _, u := range []struct {
		s string
		n int64
	}{{"Ei", 1 << 60}, {"Pi", 1 << 50}, {"Ti", 1 << 40}, {"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10},
		{"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9}, {"M", 1e6}, {"k", 1e3}} {
		if n != 0 && n%u.n == 0 {
			return fmt.Sprintf("%d%s", n/u.n, u.s)
		}
	}
	return fmt.Sprint(n)
}

// milliQty writes n millicores as a manifest would: 2, 500m.
func milliQty(n int64) string {
	if n%1000 == 0 {
		return fmt.Sprint(n / 1000)
	}
	return fmt.Sprintf("%dm", n)
}

func checkContainers(c *PodConfig) []error {
	var errs []error
	volumes := map[string]bool{}
	for _, p := range append(VolumeRules(c.Volumes), ContainerNameRules(c)...) {
		errs = append(errs, fmt.Errorf("%s: %s", p.Field, p.Msg))
	}
	for i, v := range c.Volumes {
		f := fmt.Sprintf("volumes[%d]", i)
		if msg := VolumeSourceRule(v.Name, v.sources()); msg != "" {
			errs = append(errs, fmt.Errorf("%s: %s", f, msg))
		}
		if iv := v.Image; iv != nil {
			errs = append(errs, checkLayers(f+".image.layers", iv.Layers, true)...)
		}
		volumes[v.Name] = true
	}
	all := make([]ContainerConfig, 0, len(c.InitContainers)+len(c.Containers))
	all = append(append(all, c.InitContainers...), c.Containers...)
	for i, ctr := range all {
		f := fmt.Sprintf("containers[%d]", i-len(c.InitContainers))
		if i < len(c.InitContainers) {
			f = fmt.Sprintf("initContainers[%d]", i)
		}
		if ctr.TargetContainer != "" {
			errs = append(errs, fmt.Errorf("%s.targetContainerName: only ephemeral containers have one", f))
		}
		errs = append(errs, checkContainer(f, &ctr, volumes, i < len(c.InitContainers), c)...)
	}
	return errs
}

// Problem is one broken rule: the field, relative to what was checked
// ("restartPolicyRules[0].action"), and what is wrong with it.
type Problem struct{ Field, Msg string }

// MaxRestartRules and MaxRestartRuleValues are the API server's bounds on
// a container's restartPolicyRules and each rule's exit codes.
const (
	MaxRestartRules      = 20
	MaxRestartRuleValues = 255
)

// ContainerRules checks what a container says about its restarts, its
// termination message, its working directory, its variables' names and its
// seccomp profile, as the API server checks them (one set of rules: spec
// checks manifests with it, Validate configurations). init: an init
// container, for which restartPolicy Always makes a native sidecar.
func ContainerRules(c *ContainerConfig, init bool) []Problem {
	var ps []Problem
	add := func(f, format string, args ...any) { ps = append(ps, Problem{f, fmt.Sprintf(format, args...)}) }
	switch c.RestartPolicy {
	case "", RestartAlways, RestartOnFailure, RestartNever:
	default:
		add("restartPolicy", "%q is not Always, OnFailure or Never", c.RestartPolicy)
	}
	if len(c.RestartPolicyRules) > 0 {
		switch {
		case c.RestartPolicy == "":
			add("restartPolicyRules", "a container with restart rules needs its own restartPolicy")
		case init && c.RestartPolicy == RestartAlways:
			add("restartPolicyRules", "a native sidecar (restartPolicy Always) restarts on every exit: it takes no restart rules")
		}
	}
	if len(c.RestartPolicyRules) > MaxRestartRules {
		add("restartPolicyRules", "%d rules, at most %d", len(c.RestartPolicyRules), MaxRestartRules)
	}
	for i, r := range c.RestartPolicyRules {
		f := fmt.Sprintf("restartPolicyRules[%d]", i)
		if r.Action != RuleRestart {
			add(f+".action", "%q is not Restart", r.Action)
		}
		ec := r.ExitCodes
		if ec == nil {
			add(f+".exitCodes", "is required")
			continue
		}
		if ec.Operator != RuleIn && ec.Operator != RuleNotIn {
			add(f+".exitCodes.operator", "%q is not In or NotIn", ec.Operator)
		}
		if len(ec.Values) > MaxRestartRuleValues {
			add(f+".exitCodes.values", "%d values, at most %d", len(ec.Values), MaxRestartRuleValues)
		}
		seen := map[int32]bool{}
		for j, v := range ec.Values {
			if seen[v] {
				add(fmt.Sprintf("%s.exitCodes.values[%d]", f, j), "%d is given twice", v)
			}
			seen[v] = true
		}
	}
	if p := c.TerminationMessagePath; p != "" {
		if !path.IsAbs(p) || path.Clean(p) == "/" || slices.Contains(strings.Split(p, "/"), "..") || len(p) > 4096 {
			add("terminationMessagePath", "%q is not an absolute path below / without ..", p)
		}
	}
	switch c.TerminationMessagePolicy {
	case "", TerminationMessageFile, TerminationMessageFallbackToLogs:
	default:
		add("terminationMessagePolicy", "%q is not File or FallbackToLogsOnError", c.TerminationMessagePolicy)
	}
	if c.WorkingDir != "" && !path.IsAbs(c.WorkingDir) {
		add("workingDir", "%q is not an absolute path", c.WorkingDir)
	}
	for j, e := range c.Env {
		if e.Name == "" || strings.ContainsAny(e.Name, "=\x00") {
			add(fmt.Sprintf("env[%d].name", j), "%q is not a variable name", e.Name)
		}
		if strings.ContainsRune(e.Value, 0) {
			add(fmt.Sprintf("env[%d].value", j), "has a NUL byte")
		}
	}
	ps = append(ps, IDRules(c)...)
	for _, p := range SeccompRules(c.Seccomp) {
		ps = append(ps, Problem{"securityContext.seccompProfile." + p.Field, p.Msg})
	}
	return ps
}

// MaxID is the largest uid or gid Kubernetes accepts.
const MaxID = 1<<31 - 1

// IDRules checks the IDs a container runs with as the API server checks
// them, each between 0 and MaxID: its user (securityContext.runAsUser),
// group (runAsGroup) and supplementalGroups (one set of rules: spec checks
// a manifest's pod and container securityContexts with it).
func IDRules(c *ContainerConfig) []Problem {
	var ps []Problem
	for _, id := range []struct {
		f  string
		id *int64
	}{{"runAsUser", c.UID}, {"runAsGroup", c.GID}} {
		if p := idProblem("securityContext."+id.f, id.id); p != nil {
			ps = append(ps, *p)
		}
	}
	for i := range c.SupplementalGroups {
		if p := idProblem(fmt.Sprintf("securityContext.supplementalGroups[%d]", i), &c.SupplementalGroups[i]); p != nil {
			ps = append(ps, *p)
		}
	}
	return ps
}

// idProblem: id, when set, is not a uid or gid Kubernetes accepts.
func idProblem(field string, id *int64) *Problem {
	if id == nil || (*id >= 0 && *id <= MaxID) {
		return nil
	}
	return &Problem{field, fmt.Sprintf("%d is not between 0 and %d", *id, MaxID)}
}

// MountRules checks a container's volume mounts as the API server checks
// them (one set of rules: spec checks manifests with it): a volume of the
// pod (volumes, by name), an absolute target other than / and mounted once,
// a subPath relative and inside the volume, a known propagation
// (Bidirectional only in a privileged container).
func MountRules(c *ContainerConfig, volumes map[string]bool) []Problem {
	var ps []Problem
	targets := map[string]bool{}
	for i, m := range c.VolumeMounts {
		f := fmt.Sprintf("volumeMounts[%d]", i)
		add := func(field, format string, args ...any) {
			ps = append(ps, Problem{f + "." + field, fmt.Sprintf(format, args...)})
		}
		if !volumes[m.Name] {
			add("name", "volume %q is not defined", m.Name)
		}
		t := path.Clean(m.Target)
		switch {
		case !path.IsAbs(m.Target):
			add("target", "%q is not an absolute path", m.Target)
		case t == "/":
			add("target", "a volume can not be mounted on /")
		case targets[t]:
			add("target", "%q is mounted twice", m.Target)
		}
		targets[t] = true
		switch {
		case m.SubPath == "":
		case path.IsAbs(m.SubPath):
			add("subPath", "%q is absolute; it must be relative to the volume", m.SubPath)
		case slices.Contains(strings.Split(m.SubPath, "/"), ".."):
			add("subPath", "%q has \"..\"; it must stay inside the volume", m.SubPath)
		}
		switch m.Propagation {
		case "", "None", "HostToContainer":
		case "Bidirectional":
			if !c.Privileged {
				add("propagation", "Bidirectional is only allowed in a privileged container")
			}
		default:
			add("propagation", "%q is not None, HostToContainer or Bidirectional", m.Propagation)
		}
	}
	return ps
}

// checkContainer checks one container's own fields, f being its field path;
// init: an init container.
func checkContainer(f string, ctr *ContainerConfig, volumes map[string]bool, init bool, pod *PodConfig) []error {
	var errs []error
	for _, p := range ContainerRules(ctr, init) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", f, p.Field, p.Msg))
	}
	for _, p := range MountRules(ctr, volumes) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", f, p.Field, p.Msg))
	}
	if len(ctr.RootfsLayers) == 0 && !path.IsAbs(ctr.Rootfs) {
		errs = append(errs, fmt.Errorf("%s.rootfs: %q is not an absolute path", f, ctr.Rootfs))
	}
	errs = append(errs, checkLayers(f+".rootfsLayers", ctr.RootfsLayers, false)...)
	if argv := ctr.argv(); len(argv) == 0 || argv[0] == "" {
		errs = append(errs, fmt.Errorf("%s.command: a command is required", f))
	}
	// A container added to a running pod (managed, ephemeral) was checked
	// by its CRI client: only its signs are, as containerd checks them.
	rs := resourceRules(ctr.resources(), nil, false)
	if pod != nil {
		rs = ResourceRules(ctr, pod)
	}
	for _, p := range rs {
		errs = append(errs, fmt.Errorf("%s.%s: %s", f, p.Field, p.Msg))
	}
	if ctr.RunAsNonRoot && (ctr.UID == nil || *ctr.UID == 0) {
		errs = append(errs, fmt.Errorf("%s.runAsNonRoot: the container would run as root: set runAsUser, or use an image whose USER is not root", f))
	}
	if ctr.AllowPrivilegeEscalation != nil && !*ctr.AllowPrivilegeEscalation && ctr.Privileged {
		errs = append(errs, fmt.Errorf("%s.allowPrivilegeEscalation: false contradicts privileged", f))
	}
	for j, m := range ctr.Mounts {
		mf := fmt.Sprintf("%s.mounts[%d]", f, j)
		if _, err := mounts.VolumeBind(m.ReadOnly, m.RecursiveReadOnly, m.Propagation); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", mf, err))
		}
		switch {
		case m.Image != "" || len(m.ImageLayers) > 0:
			if m.Source != "" {
				errs = append(errs, fmt.Errorf("%s: an image mount has no source", mf))
			}
			if !m.ReadOnly {
				errs = append(errs, fmt.Errorf("%s.readOnly: an image mount is read-only", mf))
			}
			for k, l := range m.ImageLayers {
				if !path.IsAbs(l) || strings.ContainsAny(l, ":,") {
					errs = append(errs, fmt.Errorf("%s.imageLayers[%d]: %q is not an absolute path without ':' or ','", mf, k, l))
				}
			}
		case m.SubPath != "":
			errs = append(errs, fmt.Errorf("%s.subPath: only image mounts have one", mf))
		case !path.IsAbs(m.Source):
			errs = append(errs, fmt.Errorf("%s.source: %q is not an absolute path", mf, m.Source))
		}
		if !path.IsAbs(m.Target) || path.Clean(m.Target) == "/" {
			errs = append(errs, fmt.Errorf("%s.target: %q is not an absolute path below /", mf, m.Target))
		}
	}
	return errs
}

// checkLayers checks layer directories of an overlay: absolute paths
// without ':' or ',' (which the overlay's options would split on); at
// least one when required.
func checkLayers(f string, layers []string, required bool) []error {
	var errs []error
	if required && len(layers) == 0 {
		errs = append(errs, fmt.Errorf("%s: the image's layers are required (resolve the image in an image store, Options.Images)", f))
	}
	for j, l := range layers {
		if !path.IsAbs(l) || strings.ContainsAny(l, ":,") {
			errs = append(errs, fmt.Errorf("%s[%d]: %q is not an absolute path without ':' or ','", f, j, l))
		}
	}
	return errs
}

// ContainerNameRules checks the names of a pod's init and app containers
// as the API server checks them (one set of rules: spec checks manifests
// with it, Validate configurations): DNS-1123 labels, none used twice.
func ContainerNameRules(c *PodConfig) []Problem {
	var ps []Problem
	seen := map[string]string{}
	for i := range len(c.InitContainers) + len(c.Containers) {
		f, name := fmt.Sprintf("initContainers[%d]", i), ""
		if i < len(c.InitContainers) {
			name = c.InitContainers[i].Name
		} else {
			f, name = fmt.Sprintf("containers[%d]", i-len(c.InitContainers)), c.Containers[i-len(c.InitContainers)].Name
		}
		if err := ValidateName(f+".name", name); err != nil {
			ps = append(ps, Problem{f + ".name", strings.TrimPrefix(err.Error(), f+".name: ")})
			continue
		}
		if prev, ok := seen[name]; ok {
			ps = append(ps, Problem{f + ".name", fmt.Sprintf("container name %q is already used by %s", name, prev)})
		}
		seen[name] = f
	}
	return ps
}

// VolumeRules checks a pod's volumes as the API server checks them (one
// set of rules: spec checks manifests with it, Validate configurations):
// each named by a DNS-1123 label, once; a persistentVolumeClaim's
// claimName a DNS-1123 subdomain (it names a directory); an image volume's
// reference given. Their one source is VolumeSourceRule's.
func VolumeRules(vs []Volume) []Problem {
	var ps []Problem
	seen := map[string]bool{}
	for i, v := range vs {
		f := fmt.Sprintf("volumes[%d]", i)
		if err := ValidateName(f+".name", v.Name); err != nil {
			ps = append(ps, Problem{f + ".name", strings.TrimPrefix(err.Error(), f+".name: ")})
		} else if seen[v.Name] {
			ps = append(ps, Problem{f + ".name", fmt.Sprintf("volume %q is defined twice", v.Name)})
		}
		seen[v.Name] = true
		if pvc := v.PersistentVolumeClaim; pvc != nil {
			if pvc.ClaimName == "" {
				ps = append(ps, Problem{f + ".persistentVolumeClaim.claimName", "is required"})
			} else if err := mounts.ValidateVolumeName(pvc.ClaimName); err != nil {
				ps = append(ps, Problem{f + ".persistentVolumeClaim.claimName", err.Error()})
			}
		}
		if iv := v.Image; iv != nil && iv.Reference == "" {
			ps = append(ps, Problem{f + ".image.reference", "is required"})
		}
	}
	return ps
}

// VolumeSourceRule checks that a volume has exactly one source, sources
// naming those it sets (one rule: spec checks a manifest's volumes with it,
// Validate configurations); "" when it has one.
func VolumeSourceRule(name string, sources []string) string {
	switch len(sources) {
	case 0:
		return fmt.Sprintf("volume %q has no source (hostPath, emptyDir, configMap, secret, downwardAPI, projected, persistentVolumeClaim or image)", name)
	case 1:
		return ""
	}
	return fmt.Sprintf("volume %q has %d sources (%s), exactly one is allowed", name, len(sources), strings.Join(sources, ", "))
}

// sources names the sources v sets; Files stands for a manifest's
// configMap, secret, downwardAPI and projected volumes.
func (v *Volume) sources() []string {
	var names []string
	for _, s := range []struct {
		name string
		set  bool
	}{{"hostPath", v.HostPath != nil}, {"emptyDir", v.EmptyDir != nil}, {"files", v.Files != nil},
		{"persistentVolumeClaim", v.PersistentVolumeClaim != nil}, {"image", v.Image != nil}} {
		if s.set {
			names = append(names, s.name)
		}
	}
	return names
}

func (c *PodConfig) hostname() string {
	if c.Hostname != "" {
		return c.Hostname
	}
	return c.Name
}

// MaxGracePeriod caps a grace period: a longer one (Kubernetes allows any
// int64 of seconds) would overflow the time arithmetic and end the wait at
// once instead of never.
const MaxGracePeriod = 100 * 365 * 24 * time.Hour

// GracePeriod is how long a stop waits for the containers after SIGTERM:
// terminationGracePeriodSeconds, else DefaultGracePeriod.
func (c *PodConfig) GracePeriod() time.Duration { return c.gracePeriod() }

func (c *PodConfig) gracePeriod() time.Duration {
	if c.TerminationGracePeriodSeconds == nil {
		return DefaultGracePeriod
	}
	return CapSeconds(*c.TerminationGracePeriodSeconds, MaxGracePeriod)
}

// CapSeconds is s seconds, at most limit; negative s is 0.
func CapSeconds(s int64, limit time.Duration) time.Duration {
	switch {
	case s <= 0:
		return 0
	case s >= int64(limit/time.Second):
		return limit
	}
	return time.Duration(s) * time.Second
}

// argv is the process a container runs: Command followed by Args.
func (c *ContainerConfig) argv() []string {
	return append(append([]string(nil), c.Command...), c.Args...)
}

// groups are the supplementary groups of the container's processes: its
// own and the pod's fsGroup.
func (c *ContainerConfig) groups(pod *PodConfig) []int {
	var gs []int
	for _, g := range c.SupplementalGroups {
		gs = append(gs, int(g))
	}
	for _, g := range c.ImageGroups {
		if !slices.Contains(gs, int(g)) && (c.GID == nil || g != *c.GID) {
			gs = append(gs, int(g))
		}
	}
	if pod.FSGroup != nil {
		gs = append(gs, int(*pod.FSGroup))
	}
	return gs
}

// ids returns the container's uid and gid, root when unset.
func (c *ContainerConfig) ids() (uid, gid int) {
	if c.UID != nil {
		uid = int(*c.UID)
	}
	if c.GID != nil {
		gid = int(*c.GID)
	}
	return uid, gid
}
