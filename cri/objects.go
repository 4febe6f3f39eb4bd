package cri

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"time"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/sandbox"
)

// sandboxMeta is what the CRI knows of a sandbox that podbox does not:
// kept in the pod's PodConfig.Extra.
type sandboxMeta struct {
	ID           string                         `json:"id"`
	Metadata     *runtimeapi.PodSandboxMetadata `json:"metadata"`
	LogDirectory string                         `json:"logDirectory,omitempty"`
	Handler      string                         `json:"runtimeHandler,omitempty"`
	Annotations  map[string]string              `json:"annotations,omitempty"`
	Labels       map[string]string              `json:"labels,omitempty"`
	NetworkNode  bool                           `json:"networkNode,omitempty"`
	PIDMode      runtimeapi.NamespaceMode       `json:"pidMode,omitempty"`
	IPCMode      runtimeapi.NamespaceMode       `json:"ipcMode,omitempty"`
	CgroupParent string                         `json:"cgroupParent,omitempty"`
}

// containerMeta is the CRI's side of a container: ContainerConfig.Extra.
type containerMeta struct {
	ID          string                        `json:"id"`
	Metadata    *runtimeapi.ContainerMetadata `json:"metadata"`
	Image       *runtimeapi.ImageSpec         `json:"image,omitempty"`
	ImageRef    string                        `json:"imageRef,omitempty"`
	ImageID     string                        `json:"imageId,omitempty"`
	Labels      map[string]string             `json:"labels,omitempty"`
	Annotations map[string]string             `json:"annotations,omitempty"`
	LogPath     string                        `json:"logPath,omitempty"`
	Mounts      []*runtimeapi.Mount           `json:"mounts,omitempty"`
	Created     time.Time                     `json:"created"`
}

// newID returns a random ID of 64 hex digits, as containerd's.
func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// podboxName turns a CRI name into a DNS label podbox accepts: the name
// itself when it is one and plain is set; else a cleaned, shortened form
// with a hash of the whole key, so that two CRI objects never share one.
func podboxName(name string, plain bool, key ...string) string {
	if plain && sandbox.ValidateName("name", name) == nil {
		return name
	}
	h := sha256.Sum256([]byte(strings.Join(append([]string{name}, key...), "\x00")))
	base := strings.Trim(nonLabel.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 50 {
		base = strings.TrimRight(base[:50], "-")
	}
	if base == "" {
		base = "x"
	}
	return base + "-" + hex.EncodeToString(h[:4])
}

// pod is a sandbox as the server sees it: the pod's status and its CRI
// metadata.
type pod struct {
	st   *sandbox.PodStatus
	meta *sandboxMeta
}

func (p *pod) ref() string { return p.st.Ref() }

// ready: the sandbox's pause and lifecycle run.
func (p *pod) ready() bool {
	return p.st.Phase == sandbox.PhaseRunning || p.st.Phase == sandbox.PhasePending
}

// pods returns the CRI's sandboxes: the managed pods that carry CRI metadata.
func (s *Server) pods(ctx context.Context) ([]*pod, error) {
	all, err := s.m.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []*pod
	for _, st := range all {
		if !st.Config.Managed || len(st.Config.Extra) == 0 {
			continue
		}
		var meta sandboxMeta
		if json.Unmarshal(st.Config.Extra, &meta) != nil || meta.ID == "" || meta.Metadata == nil {
			continue
		}
		out = append(out, &pod{st: st, meta: &meta})
	}
	return out, nil
}

// findPod finds a sandbox by ID or by a unique prefix of its ID.
func (s *Server) findPod(ctx context.Context, id string) (*pod, error) {
	if id == "" {
		return nil, invalid("sandbox ID is required")
	}
	pods, err := s.pods(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	var found *pod
	for _, p := range pods {
		if p.meta.ID == id {
			return p, nil
		}
		if strings.HasPrefix(p.meta.ID, id) {
			if found != nil {
				return nil, invalid("sandbox ID prefix %q is ambiguous", id)
			}
			found = p
		}
	}
	if found == nil {
		return nil, notFound("sandbox %q not found", id)
	}
	return found, nil
}

// ctr is a container as the server sees it.
type ctr struct {
	pod  *pod
	cfg  *sandbox.ContainerConfig
	cs   *sandbox.ContainerStatus
	meta *containerMeta
}

// containers lists the CRI containers of pod p.
func (p *pod) containers() []*ctr {
	var out []*ctr
	for i := range p.st.Config.Containers {
		cfg := &p.st.Config.Containers[i]
		var meta containerMeta
		if json.Unmarshal(cfg.Extra, &meta) != nil || meta.ID == "" {
			continue
		}
		var cs *sandbox.ContainerStatus
		for j := range p.st.Containers {
			if p.st.Containers[j].Name == cfg.Name {
				cs = &p.st.Containers[j]
			}
		}
		if cs == nil {
			continue
		}
		out = append(out, &ctr{pod: p, cfg: cfg, cs: cs, meta: &meta})
	}
	return out
}

// allContainers lists the containers of every sandbox.
func (s *Server) allContainers(ctx context.Context) ([]*ctr, error) {
	pods, err := s.pods(ctx)
	if err != nil {
		return nil, grpcError(err)
	}
	var out []*ctr
	for _, p := range pods {
		out = append(out, p.containers()...)
	}
	return out, nil
}

// findContainer finds a container by ID or a unique prefix of it.
func (s *Server) findContainer(ctx context.Context, id string) (*ctr, error) {
	if id == "" {
		return nil, invalid("container ID is required")
	}
	all, err := s.allContainers(ctx)
	if err != nil {
		return nil, err
	}
	var found *ctr
	for _, c := range all {
		if c.meta.ID == id {
			return c, nil
		}
		if strings.HasPrefix(c.meta.ID, id) {
			if found != nil {
				return nil, invalid("container ID prefix %q is ambiguous", id)
			}
			found = c
		}
	}
	if found == nil {
		return nil, notFound("container %q not found", id)
	}
	return found, nil
}

// state is the CRI's state of the container.
func (c *ctr) state() runtimeapi.ContainerState {
	switch c.cs.State {
	case sandbox.StateRunning:
		return runtimeapi.ContainerState_CONTAINER_RUNNING
	case sandbox.StateTerminated:
		return runtimeapi.ContainerState_CONTAINER_EXITED
	case sandbox.StateWaiting:
		if c.cs.Reason == sandbox.ReasonCreating {
			return runtimeapi.ContainerState_CONTAINER_CREATED
		}
	}
	return runtimeapi.ContainerState_CONTAINER_UNKNOWN
}

func attemptKey(a uint32) string { return strconv.FormatUint(uint64(a), 10) }

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}
