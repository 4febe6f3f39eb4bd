package cri

import (
	"context"
	"encoding/json"
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"

	"github.com/podbox/podbox/sandbox"
)

// eventHub fans the CRI's container events out to the GetContainerEvents
// streams.
type eventHub struct {
	mu   sync.Mutex
	subs map[chan *runtimeapi.ContainerEventResponse]struct{}
}

func newEventHub() *eventHub {
	return &eventHub{subs: map[chan *runtimeapi.ContainerEventResponse]struct{}{}}
}

func (h *eventHub) publish(ev *runtimeapi.ContainerEventResponse) {
	ev.CreatedAt = nowNanos()
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.subs {
		select {
		case c <- ev:
		default: // a subscriber that does not read loses events, never blocks others
		}
	}
}

func (h *eventHub) subscribe() (<-chan *runtimeapi.ContainerEventResponse, func()) {
	c := make(chan *runtimeapi.ContainerEventResponse, 256)
	h.mu.Lock()
	h.subs[c] = struct{}{}
	h.mu.Unlock()
	return c, func() {
		h.mu.Lock()
		delete(h.subs, c)
		h.mu.Unlock()
	}
}

func (h *eventHub) sandbox(id string, t runtimeapi.ContainerEventType) {
	h.publish(&runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: t})
}

func (h *eventHub) container(c *ctr, t runtimeapi.ContainerEventType) {
	h.containerID(c.meta.ID, c.pod.meta.ID, t)
}

func (h *eventHub) containerID(id, sandboxID string, t runtimeapi.ContainerEventType) {
	h.publish(&runtimeapi.ContainerEventResponse{ContainerId: id, ContainerEventType: t, PodSandboxStatus: &runtimeapi.PodSandboxStatus{Id: sandboxID}})
}

// watch turns the library's events (containers' starts and exits, seen by
// whichever process runs a pod's lifecycle) into the CRI's, until ctx ends.
func (s *Server) watch(ctx context.Context) {
	evs, err := s.m.Events(ctx)
	if err != nil {
		return
	}
	for ev := range evs {
		var t runtimeapi.ContainerEventType
		switch ev.Type {
		case sandbox.EventContainerStarted:
			t = runtimeapi.ContainerEventType_CONTAINER_STARTED_EVENT
		case sandbox.EventContainerExited:
			t = runtimeapi.ContainerEventType_CONTAINER_STOPPED_EVENT
		default:
			continue
		}
		st, err := s.m.Status(ctx, ev.Pod)
		if err != nil || !st.Config.Managed {
			continue
		}
		p := &pod{st: st, meta: &sandboxMeta{}}
		if json.Unmarshal(st.Config.Extra, p.meta) != nil {
			continue
		}
		for _, c := range p.containers() {
			if c.cfg.Name == ev.Container {
				resp := &runtimeapi.ContainerEventResponse{
					ContainerId: c.meta.ID, ContainerEventType: t,
					PodSandboxStatus: p.status(), ContainersStatuses: []*runtimeapi.ContainerStatus{c.status()},
				}
				s.events.publish(resp)
			}
		}
	}
}

// GetContainerEvents streams the events of the sandboxes and containers:
// created and deleted as this server makes and removes them, started and
// stopped as their lifecycles record it.
func (s *Server) GetContainerEvents(req *runtimeapi.GetEventsRequest, stream runtimeapi.RuntimeService_GetContainerEventsServer) error {
	c, cancel := s.events.subscribe()
	defer cancel()
	for {
		select {
		case ev := <-c:
			if err := stream.Send(ev); err != nil {
				return err
			}
		case <-stream.Context().Done():
			return nil
		}
	}
}
