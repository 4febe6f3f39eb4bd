package netns

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
)

// The pod network benchmarks time one call per iteration and report the
// median and 90th percentile besides the mean; the namespaces are made
// outside the timer. Run them as:
//
//	go test -run xxx -bench . -benchtime 30x ./netns/
//
// BenchmarkAttach is "pod network ready" on a host already set up: veth
// pair (peer made in the pod namespace), hairpin, address, eth0 and lo up,
// default route, lease. BenchmarkAttachFirstInProcess adds the per-process
// host check a fresh Network value does on its first Attach (bridge,
// sysctls, nftables base chains), what a one-shot CLI pays.
func BenchmarkAttach(b *testing.B) { benchAttach(b, false) }

func BenchmarkAttachFirstInProcess(b *testing.B) { benchAttach(b, true) }

func benchAttach(b *testing.B, fresh bool) {
	testutil.RequiresRoot(b)
	n := testNetwork(b)
	warm := newTestPod(b, n, "warm")
	mustAttach(b, n, warm) // the bridge and table exist from here on
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := newTestPod(b, n, fmt.Sprintf("p%d-%d", b.N, i))
		net := n
		if fresh {
			net, _ = New(n.Config())
		}
		b.StartTimer()
		start := time.Now()
		if _, err := net.Attach(context.Background(), p.name, p.netns); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
	}
	b.StopTimer()
	reportPercentiles(b, times)
}

// BenchmarkDetach is teardown in the sandbox's order: the pod's namespace
// is released (unpinned, last process reaped) and then Detach runs.
// BenchmarkDetachLive detaches while the namespace still exists, so the
// veth is deleted by Detach (ip link del).
func BenchmarkDetach(b *testing.B) { benchDetach(b, true) }

func BenchmarkDetachLive(b *testing.B) { benchDetach(b, false) }

func benchDetach(b *testing.B, releaseFirst bool) {
	testutil.RequiresRoot(b)
	n := testNetwork(b)
	var times []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		p := newTestPod(b, n, fmt.Sprintf("p%d-%d", b.N, i))
		mustAttach(b, n, p)
		if releaseFirst {
			p.release()
		}
		b.StartTimer()
		start := time.Now()
		if err := n.Detach(context.Background(), p.name); err != nil {
			b.Fatal(err)
		}
		times = append(times, time.Since(start))
		b.StopTimer()
		p.release()
	}
	reportPercentiles(b, times)
}

func reportPercentiles(b *testing.B, times []time.Duration) {
	if len(times) == 0 {
		return
	}
	slices.Sort(times)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(times[len(times)/2]), "p50-ms")
	b.ReportMetric(ms(times[(len(times)*9)/10]), "p90-ms")
}
