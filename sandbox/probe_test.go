package sandbox

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// The probe actions against servers of this process on 127.0.0.1 (a
// hostNetwork pod's probe target); the root tests run them against
// containers.

func portOf(t *testing.T, addr string) int {
	t.Helper()
	_, p, _ := net.SplitHostPort(addr)
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// grpcHealthServer serves the gRPC health protocol on 127.0.0.1 until the
// test ends.
func grpcHealthServer(t *testing.T) (*health.Server, *grpc.Server, int) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := health.NewServer()
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, hs)
	go gs.Serve(l)
	t.Cleanup(gs.Stop)
	return hs, gs, portOf(t, l.Addr().String())
}

func probeOnce(t *target, a action) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.run(ctx, a)
}

func TestHTTPGetProbe(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			if r.Header.Get("X-Probe") != "yes" || r.Host != "example.test" || !strings.HasPrefix(r.UserAgent(), "kube-probe/") {
				http.Error(w, "headers "+r.Header.Get("X-Probe")+" "+r.Host+" "+r.UserAgent(), 500)
			}
		case "/redirect-here":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/redirect-away":
			http.Redirect(w, r, "http://192.0.2.1/x", http.StatusFound)
		default:
			http.Error(w, "nope", 503)
		}
	}))
	defer srv.Close()
	port := portOf(t, srv.Listener.Addr().String())
	ctr := &ContainerConfig{Name: "web", Ports: []Port{{Name: "http", ContainerPort: port}}}
	tg := &target{ctr: ctr, host: "127.0.0.1"}
	hdrs := []HTTPHeader{{Name: "X-Probe", Value: "yes"}, {Name: "Host", Value: "example.test"}}
	for _, tt := range []struct {
		get  HTTPGetAction
		fail string
	}{
		{get: HTTPGetAction{Path: "ok", PortName: "http", Headers: hdrs}},
		{get: HTTPGetAction{Path: "/ok", Port: port}, fail: "statuscode: 500"},
		{get: HTTPGetAction{Path: "/missing", Port: port}, fail: "statuscode: 503: nope"},
		{get: HTTPGetAction{Path: "/redirect-here", Port: port, Headers: hdrs}},
		// Redirected to another host: the redirect is the answer.
		{get: HTTPGetAction{Path: "/redirect-away", Port: port}},
		{get: HTTPGetAction{Path: "/", PortName: "nope"}, fail: `no TCP port named "nope"`},
		{get: HTTPGetAction{Path: "/ok", Port: port, Scheme: "HTTPS"}, fail: "http"},
	} {
		err := probeOnce(tg, action{httpGet: &tt.get})
		switch {
		case tt.fail == "" && err != nil:
			t.Errorf("%+v: %v", tt.get, err)
		case tt.fail != "" && (err == nil || !strings.Contains(err.Error(), tt.fail)):
			t.Errorf("%+v: %v, want an error with %q", tt.get, err, tt.fail)
		}
	}
	tls := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer tls.Close()
	if err := probeOnce(tg, action{httpGet: &HTTPGetAction{Scheme: "HTTPS", Port: portOf(t, tls.Listener.Addr().String())}}); err != nil {
		t.Errorf("HTTPS, not verified: %v", err)
	}
}

func TestTCPAndGRPCProbes(t *testing.T) {
	hs, gs, port := grpcHealthServer(t)
	tg := &target{ctr: &ContainerConfig{Name: "c", Ports: []Port{{Name: "grpc", ContainerPort: port}}}, host: "127.0.0.1"}
	if err := probeOnce(tg, action{tcp: &TCPSocketAction{PortName: "grpc"}}); err != nil {
		t.Errorf("tcpSocket: %v", err)
	}
	if err := probeOnce(tg, action{grpc: &GRPCAction{Port: port}}); err != nil {
		t.Errorf("grpc: %v", err)
	}
	hs.SetServingStatus("api", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := probeOnce(tg, action{grpc: &GRPCAction{Port: port, Service: "api"}}); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("grpc, not serving: %v", err)
	}
	if err := probeOnce(tg, action{grpc: &GRPCAction{Port: port, Service: "other"}}); err == nil {
		t.Error("grpc, unknown service: no error")
	}
	gs.Stop()
	if err := probeOnce(tg, action{tcp: &TCPSocketAction{Port: port}}); err == nil {
		t.Error("tcpSocket to a closed port: no error")
	}
}

// A worker reports a result once it repeats its threshold times in a row.
func TestProbeWorkerThresholds(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := portOf(t, l.Addr().String())
	l.Close() // closed: every try fails
	in := &instance{name: "c", pid: 7, started: time.Now()}
	out := make(chan probeResult, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	open := make(chan struct{})
	close(open)
	tg := &target{ctr: &ContainerConfig{Name: "c"}, host: "127.0.0.1"}
	p := &Probe{TCPSocket: &TCPSocketAction{Port: port}, PeriodSeconds: 1, FailureThreshold: 2}
	start := time.Now()
	go probeWorker(ctx, tg, in, probeLiveness, p, open, out, nil)
	select {
	case r := <-out:
		if r.ok || r.kind != probeLiveness || r.pid != 7 || !strings.Contains(r.msg, "refused") {
			t.Errorf("result %+v", r)
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("reported after %s, before the second try", d)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no result")
	}
}
