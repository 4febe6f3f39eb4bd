package sandbox

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/podbox/podbox/cgroups"
)

// TestConcurrentAdmission: 16 pods created at once against room for 5 are
// admitted exactly 5 times; the others are refused whole, with nothing made.
func TestConcurrentAdmission(t *testing.T) {
	e := newTestEnv(t)
	const mi = 1 << 20
	e.m.opts.AllocatableMemory = 5*16*mi + 8*mi
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		admitted []string
		refused  int
	)
	start := make(chan struct{})
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.container("app", "sleep", "3600")
			c.MemoryLimit = 16 * mi
			name := fmt.Sprintf("p%d", i)
			<-start
			_, err := e.m.Create(context.Background(), &PodConfig{Name: name, Containers: []ContainerConfig{c}})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				admitted = append(admitted, name)
			case errors.Is(err, cgroups.ErrInsufficientMemory):
				refused++
			default:
				t.Errorf("create %s: %v", name, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(admitted) != 5 || refused != 11 {
		t.Fatalf("admitted %d (%v), refused %d; want 5 and 11", len(admitted), admitted, refused)
	}
	pods, err := e.m.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range pods {
		sum += p.MemoryQuota
	}
	if len(pods) != 5 || sum > e.m.opts.AllocatableMemory {
		t.Errorf("%d pods listed holding %d bytes; want 5 within %d", len(pods), sum, e.m.opts.AllocatableMemory)
	}
}
