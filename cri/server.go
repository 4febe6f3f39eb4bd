// Package cri is podbox's CRI v1 server (k8s.io/cri-api): the kubelet's
// RuntimeService and ImageService mapped onto the sandbox and image
// packages. It keeps no state of its own: a sandbox is a managed podbox
// pod (sandbox.PodConfig.Managed) whose lifecycle runs in a monitor apart
// from the server, and the CRI's IDs and metadata are kept in the pod's
// own state (PodConfig.Extra, ContainerConfig.Extra). Restarting the
// server never touches a running pod, and `podbox ps` lists CRI pods in
// their Kubernetes namespaces.
//
// Exec, Attach and PortForward go through the Kubernetes streaming
// library (k8s.io/cri-streaming), whose HTTP server the kubelet (or
// crictl) is sent to.
package cri

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
	"k8s.io/cri-streaming/pkg/streaming"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/sandbox"
)

// RuntimeName is what Version reports as the runtime's name.
const RuntimeName = "podbox"

// Config is what a Server runs on.
type Config struct {
	// Manager runs the pods; its Options.Images is the image store.
	Manager *sandbox.Manager
	// Registries gives mirrors and insecure registries to pulls.
	Registries *image.RegistriesConfig
	// RunPod creates the managed pod cfg and runs its lifecycle apart from
	// the server (podbox's detached monitor), so that the pod outlives the
	// server; it returns once the pod runs, or having removed what it made.
	RunPod func(ctx context.Context, cfg *sandbox.PodConfig) error
	// StreamAddress is where the streaming server listens (host:port;
	// default 127.0.0.1:0, a free port of the loopback).
	StreamAddress string
	// Version is podbox's version, reported by Version.
	Version string
	// CgroupDriver is what RuntimeConfig reports: "cgroupfs" (podbox makes
	// cgroups by path).
	CgroupDriver string
}

// Server serves the CRI's RuntimeService and ImageService.
type Server struct {
	runtimeapi.UnimplementedRuntimeServiceServer
	runtimeapi.UnimplementedImageServiceServer

	cfg    Config
	m      *sandbox.Manager
	images *image.Store
	stream streaming.Server
	grpc   *grpc.Server
	events *eventHub
	cancel context.CancelFunc

	// locks serialise the calls on one sandbox or container ID (the CRI's
	// calls on one object are not meant to overlap).
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

// New returns a Server for cfg; its streaming server listens at once.
func New(cfg Config) (*Server, error) {
	if cfg.Manager == nil || cfg.RunPod == nil {
		return nil, errors.New("cri: Config.Manager and Config.RunPod are required")
	}
	if cfg.Manager.Images() == nil {
		return nil, errors.New("cri: the Manager needs an image store (sandbox.Options.Images)")
	}
	if cfg.StreamAddress == "" {
		cfg.StreamAddress = "127.0.0.1:0"
	}
	if cfg.CgroupDriver == "" {
		cfg.CgroupDriver = "cgroupfs"
	}
	s := &Server{cfg: cfg, m: cfg.Manager, images: cfg.Manager.Images(), locks: map[string]*sync.Mutex{}, events: newEventHub()}
	ln, err := net.Listen("tcp", cfg.StreamAddress)
	if err != nil {
		return nil, fmt.Errorf("cri: streaming server: %w", err)
	}
	scfg := streaming.DefaultConfig
	scfg.Addr = ln.Addr().String()
	stream, err := streaming.NewServer(scfg, streamRuntime{s})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("cri: streaming server: %w", err)
	}
	s.stream = stream
	go http.Serve(ln, stream)
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.watch(ctx)
	s.grpc = grpc.NewServer()
	runtimeapi.RegisterRuntimeServiceServer(s.grpc, s)
	runtimeapi.RegisterImageServiceServer(s.grpc, s)
	return s, nil
}

// Serve serves the CRI on the unix socket at path (made anew, mode 0660)
// until Stop.
func (s *Server) Serve(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("cri: listen on %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("cri: listen on %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("cri: listen on %s: %w", path, err)
	}
	os.Chmod(path, 0o660)
	return s.grpc.Serve(ln)
}

// Stop stops serving; the pods go on.
func (s *Server) Stop() {
	s.grpc.Stop()
	s.stream.Stop()
	s.cancel()
}

// lock serialises the calls on one object.
func (s *Server) lock(id string) func() {
	s.mu.Lock()
	l := s.locks[id]
	if l == nil {
		l = &sync.Mutex{}
		s.locks[id] = l
	}
	s.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// ParseEndpoint turns a CRI endpoint (unix:///run/podbox/cri.sock, or a
// plain path) into the socket's path.
func ParseEndpoint(ep string) (string, error) {
	p, ok := strings.CutPrefix(ep, "unix://")
	if !ok && strings.Contains(ep, "://") {
		return "", fmt.Errorf("endpoint %q: only unix:// sockets are served", ep)
	}
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("endpoint %q: the socket path must be absolute", ep)
	}
	return p, nil
}

// grpcError maps the library's errors onto the CRI's codes, by their
// errdefs class.
func grpcError(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Code(errdefs.GRPCCode(err)), err.Error())
}

func notFound(format string, args ...any) error {
	return status.Errorf(codes.NotFound, format, args...)
}

func invalid(format string, args ...any) error {
	return status.Errorf(codes.InvalidArgument, format, args...)
}
