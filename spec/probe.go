package spec

import (
	"fmt"
	"strings"

	"github.com/podbox/podbox/sandbox"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
)

// httpGetFields, probe and lifecycle are the allow-list of probes and
// hooks: every handler the kubelet runs (a hook's deprecated tcpSocket is
// refused, as the kubelet fails it at run time).
func httpGetFields() *node {
	return obj(with(leaves("path", "port", "host", "scheme"), fields{
		"httpHeaders": list(obj(leaves("name", "value"))),
	}))
}

var probe = obj(with(leaves("initialDelaySeconds", "timeoutSeconds", "periodSeconds",
	"successThreshold", "failureThreshold", "terminationGracePeriodSeconds"), fields{
	"exec":      obj(leaves("command")),
	"httpGet":   httpGetFields(),
	"tcpSocket": obj(leaves("port", "host")),
	"grpc":      obj(leaves("port", "service")),
}))

func lifecycleHandler() *node {
	return obj(fields{
		"exec":    obj(leaves("command")),
		"httpGet": httpGetFields(),
		"sleep":   obj(leaves("seconds")),
	})
}

var lifecycle = obj(fields{
	"postStart":  lifecycleHandler(),
	"preStop":    lifecycleHandler(),
	"stopSignal": leaf,
})

// checkProbes checks probes and lifecycle hooks as the API server does,
// and that a port given by name is one of the container's.
func checkProbes(p *v1.Pod) []error {
	var errs []error
	for _, c := range allContainers(p) {
		k := c.c
		sidecar := k.RestartPolicy != nil && *k.RestartPolicy == v1.ContainerRestartPolicyAlways
		if c.init && !sidecar {
			for _, f := range []struct {
				name string
				set  bool
			}{{"lifecycle", k.Lifecycle != nil}, {"livenessProbe", k.LivenessProbe != nil},
				{"readinessProbe", k.ReadinessProbe != nil}, {"startupProbe", k.StartupProbe != nil}} {
				if f.set {
					errs = append(errs, invalid(c.field+"."+f.name, "may not be set for init containers without restartPolicy: Always"))
				}
			}
			continue
		}
		errs = append(errs, checkProbe(c.field+".livenessProbe", k, k.LivenessProbe, true)...)
		errs = append(errs, checkProbe(c.field+".readinessProbe", k, k.ReadinessProbe, false)...)
		errs = append(errs, checkProbe(c.field+".startupProbe", k, k.StartupProbe, true)...)
		if l := k.Lifecycle; l != nil {
			errs = append(errs, checkHandler(c.field+".lifecycle.postStart", p, k, l.PostStart)...)
			errs = append(errs, checkHandler(c.field+".lifecycle.preStop", p, k, l.PreStop)...)
			if s := l.StopSignal; s != nil {
				f := c.field + ".lifecycle.stopSignal"
				switch {
				case p.Spec.OS == nil || p.Spec.OS.Name == "":
					errs = append(errs, invalid(f, "may only be set when spec.os.name is set (linux)"))
				case !sandbox.ValidSignal(string(*s)):
					errs = append(errs, invalid(f, "%q is not a signal name (such as SIGTERM or SIGUSR1)", *s))
				}
			}
		}
	}
	if o := p.Spec.OS; o != nil && o.Name != v1.Linux {
		errs = append(errs, invalid("spec.os.name", "%q: podbox runs linux pods only", o.Name))
	}
	return errs
}

