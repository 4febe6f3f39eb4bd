package cri

import (
	"sync"

	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// eventHub fans the container events the server causes out to the
// GetContainerEvents streams.
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

// GetContainerEvents streams the events of the containers and sandboxes
// this server creates, starts, stops and removes.
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
