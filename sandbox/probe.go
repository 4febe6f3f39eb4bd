package sandbox

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// Probe is a Kubernetes probe: one action (Exec, HTTPGet, TCPSocket or
// GRPC) and its timing. Zero values mean the kubelet's defaults: no
// initial delay, a timeout of 1 s, a period of 10 s, 1 success and 3
// failures in a row.
type Probe struct {
	Exec      *ExecAction      `json:"exec,omitempty"`
	HTTPGet   *HTTPGetAction   `json:"httpGet,omitempty"`
	TCPSocket *TCPSocketAction `json:"tcpSocket,omitempty"`
	GRPC      *GRPCAction      `json:"grpc,omitempty"`

	InitialDelaySeconds int32 `json:"initialDelaySeconds,omitempty"`
	TimeoutSeconds      int32 `json:"timeoutSeconds,omitempty"`
	PeriodSeconds       int32 `json:"periodSeconds,omitempty"`
	SuccessThreshold    int32 `json:"successThreshold,omitempty"`
	FailureThreshold    int32 `json:"failureThreshold,omitempty"`
	// TerminationGracePeriodSeconds, for a liveness or startup probe, is
	// the grace period of the kill its failure causes (default the pod's).
	TerminationGracePeriodSeconds *int64 `json:"terminationGracePeriodSeconds,omitempty"`
}

// ExecAction runs Command in the container, as Exec does; exit 0 is
// success.
type ExecAction struct {
	Command []string `json:"command"`
}

// HTTPGetAction is a GET of Scheme://Host:Port/Path; a status from 200 to
// 399 is success. Host defaults to the pod's IP (127.0.0.1 for a
// hostNetwork pod); Port is a number, or PortName one of the container's
// named ports.
type HTTPGetAction struct {
	Scheme   string       `json:"scheme,omitempty"` // HTTP (default) or HTTPS, not verified
	Host     string       `json:"host,omitempty"`
	Path     string       `json:"path,omitempty"`
	Port     int          `json:"port,omitempty"`
	PortName string       `json:"portName,omitempty"`
	Headers  []HTTPHeader `json:"headers,omitempty"`
}

// HTTPHeader is one request header; a "Host" header sets the request's
// host.
type HTTPHeader struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// TCPSocketAction succeeds when a TCP connection to Host:Port opens.
type TCPSocketAction struct {
	Host     string `json:"host,omitempty"`
	Port     int    `json:"port,omitempty"`
	PortName string `json:"portName,omitempty"`
}

// GRPCAction calls grpc.health.v1.Health/Check on the pod's IP and Port for
// Service (default ""); SERVING is success.
type GRPCAction struct {
	Port    int    `json:"port"`
	Service string `json:"service,omitempty"`
}

func (p *Probe) timeout() time.Duration {
	if p.TimeoutSeconds <= 0 {
		return time.Second
	}
	return time.Duration(p.TimeoutSeconds) * time.Second
}

func (p *Probe) period() time.Duration {
	if p.PeriodSeconds <= 0 {
		return 10 * time.Second
	}
	return time.Duration(p.PeriodSeconds) * time.Second
}

func (p *Probe) successThreshold() int {
	if p.SuccessThreshold <= 0 {
		return 1
	}
	return int(p.SuccessThreshold)
}

func (p *Probe) failureThreshold() int {
	if p.FailureThreshold <= 0 {
		return 3
	}
	return int(p.FailureThreshold)
}

// action is what a probe or a hook does, without its timing.
type action struct {
	exec    *ExecAction
	httpGet *HTTPGetAction
	tcp     *TCPSocketAction
	grpc    *GRPCAction
	sleep   *SleepAction
}

// maxProbeOutput is how much of an exec probe's output or an HTTP body is
// read, as the kubelet's 10 KiB.
const maxProbeOutput = 10 << 10

// probeUserAgent is sent by HTTP probes and hooks: the kubelet's starts
// with kube-probe/, which applications look for.
const probeUserAgent = "kube-probe/podbox"

// target is where network probes of a container go by default.
type target struct {
	m    *Manager
	pod  string
	ctr  *ContainerConfig
	host string // the pod's IP, or 127.0.0.1 with hostNetwork
}

func newTarget(m *Manager, st *PodStatus, ctr *ContainerConfig) *target {
	host := st.PodIP
	if host == "" {
		host = "127.0.0.1"
	}
	return &target{m: m, pod: st.Name, ctr: ctr, host: host}
}

// port resolves a port given by number or by the name of one of the
// container's ports.
func (t *target) port(n int, name string) (int, error) {
	if name == "" {
		return n, nil
	}
	for _, p := range t.ctr.Ports {
		if p.Name == name && (p.Protocol == "" || p.Protocol == "TCP") {
			return p.ContainerPort, nil
		}
	}
	return 0, fmt.Errorf("container %q has no TCP port named %q", t.ctr.Name, name)
}

// run does a once, within ctx: nil is success; an error says why not.
func (t *target) run(ctx context.Context, a action) error {
	switch {
	case a.exec != nil:
		return t.exec(ctx, a.exec.Command)
	case a.httpGet != nil:
		return t.httpGet(ctx, a.httpGet)
	case a.tcp != nil:
		port, err := t.port(a.tcp.Port, a.tcp.PortName)
		if err != nil {
			return err
		}
		host := a.tcp.Host
		if host == "" {
			host = t.host
		}
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return c.Close()
	case a.grpc != nil:
		return t.grpcCheck(ctx, a.grpc)
	case a.sleep != nil:
		select {
		case <-time.After(time.Duration(a.sleep.Seconds) * time.Second):
		case <-ctx.Done():
		}
		return nil
	}
	return errors.New("no action")
}

