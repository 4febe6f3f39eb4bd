package cri

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
)

func TestCanonicalName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                   "docker.io/library/busybox:latest",
		"busybox:1.36":              "docker.io/library/busybox:1.36",
		"team/app":                  "docker.io/team/app:latest",
		"registry.k8s.io/pause:3.9": "registry.k8s.io/pause:3.9",
		"localhost:5000/app":        "localhost:5000/app:latest",
		"gcr.io/a/b@sha256:" + strings.Repeat("a", 64): "gcr.io/a/b@sha256:" + strings.Repeat("a", 64),
	} {
		got, err := canonicalName(in)
		if err != nil || got != want {
			t.Errorf("canonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "UPPER/case", "a b"} {
		if _, err := canonicalName(bad); !errors.Is(err, image.ErrInvalidName) {
			t.Errorf("canonicalName(%q): %v, want ErrInvalidName", bad, err)
		}
	}
}

func TestIsImageID(t *testing.T) {
	hex := strings.Repeat("0123456789abcdef", 4)
	for in, want := range map[string]bool{
		"sha256:" + hex: true, hex: true, hex[:12]: true, hex[:11]: false,
		"busybox": false, "sha256:" + hex + "0": false, "sha256:XYZ": false,
	} {
		if _, got := isImageID(in); got != want {
			t.Errorf("isImageID(%q) = %v, want %v", in, got, want)
		}
	}
}

// podboxName turns any CRI name into a DNS label, distinct for distinct
// keys, and keeps a valid one as it is when asked to.
func TestPodboxName(t *testing.T) {
	if got := podboxName("web", true); got != "web" {
		t.Errorf("podboxName(web, plain) = %q", got)
	}
	long := "create-PodSandbox-for-container-" + strings.Repeat("f", 60)
	seen := map[string]bool{}
	for _, in := range []struct {
		name string
		key  []string
	}{
		{"web", nil}, {"web", []string{"uid-2", "1"}}, {long, nil}, {"UPPER_case.name", nil}, {"---", nil}, {"", nil},
	} {
		got := podboxName(in.name, false, in.key...)
		if err := sandbox.ValidateName("name", got); err != nil {
			t.Errorf("podboxName(%q) = %q: %v", in.name, got, err)
		}
		if seen[got] {
			t.Errorf("podboxName(%q, %q) = %q, given to another name too", in.name, in.key, got)
		}
		seen[got] = true
	}
}

// The library's error classes reach the kubelet as the CRI's codes.
func TestGRPCError(t *testing.T) {
	for err, want := range map[error]codes.Code{
		fmt.Errorf("pod x: %w", sandbox.ErrNotExist):       codes.NotFound,
		fmt.Errorf("image: %w", image.ErrNotFound):         codes.NotFound,
		fmt.Errorf("container: %w", sandbox.ErrExist):      codes.AlreadyExists,
		fmt.Errorf("bad: %w", sandbox.ErrInvalid):          codes.InvalidArgument,
		fmt.Errorf("pod: %w", sandbox.ErrNotRunning):       codes.FailedPrecondition,
		errors.New("something else"):                       codes.Unknown,
		status.Error(codes.Unimplemented, "kept as it is"): codes.Unimplemented,
	} {
		if got := status.Code(grpcError(err)); got != want {
			t.Errorf("grpcError(%v) = %v, want %v", err, got, want)
		}
	}
	if grpcError(nil) != nil {
		t.Error("grpcError(nil) is not nil")
	}
}

// applyResources and resourcesOf agree: what the kubelet sets is what
// ContainerStatus reports back.
func TestResourcesRoundTrip(t *testing.T) {
	in := &runtimeapi.LinuxContainerResources{CpuShares: 512, CpuPeriod: 100000, CpuQuota: 50000, MemoryLimitInBytes: 64 << 20}
	var cfg sandbox.ContainerConfig
	applyResources(&cfg, in)
	if cfg.CPURequestMillis != 500 || cfg.CPULimitMillis != 500 || cfg.MemoryLimit != 64<<20 {
		t.Fatalf("applyResources: %+v", cfg)
	}
	out := resourcesOf(&cfg)
	if out.CpuShares != 512 || out.CpuQuota != 50000 || out.CpuPeriod != 100000 || out.MemoryLimitInBytes != 64<<20 {
		t.Fatalf("resourcesOf: %+v", out)
	}
}

func TestParseEndpoint(t *testing.T) {
	if p, err := ParseEndpoint("unix:///run/podbox/cri.sock"); err != nil || p != "/run/podbox/cri.sock" {
		t.Errorf("ParseEndpoint(unix://...) = %q, %v", p, err)
	}
	for _, bad := range []string{"tcp://127.0.0.1:1", "unix://relative.sock", "relative.sock"} {
		if _, err := ParseEndpoint(bad); err == nil {
			t.Errorf("ParseEndpoint(%q) accepted", bad)
		}
	}
}
