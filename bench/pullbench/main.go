// Command pullbench pushes the images bench/pull.sh pulls: two images that
// share a base (the busybox root filesystem and three layers of 8 MiB of
// incompressible files), each with a top layer of its own.
//
//	pullbench HOST:PORT BUSYBOX.tar
//
// pushes HOST:PORT/bench/app:a and HOST:PORT/bench/app:b (plain HTTP, no
// auth: a loopback registry) and prints their manifest digests.
package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"runtime"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: pullbench HOST:PORT BUSYBOX.tar")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "pullbench:", err)
		os.Exit(1)
	}
}

// dataLayer is a layer of n files of size bytes each, random (seeded, so
// every run pushes the same image).
func dataLayer(seed int64, dir string, n, size int) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	rnd := rand.New(rand.NewSource(seed))
	if err := tw.WriteHeader(&tar.Header{Name: dir + "/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		return nil, err
	}
	for i := 0; i < n; i++ {
		if err := tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("%s/f%03d", dir, i), Mode: 0o644, Size: int64(size), Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := io.CopyN(tw, rnd, int64(size)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
}

func run(host, busybox string) error {
	base, err := tarball.LayerFromFile(busybox)
	if err != nil {
		return err
	}
	layers := []v1.Layer{base}
	for i := 0; i < 3; i++ {
		l, err := dataLayer(int64(i), fmt.Sprintf("data%d", i), 32, 256<<10)
		if err != nil {
			return err
		}
		layers = append(layers, l)
	}
	for i, tag := range []string{"a", "b"} {
		top, err := dataLayer(int64(100+i), "top-"+tag, 8, 256<<10)
		if err != nil {
			return err
		}
		img, err := mutate.AppendLayers(empty.Image, append(layers[:len(layers):len(layers)], top)...)
		if err != nil {
			return err
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", runtime.GOARCH
		cf.Config.Cmd = []string{"sleep", "3600"}
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return err
		}
		ref, err := name.ParseReference(host + "/bench/app:" + tag)
		if err != nil {
			return err
		}
		if err := remote.Write(ref, img); err != nil {
			return fmt.Errorf("push %s: %w", ref, err)
		}
		d, _ := img.Digest()
		fmt.Printf("%s %s\n", ref, d)
	}
	return nil
}
