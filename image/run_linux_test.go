package image_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/image"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

func TestMain(m *testing.M) {
	if sandbox.IsInit() {
		sandbox.Init() // a container started by TestContainerFromEachFormat
	}
	os.Exit(m.Run())
}

// TestContainerFromEachFormat imports busybox in every format the store
// takes and runs a container from each, with the image's own command.
func TestContainerFromEachFormat(t *testing.T) {
	testutil.RequiresRoot(t)
	prefix := testutil.Prefix(t)
	hex := strings.TrimPrefix(prefix, "podbox-t")
	work := filepath.Join(os.TempDir(), prefix)
	t.Cleanup(func() { os.RemoveAll(work) })

	// The busybox image as a tarball, and as a one-layer image whose config
	// says what to run.
	rootfs := filepath.Join(work, "rootfs")
	if err := testutil.MakeBusyboxRootfs(rootfs); err != nil {
		t.Fatal(err)
	}
	rootTar := filepath.Join(work, "busybox.tar")
	f, err := os.Create(rootTar)
	if err != nil {
		t.Fatal(err)
	}
	if err := image.WriteDirTar(context.Background(), f, rootfs); err != nil {
		t.Fatal(err)
	}
	f.Close()
	l, err := tarball.LayerFromFile(rootTar)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, l)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, v1.Config{Entrypoint: []string{"sh", "-c"}, Cmd: []string{"echo ran from $FORMAT image"}, Env: []string{"FORMAT=packaged"}})
	if err != nil {
		t.Fatal(err)
	}
	ociDir := filepath.Join(work, "oci")
	p, err := layout.Write(ociDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	dockerTar := filepath.Join(work, "docker.tar")
	tag, _ := name.NewTag("busybox:docker")
	if err := tarball.WriteToFile(dockerTar, tag, img); err != nil {
		t.Fatal(err)
	}

	// Two layers: the image above, and one that adds a file.
	top, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return os.Open(testutil.WriteTar(t, filepath.Join(work, "top.tar"), "etc/layer2", "ran from layered image\n"))
	})
	if err != nil {
		t.Fatal(err)
	}
	layered, err := mutate.AppendLayers(img, top)
	if err != nil {
		t.Fatal(err)
	}
	layeredDir := filepath.Join(work, "oci-layered")
	lp, err := layout.Write(layeredDir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(layered); err != nil {
		t.Fatal(err)
	}

	store, err := image.Open(filepath.Join(work, "images"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := sandbox.New(sandbox.Options{
		Images: store, Root: filepath.Join(work, "state"), LogRoot: filepath.Join(work, "logs"), CgroupParent: "/" + prefix, PauseBinary: testutil.Binary(t, "pause"),
		Network: netns.Config{Bridge: "pb" + hex, VethPrefix: "pv" + hex, Subnet: "10.89.253.0/24", Table: prefix},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.RemoveNetwork()
		cgroups.LoadPod("/" + prefix).Destroy()
	})
	ctx := context.Background()
	for _, src := range []struct{ format, path, cmd string }{
		{"dir", rootfs, "echo ran from dir image"},
		{"tar", rootTar, "echo ran from tar image"},
		{"oci", ociDir, ""},
		{"docker", dockerTar, ""},
		{"layered", layeredDir, "cat /etc/layer2"},
	} {
		if _, err := store.Import(ctx, "busybox:"+src.format, src.path); err != nil {
			t.Fatalf("%s: %v", src.format, err)
		}
		// The library resolves the image: layers, entrypoint, cmd, env.
		c := sandbox.ContainerConfig{Name: "c", Image: "busybox:" + src.format}
		if src.cmd != "" {
			c.Command = []string{"sh", "-c", src.cmd}
		}
		pod := "from-" + src.format
		if _, err := m.Create(ctx, &sandbox.PodConfig{Name: pod, RestartPolicy: sandbox.RestartNever, Containers: []sandbox.ContainerConfig{c}}); err != nil {
			t.Fatalf("%s: %v", src.format, err)
		}
		// A failure below still takes the pod apart (mounts, cgroup).
		t.Cleanup(func() {
			if err := m.Remove(context.Background(), pod, true); err != nil {
				t.Errorf("remove %s: %v", pod, err)
			}
		})
		if err := m.Start(ctx, pod, sandbox.RunOptions{}); err != nil {
			t.Fatalf("%s: %v", src.format, err)
		}
		want := "ran from " + src.format + " image"
		if src.cmd == "" {
			want = "ran from packaged image"
		}
		var log string
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) && !strings.Contains(log, want) {
			st, _ := m.Status(ctx, pod)
			if lf, err := os.Open(st.Containers[0].LogPath); err == nil {
				b, _ := io.ReadAll(lf)
				lf.Close()
				log = string(b)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(log, want) {
			t.Errorf("%s: log %q does not say %q", src.format, log, want)
		}
		// The pod holds a lease: the image is not removed under it.
		if err := store.Remove("busybox:" + src.format); !errors.Is(err, image.ErrInUse) || !strings.Contains(err.Error(), pod) {
			t.Errorf("%s: Remove of an image in use: %v, want ErrInUse naming %s", src.format, err, pod)
		}
		if err := m.Remove(ctx, pod, true); err != nil {
			t.Fatal(err)
		}
		if err := store.Remove("busybox:" + src.format); err != nil {
			t.Errorf("%s: Remove once the pod is gone: %v", src.format, err)
		}
	}
}
