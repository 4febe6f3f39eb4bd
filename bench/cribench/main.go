// Command cribench measures, through the CRI, what the kubelet waits for
// when it starts a pod: RunPodSandbox, CreateContainer and StartContainer of
// a one-container pod (busybox, sleep 3600), against several CRI endpoints
// in the same run, interleaved. It prints the median and p90 of each step
// and of their sum per endpoint, and the ratio of each endpoint's sum to the
// first one's. Each pod is stopped and removed after it is measured.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	runtimeapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

type endpoint struct {
	name  string
	rt    runtimeapi.RuntimeServiceClient
	img   runtimeapi.ImageServiceClient
	steps [4][]time.Duration // run, create, start, total
}

func main() {
	n := flag.Int("n", 20, "pods per endpoint")
	image := flag.String("image", "registry.k8s.io/e2e-test-images/busybox:1.29-2", "container image (pulled first)")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: cribench [-n N] NAME=unix:///path.sock ...")
		os.Exit(2)
	}
	ctx := context.Background()
	var eps []*endpoint
	for _, a := range flag.Args() {
		name, addr, ok := strings.Cut(a, "=")
		if !ok {
			fail(fmt.Errorf("%q: want NAME=unix:///path.sock", a))
		}
		conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			fail(err)
		}
		e := &endpoint{name: name, rt: runtimeapi.NewRuntimeServiceClient(conn), img: runtimeapi.NewImageServiceClient(conn)}
		if _, err := e.img.PullImage(ctx, &runtimeapi.PullImageRequest{Image: &runtimeapi.ImageSpec{Image: *image}}); err != nil {
			fail(fmt.Errorf("%s: pull %s: %w", name, *image, err))
		}
		// One pod first, not measured: caches, the network's first use.
		if _, err := e.once(ctx, *image, -1); err != nil {
			fail(err)
		}
		eps = append(eps, e)
	}
	for i := 0; i < *n; i++ {
		for _, e := range eps {
			d, err := e.once(ctx, *image, i)
			if err != nil {
				fail(err)
			}
			for k := range d {
				e.steps[k] = append(e.steps[k], d[k])
			}
		}
	}
	fmt.Printf("%d pods per endpoint, interleaved\n\n", *n)
	fmt.Println("| endpoint | RunPodSandbox | CreateContainer | StartContainer | sum: median | sum: p90 | sum / first |")
	fmt.Println("|---|---|---|---|---|---|---|")
	base := median(eps[0].steps[3])
	for _, e := range eps {
		fmt.Printf("| %s | %s | %s | %s | %s | %s | %.2fx |\n", e.name,
			ms(median(e.steps[0])), ms(median(e.steps[1])), ms(median(e.steps[2])),
			ms(median(e.steps[3])), ms(p90(e.steps[3])), float64(median(e.steps[3]))/float64(base))
	}
}

// once starts a pod and its container, timing each call, then stops and
// removes it.
func (e *endpoint) once(ctx context.Context, image string, i int) ([4]time.Duration, error) {
	var d [4]time.Duration
	uid := fmt.Sprintf("cribench-%d-%d", os.Getpid(), i+1)
	pcfg := &runtimeapi.PodSandboxConfig{
		Metadata: &runtimeapi.PodSandboxMetadata{Name: fmt.Sprintf("bench-%d", i+1), Namespace: "cribench", Uid: uid},
		Hostname: "bench",
		Linux:    &runtimeapi.LinuxPodSandboxConfig{},
	}
	t0 := time.Now()
	run, err := e.rt.RunPodSandbox(ctx, &runtimeapi.RunPodSandboxRequest{Config: pcfg})
	if err != nil {
		return d, fmt.Errorf("%s: RunPodSandbox: %w", e.name, err)
	}
	d[0] = time.Since(t0)
	defer func() {
		e.rt.StopPodSandbox(ctx, &runtimeapi.StopPodSandboxRequest{PodSandboxId: run.PodSandboxId})
		e.rt.RemovePodSandbox(ctx, &runtimeapi.RemovePodSandboxRequest{PodSandboxId: run.PodSandboxId})
	}()
	t1 := time.Now()
	ctr, err := e.rt.CreateContainer(ctx, &runtimeapi.CreateContainerRequest{
		PodSandboxId: run.PodSandboxId, SandboxConfig: pcfg,
		Config: &runtimeapi.ContainerConfig{
			Metadata: &runtimeapi.ContainerMetadata{Name: "sleep"},
			Image:    &runtimeapi.ImageSpec{Image: image},
			Command:  []string{"sleep", "3600"},
			Linux:    &runtimeapi.LinuxContainerConfig{},
		},
	})
	if err != nil {
		return d, fmt.Errorf("%s: CreateContainer: %w", e.name, err)
	}
	d[1] = time.Since(t1)
	t2 := time.Now()
	if _, err := e.rt.StartContainer(ctx, &runtimeapi.StartContainerRequest{ContainerId: ctr.ContainerId}); err != nil {
		return d, fmt.Errorf("%s: StartContainer: %w", e.name, err)
	}
	d[2] = time.Since(t2)
	d[3] = d[0] + d[1] + d[2]
	return d, nil
}

func median(ds []time.Duration) time.Duration { return pct(ds, 50) }
func p90(ds []time.Duration) time.Duration    { return pct(ds, 90) }

func pct(ds []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[(len(s)-1)*p/100]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }

func fail(err error) {
	fmt.Fprintln(os.Stderr, "cribench:", err)
	os.Exit(1)
}