// limitedBuffer keeps the first maxProbeOutput bytes written to it.
type limitedBuffer struct{ bytes.Buffer }

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxProbeOutput - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t *target) exec(ctx context.Context, argv []string) error {
	var out limitedBuffer
	code, err := t.m.Exec(ctx, t.pod, t.ctr.Name, &ExecProcess{Args: argv, Stdout: &out, Stderr: &out})
	if ctx.Err() != nil {
		return fmt.Errorf("command %q timed out", argv)
	}
	if err != nil {
		return err
	}
	if code != 0 {
		msg := strings.TrimSpace(out.String())
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("command %q exited with %d%s", argv, code, msg)
	}
	return nil
}

func (t *target) httpGet(ctx context.Context, h *HTTPGetAction) error {
	port, err := t.port(h.Port, h.PortName)
	if err != nil {
		return err
	}
	host := h.Host
	if host == "" {
		host = t.host
	}
	scheme := strings.ToLower(h.Scheme)
	if scheme == "" {
		scheme = "http"
	}
	path := h.Path
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u, err := url.Parse(scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port)) + path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", probeUserAgent)
	req.Header.Set("Accept", "*/*")
	for _, hd := range h.Headers {
		if strings.EqualFold(hd.Name, "Host") {
			req.Host = hd.Value
			continue
		}
		req.Header.Add(hd.Name, hd.Value)
	}
	client := &http.Client{
		Transport: &http.Transport{
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
			DisableKeepAlives: true,
			Proxy:             nil,
		},
		// As the kubelet: redirects are followed on the same host, up to
		// 10; one to another host ends the probe with the redirect's own
		// status, a success.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Hostname() != via[0].URL.Hostname() {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("stopped after 10 redirects")
			}
			return nil
		},
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeOutput))
	if resp.StatusCode < 200 || resp.StatusCode >= 400 {
		msg := strings.TrimSpace(string(body))
		if msg != "" {
			msg = ": " + msg
		}
		return fmt.Errorf("HTTP probe failed with statuscode: %d%s", resp.StatusCode, msg)
	}
	return nil
}

func (t *target) grpcCheck(ctx context.Context, g *GRPCAction) error {
	conn, err := grpc.NewClient(net.JoinHostPort(t.host, strconv.Itoa(g.Port)),
		grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithUserAgent(probeUserAgent))
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: g.Service})
	if err != nil {
		return fmt.Errorf("gRPC health check: %w", err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("service unhealthy (responded with %q)", s)
	}
	return nil
}

// probeAction is p's action.
func (p *Probe) action() action {
	return action{exec: p.Exec, httpGet: p.HTTPGet, tcp: p.TCPSocket, grpc: p.GRPC}
}

// probeKind names a probe's role.
type probeKind string

const (
	probeStartup   probeKind = "startup"
	probeLiveness  probeKind = "liveness"
	probeReadiness probeKind = "readiness"
)

// probeResult is what a probe worker tells the pod's lifecycle: a
// readiness change, a startup probe that passed, or a liveness or startup
// probe that failed failureThreshold times in a row.
type probeResult struct {
	name string
	pid  int
	kind probeKind
	ok   bool
	msg  string
}

// probeWorker runs one probe of one container instance until ctx ends,
// the way the kubelet's worker does: after the initial delay (counted from
// the container's start), once per period, each try within the timeout;
// a result counts once it repeats successThreshold (failureThreshold)
// times in a row. Liveness and readiness wait for gate (the startup probe
// passed). A liveness or startup probe stops once it reports.
func probeWorker(ctx context.Context, t *target, in *instance, kind probeKind, p *Probe, gate <-chan struct{}, out chan<- probeResult, quit <-chan struct{}) {
	select {
	case <-gate:
	case <-ctx.Done():
		return
	}
	if d := time.Until(in.started.Add(time.Duration(p.InitialDelaySeconds) * time.Second)); d > 0 {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return
		}
	}
	// The reported state: readiness starts out failed (not ready),
	// liveness succeeded, startup unknown. last and run count the tries
	// in a row that gave the same result.
	cur := map[probeKind]int{probeReadiness: 0, probeLiveness: 1, probeStartup: -1}[kind]
	last, run := -1, 0
	tick := time.NewTicker(p.period())
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, p.timeout())
		err := t.run(pctx, p.action())
		cancel()
		if ctx.Err() != nil {
			return
		}
		res := 0
		if err == nil {
			res = 1
		}
		if res == last {
			run++
		} else {
			last, run = res, 1
		}
		need := p.failureThreshold()
		if res == 1 {
			need = p.successThreshold()
		}
		if res != cur && run >= need {
			cur = res
			r := probeResult{name: in.name, pid: in.pid, kind: kind, ok: res == 1}
			if err != nil {
				r.msg = err.Error()
			}
			select {
			case out <- r:
			case <-ctx.Done():
				return
			case <-quit:
				return
			}
			if kind != probeReadiness {
				return
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return
		}
	}
}