func checkProbe(f string, c *v1.Container, pr *v1.Probe, oneSuccess bool) []error {
	if pr == nil {
		return nil
	}
	var errs []error
	for _, n := range []struct {
		name string
		v    int32
	}{{"initialDelaySeconds", pr.InitialDelaySeconds}, {"timeoutSeconds", pr.TimeoutSeconds},
		{"periodSeconds", pr.PeriodSeconds}, {"successThreshold", pr.SuccessThreshold}, {"failureThreshold", pr.FailureThreshold}} {
		if n.v < 0 {
			errs = append(errs, invalid(f+"."+n.name, "%d is negative", n.v))
		}
	}
	if oneSuccess && pr.SuccessThreshold > 1 {
		errs = append(errs, invalid(f+".successThreshold", "must be 1 for a liveness or startup probe"))
	}
	if g := pr.TerminationGracePeriodSeconds; g != nil {
		switch {
		case !oneSuccess:
			errs = append(errs, invalid(f+".terminationGracePeriodSeconds", "may not be set for a readiness probe"))
		case *g <= 0:
			errs = append(errs, invalid(f+".terminationGracePeriodSeconds", "%d: must be greater than 0", *g))
		}
	}
	h := pr.ProbeHandler
	set, more := checkExecHTTP(f, c, h.Exec, h.HTTPGet)
	errs = append(errs, more...)
	if h.TCPSocket != nil {
		set = append(set, "tcpSocket")
		errs = append(errs, checkPort(f+".tcpSocket.port", c, h.TCPSocket.Port)...)
	}
	if h.GRPC != nil {
		set = append(set, "grpc")
		if h.GRPC.Port < 1 || h.GRPC.Port > 65535 {
			errs = append(errs, invalid(f+".grpc.port", "%d is not a port number (1-65535)", h.GRPC.Port))
		}
	}
	return append(errs, checkOneHandler(f, set, "exec, httpGet, tcpSocket or grpc")...)
}

func checkOneHandler(f string, set []string, kinds string) []error {
	switch len(set) {
	case 0:
		return []error{invalid(f, "needs a handler (%s)", kinds)}
	case 1:
		return nil
	}
	return []error{invalid(f, "has %d handlers (%s), exactly one is allowed", len(set), strings.Join(set, ", "))}
}

func checkHandler(f string, p *v1.Pod, c *v1.Container, h *v1.LifecycleHandler) []error {
	if h == nil {
		return nil
	}
	set, errs := checkExecHTTP(f, c, h.Exec, h.HTTPGet)
	if h.Sleep != nil {
		set = append(set, "sleep")
		grace := int64(sandbox.DefaultGracePeriod.Seconds())
		if g := p.Spec.TerminationGracePeriodSeconds; g != nil {
			grace = *g
		}
		if s := h.Sleep.Seconds; s < 0 || s > grace {
			errs = append(errs, invalid(f+".sleep.seconds", "%d: must be from 0 to the pod's grace period (%d s)", s, grace))
		}
	}
	return append(errs, checkOneHandler(f, set, "exec, httpGet or sleep")...)
}

// checkExecHTTP checks the exec and httpGet handlers that probes and hooks
// share, and names those that are set.
func checkExecHTTP(f string, c *v1.Container, e *v1.ExecAction, h *v1.HTTPGetAction) (set []string, errs []error) {
	if e != nil {
		set = append(set, "exec")
		errs = append(errs, checkExec(f+".exec", e)...)
	}
	if h != nil {
		set = append(set, "httpGet")
		errs = append(errs, checkHTTPGet(f+".httpGet", c, h)...)
	}
	return set, errs
}

func checkExec(f string, e *v1.ExecAction) []error {
	if len(e.Command) == 0 || e.Command[0] == "" {
		return []error{invalid(f+".command", "a command is required")}
	}
	return nil
}

func checkHTTPGet(f string, c *v1.Container, h *v1.HTTPGetAction) []error {
	errs := checkPort(f+".port", c, h.Port)
	switch h.Scheme {
	case "", v1.URISchemeHTTP, v1.URISchemeHTTPS:
	default:
		errs = append(errs, invalid(f+".scheme", "%q is not HTTP or HTTPS", h.Scheme))
	}
	for i, hd := range h.HTTPHeaders {
		for _, msg := range validation.IsHTTPHeaderName(hd.Name) {
			errs = append(errs, invalid(fmt.Sprintf("%s.httpHeaders[%d].name", f, i), "%q: %s", hd.Name, msg))
		}
	}
	return errs
}

// checkPort: a number from 1 to 65535, or the name of one of the
// container's TCP ports (the kubelet would fail every try of a probe whose
// named port is missing; podbox says so before it starts).
func checkPort(f string, c *v1.Container, p intstr.IntOrString) []error {
	if p.Type == intstr.Int {
		if p.IntVal < 1 || p.IntVal > 65535 {
			return []error{invalid(f, "%d is not a port number (1-65535)", p.IntVal)}
		}
		return nil
	}
	if msgs := validation.IsValidPortName(p.StrVal); len(msgs) > 0 {
		return []error{invalid(f, "%q: %s", p.StrVal, msgs[0])}
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal && (cp.Protocol == "" || cp.Protocol == v1.ProtocolTCP) {
			return nil
		}
	}
	return []error{invalid(f, "container %q has no TCP port named %q", c.Name, p.StrVal)}
}

func convertPort(p intstr.IntOrString) (int, string) {
	if p.Type == intstr.Int {
		return int(p.IntVal), ""
	}
	return 0, p.StrVal
}

func convertHTTPGet(h *v1.HTTPGetAction) *sandbox.HTTPGetAction {
	if h == nil {
		return nil
	}
	a := &sandbox.HTTPGetAction{Scheme: string(h.Scheme), Host: h.Host, Path: h.Path}
	a.Port, a.PortName = convertPort(h.Port)
	for _, hd := range h.HTTPHeaders {
		a.Headers = append(a.Headers, sandbox.HTTPHeader{Name: hd.Name, Value: hd.Value})
	}
	return a
}

func convertExec(e *v1.ExecAction) *sandbox.ExecAction {
	if e == nil {
		return nil
	}
	return &sandbox.ExecAction{Command: e.Command}
}

func convertProbe(p *v1.Probe) *sandbox.Probe {
	if p == nil {
		return nil
	}
	q := &sandbox.Probe{
		Exec:                          convertExec(p.Exec),
		HTTPGet:                       convertHTTPGet(p.HTTPGet),
		InitialDelaySeconds:           p.InitialDelaySeconds,
		TimeoutSeconds:                p.TimeoutSeconds,
		PeriodSeconds:                 p.PeriodSeconds,
		SuccessThreshold:              p.SuccessThreshold,
		FailureThreshold:              p.FailureThreshold,
		TerminationGracePeriodSeconds: p.TerminationGracePeriodSeconds,
	}
	if t := p.TCPSocket; t != nil {
		q.TCPSocket = &sandbox.TCPSocketAction{Host: t.Host}
		q.TCPSocket.Port, q.TCPSocket.PortName = convertPort(t.Port)
	}
	if g := p.GRPC; g != nil {
		q.GRPC = &sandbox.GRPCAction{Port: int(g.Port)}
		if g.Service != nil {
			q.GRPC.Service = *g.Service
		}
	}
	return q
}

func convertHandler(h *v1.LifecycleHandler) *sandbox.LifecycleHandler {
	if h == nil {
		return nil
	}
	l := &sandbox.LifecycleHandler{Exec: convertExec(h.Exec), HTTPGet: convertHTTPGet(h.HTTPGet)}
	if h.Sleep != nil {
		l.Sleep = &sandbox.SleepAction{Seconds: h.Sleep.Seconds}
	}
	return l
}

func convertLifecycle(l *v1.Lifecycle) *sandbox.Lifecycle {
	if l == nil {
		return nil
	}
	c := &sandbox.Lifecycle{PostStart: convertHandler(l.PostStart), PreStop: convertHandler(l.PreStop)}
	if l.StopSignal != nil {
		c.StopSignal = string(*l.StopSignal)
	}
	return c
}
