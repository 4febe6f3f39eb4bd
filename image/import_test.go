package image

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

var ctx = context.Background()

func TestImportRootfsDir(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "bin"), 0o755)
	os.MkdirAll(filepath.Join(src, "etc/private"), 0o750)
	os.Chmod(filepath.Join(src, "etc/private"), 0o750)
	writeFile(t, filepath.Join(src, "bin/tool"), []byte("#!/bin/sh\n"))
	os.Chmod(filepath.Join(src, "bin/tool"), 0o755)
	writeFile(t, filepath.Join(src, "etc/passwd"), []byte("root:x:0:0::/:/bin/sh\n"))
	os.Link(filepath.Join(src, "bin/tool"), filepath.Join(src, "bin/tool2"))
	os.Symlink("tool", filepath.Join(src, "bin/sh"))
	os.Mkdir(filepath.Join(src, "tmp"), 0o755)
	os.Chmod(filepath.Join(src, "tmp"), os.ModeSticky|0o777)

	s := newStore(t)
	img, err := s.Import(ctx, "mini", src)
	if err != nil {
		t.Fatal(err)
	}
	if img.Name != "mini:latest" || !strings.HasPrefix(img.ID, "sha256:") || img.Size <= 0 || img.Created.IsZero() {
		t.Errorf("image = %+v", img)
	}
	if !reflect.DeepEqual(img.Config, Config{}) {
		t.Errorf("config = %+v, want none", img.Config)
	}
	r := img.Rootfs
	assertFile(t, r, "bin/tool", "#!/bin/sh\n", 0o755)
	assertFile(t, r, "etc/passwd", "root:x:0:0::/:/bin/sh\n", 0o644)
	assertLink(t, r, "bin/sh", "tool")
	a, _ := os.Stat(filepath.Join(r, "bin/tool"))
	b, _ := os.Stat(filepath.Join(r, "bin/tool2"))
	if !os.SameFile(a, b) {
		t.Error("bin/tool2 is not a hard link of bin/tool")
	}
	for rel, mode := range map[string]os.FileMode{"etc/private": 0o750, "tmp": 0o777 | os.ModeSticky} {
		fi, err := os.Stat(filepath.Join(r, rel))
		if err != nil || fi.Mode()&(os.ModePerm|os.ModeSticky) != mode || !fi.IsDir() {
			t.Errorf("%s: %v %v, want directory %v", rel, fi.Mode(), err, mode)
		}
	}

	// The same content gives the same ID.
	again, err := s.Import(ctx, "mini:2", src)
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != img.ID {
		t.Errorf("re-import ID %s, want %s", again.ID, img.ID)
	}
	got, err := s.Get("mini")
	if err != nil || got.ID != img.ID || got.Rootfs != img.Rootfs || got.Size != img.Size {
		t.Errorf("Get = %+v, %v; want %+v", got, err, img)
	}
	assertClean(t, s, 1) // both names share the layer
}

func TestImportTarballs(t *testing.T) {
	data := tarBytes(t,
		dir("./"), dir("./bin/"),
		entry{name: "./bin/app", body: "ELF", typ: '0', mode: 0o4755},
		symlink("./bin/sh", "app"), hardlink("./bin/app2", "./bin/app"),
		file("etc/hostname", "box\n"),
		entry{name: "run/fifo", typ: '6', mode: 0o600},
		entry{name: "dev/null", typ: '3', mode: 0o666, major: 1, minor: 3}, // made only as root
		entry{name: "ro/", typ: '5', mode: 0o555}, file("ro/f", "f"),
	)
	for _, tc := range []struct {
		name string
		data []byte
	}{{"plain.tar", data}, {"rootfs.tar.gz", gzipBytes(t, data)}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			src := writeFile(t, filepath.Join(t.TempDir(), tc.name), tc.data)
			_, err := s.Import(ctx, "example.com/team/app:v1", src)
			if want := `extract member "dev/null": device node 1:3 refused`; err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("import with a device node: %v, want an error with %q", err, want)
			}
			img, err := s.ImportWith(ctx, "example.com/team/app:v1", src, ExtractOptions{AllowDevices: true})
			if err != nil {
				t.Fatal(err)
			}
			want := "sha256:" + sha256Hex(data) // the uncompressed stream's digest
			if img.Name != "example.com/team/app:v1" || img.ID != want {
				t.Errorf("image %s %s, want ID %s", img.Name, img.ID, want)
			}
			assertFile(t, img.Rootfs, "bin/app", "ELF", os.ModeSetuid|0o755)
			assertFile(t, img.Rootfs, "etc/hostname", "box\n", 0o644)
			assertLink(t, img.Rootfs, "bin/sh", "app")
			if fi, err := os.Lstat(filepath.Join(img.Rootfs, "run/fifo")); err != nil || fi.Mode()&os.ModeNamedPipe == 0 {
				t.Errorf("run/fifo: %v %v, want a FIFO", fi, err)
			}
			fi, _ := os.Stat(filepath.Join(img.Rootfs, "bin"))
			if !fi.ModTime().Equal(fixtureTime) {
				t.Errorf("bin/ mtime %v, want %v", fi.ModTime(), fixtureTime)
			}
			if fi, _ := os.Stat(filepath.Join(img.Rootfs, "ro")); fi.Mode() != os.ModeDir|0o555 {
				t.Errorf("ro/: mode %v, want dr-xr-xr-x", fi.Mode())
			}
			if _, err := os.Lstat(filepath.Join(img.Rootfs, "dev/null")); (err == nil) != (os.Geteuid() == 0) {
				t.Errorf("dev/null: %v (euid %d)", err, os.Geteuid())
			}
			// Even a read-only directory goes away with the image.
			if err := s.Remove(img.Name); err != nil {
				t.Fatal(err)
			}
			assertClean(t, s, 0)
		})
	}
}

// twoLayers is an image whose upper layer deletes /etc/a with a whiteout
// and empties /opq with an opaque whiteout, adding /opq/new.
func twoLayers(t *testing.T, cfg v1.Config) v1.Image {
	t.Helper()
	lower := layer(t, dir("etc/"), file("etc/a", "a"), file("etc/b", "b"),
		dir("opq/"), file("opq/x", "x"), dir("opq/sub/"), file("opq/sub/y", "y"), file("keep", "keep"))
	upper := layer(t, file("etc/.wh.a", ""), file("opq/new", "new"), file("opq/.wh..wh..opq", ""),
		file("etc/c", "c"), file(".wh.nothing", ""))
	img, err := mutate.AppendLayers(empty.Image, lower, upper)
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

var appConfig = v1.Config{Entrypoint: []string{"/bin/app"}, Cmd: []string{"--serve"}, Env: []string{"PATH=/bin", "A=1"}, WorkingDir: "/srv", User: "65534:65534"}

func assertTwoLayers(t *testing.T, s *Store, img *Image, want v1.Image) {
	t.Helper()
	r := rootfs(t, s, img)
	assertMissing(t, r, "etc/a")
	assertMissing(t, r, "etc/.wh.a")
	assertMissing(t, r, "opq/x")
	assertMissing(t, r, "opq/sub")
	assertMissing(t, r, "opq/.wh..wh..opq")
	assertMissing(t, r, ".wh.nothing")
	assertFile(t, r, "etc/b", "b", 0)
	assertFile(t, r, "etc/c", "c", 0)
	assertFile(t, r, "opq/new", "new", 0)
	assertFile(t, r, "keep", "keep", 0)
	digest, _ := want.ConfigName()
	if img.ID != digest.String() {
		t.Errorf("ID %s, want the config digest %s", img.ID, digest)
	}
	wantCfg := Config{Entrypoint: appConfig.Entrypoint, Cmd: appConfig.Cmd, Env: appConfig.Env, WorkingDir: "/srv", User: "65534:65534"}
	if !reflect.DeepEqual(img.Config, wantCfg) {
		t.Errorf("config %+v, want %+v", img.Config, wantCfg)
	}
}

func TestImportOCILayout(t *testing.T) {
	app := twoLayers(t, appConfig)
	other, err := mutate.AppendLayers(empty.Image, layer(t, file("other", "o")))
	if err != nil {
		t.Fatal(err)
	}
	dirPath := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dirPath, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(app, layout.WithAnnotations(map[string]string{annotationRefName: "v1"})); err != nil {
		t.Fatal(err)
	}
	// A single image: any name takes it.
	s := newStore(t)
	img, err := s.Import(ctx, "app:anything", dirPath)
	if err != nil {
		t.Fatal(err)
	}
	assertTwoLayers(t, s, img, app)

	// Several: the name's tag picks one, by ref name or containerd's name.
	if err := p.AppendImage(other, layout.WithAnnotations(map[string]string{annotationImageName: "docker.io/library/other:v2"})); err != nil {
		t.Fatal(err)
	}
	if img, err = s.Import(ctx, "app:v1", dirPath); err != nil {
		t.Fatal(err)
	}
	assertTwoLayers(t, s, img, app)
	if img, err = s.Import(ctx, "other:v2", dirPath); err != nil {
		t.Fatal(err)
	}
	assertFile(t, rootfs(t, s, img), "other", "o", 0)
	_, err = s.Import(ctx, "app:v3", dirPath)
	if err == nil || !strings.Contains(err.Error(), `none is named "app:v3"`) || !strings.Contains(err.Error(), `"v1"`) {
		t.Errorf("import of a missing tag: %v", err)
	}

	// The same layout as a tar.
	tarPath := filepath.Join(t.TempDir(), "oci.tar")
	f, err := os.Create(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := writeDirTar(ctx, f, dirPath); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if img, err = s.Import(ctx, "app:v1", tarPath); err != nil {
		t.Fatal(err)
	}
	assertTwoLayers(t, s, img, app)
	assertClean(t, s, 3) // app's two layers, shared by its three names, and other's
}

func TestImportDockerArchive(t *testing.T) {
	app := twoLayers(t, appConfig)
	other, err := mutate.AppendLayers(empty.Image, layer(t, file("other", "o")))
	if err != nil {
		t.Fatal(err)
	}
	tag := func(s string) name.Tag {
		tg, err := name.NewTag(s)
		if err != nil {
			t.Fatal(err)
		}
		return tg
	}
	single := filepath.Join(t.TempDir(), "single.tar")
	if err := tarball.WriteToFile(single, tag("example.com/app:v1"), app); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	img, err := s.Import(ctx, "local/app", single)
	if err != nil {
		t.Fatal(err)
	}
	assertTwoLayers(t, s, img, app)

	multi := filepath.Join(t.TempDir(), "multi.tar")
	if err := tarball.MultiWriteToFile(multi, map[name.Tag]v1.Image{tag("app:v1"): app, tag("other:latest"): other}); err != nil {
		t.Fatal(err)
	}
	if img, err = s.Import(ctx, "other", multi); err != nil {
		t.Fatal(err)
	}
	assertFile(t, rootfs(t, s, img), "other", "o", 0)
	if img, err = s.Import(ctx, "docker.io/library/app:v1", multi); err != nil {
		t.Fatal(err)
	}
	assertTwoLayers(t, s, img, app)
	_, err = s.Import(ctx, "app:v9", multi)
	if err == nil || !strings.Contains(err.Error(), `holds 2 images and none is tagged "app:v9"`) {
		t.Errorf("import of a missing tag: %v", err)
	}

	// gzip-compressed, as `docker save | gzip` gives.
	data, _ := os.ReadFile(single)
	gz := writeFile(t, filepath.Join(t.TempDir(), "single.tar.gz"), gzipBytes(t, data))
	if img, err = s.Import(ctx, "app:gz", gz); err != nil {
		t.Fatal(err)
	}
	assertTwoLayers(t, s, img, app)
	assertClean(t, s, 3) // app's two layers, shared by its four names, and other's
}

func TestListGetRemove(t *testing.T) {
	s := newStore(t)
	src := writeFile(t, filepath.Join(t.TempDir(), "r.tar"), tarBytes(t, file("f", "1")))
	for _, n := range []string{"zeta", "alpha:2", "example.com/x/y:1", "alpha"} {
		if _, err := s.Import(ctx, n, src); err != nil {
			t.Fatal(err)
		}
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, img := range list {
		names = append(names, img.Name)
		assertFile(t, rootfs(t, s, img), "f", "1", 0)
	}
	want := []string{"alpha:2", "alpha:latest", "example.com/x/y:1", "zeta:latest"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("List = %v, want %v", names, want)
	}

	if err := s.Remove("alpha"); err != nil {
		t.Fatal(err)
	}
	_, err = s.Get("alpha:latest")
	wantMsg := `image "alpha:latest" not found in the store`
	if !errors.Is(err, ErrNotFound) || err.Error() != wantMsg {
		t.Errorf("Get after Remove: %v, want %s", err, wantMsg)
	}
	if err := s.Remove("alpha"); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Remove: %v, want ErrNotFound", err)
	}
	if _, err := s.Get("Alpha"); !errors.Is(err, ErrInvalidName) {
		t.Errorf("Get(Alpha): %v, want ErrInvalidName", err)
	}
	if _, err := s.Import(ctx, "UPPER", src); !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), `"UPPER"`) {
		t.Errorf("Import(UPPER): %v, want ErrInvalidName naming it", err)
	}
	if _, err := s.Get("example.com/x/y:1"); err != nil {
		t.Error(err)
	}
	assertClean(t, s, 1) // one layer, the same content under every name

	// A second Store on the same root sees the same images.
	s2, err := Open(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := s2.List(); len(list) != 3 {
		t.Errorf("reopened store lists %d images, want 3", len(list))
	}
}

func TestReplaceIsAtomic(t *testing.T) {
	s := newStore(t)
	dirA := t.TempDir()
	writeFile(t, filepath.Join(dirA, "version"), []byte("A"))
	a, err := s.Import(ctx, "app", dirA)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Import(ctx, "app", writeFile(t, filepath.Join(t.TempDir(), "b.tar"), tarBytes(t, file("version", "B"))))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Get("app")
	if err != nil || got.ID != b.ID || got.Rootfs != b.Rootfs {
		t.Fatalf("Get = %+v, %v; want the new image", got, err)
	}
	assertFile(t, got.Rootfs, "version", "B", 0)
	if _, err := os.Stat(a.Rootfs); !os.IsNotExist(err) {
		t.Errorf("old root filesystem still there: %v", err)
	}
	assertClean(t, s, 1)
}

func TestFailedImportLeavesNothing(t *testing.T) {
	s := newStore(t)
	good, err := s.Import(ctx, "app", writeFile(t, filepath.Join(t.TempDir(), "g.tar"), tarBytes(t, file("version", "good"))))
	if err != nil {
		t.Fatal(err)
	}
	big := make([]entry, 0, 50)
	for i := range 50 {
		big = append(big, file(strings.Repeat("d", i%7+1)+"/f"+string(rune('a'+i%26)), strings.Repeat("payload ", 500+i)))
	}
	gz := gzipBytes(t, tarBytes(t, big...))
	corrupt := append([]byte{}, gz...)
	for i := len(corrupt) / 2; i < len(corrupt)/2+64; i++ {
		corrupt[i] ^= 0x5a
	}
	truncated := gz[:len(gz)-20]
	// A bad checksum shows only at the end of the stream, after extraction.
	badCRC := append([]byte{}, gz...)
	badCRC[len(badCRC)-8] ^= 0xff
	dirs := t.TempDir()
	for name, data := range map[string][]byte{
		"corrupt.tar.gz":   corrupt,
		"truncated.tar.gz": truncated,
		"badcrc.tar.gz":    badCRC,
		"escape.tar":       tarBytes(t, file("ok", "1"), file("../../etc/x", "evil")),
		"notatar":          []byte("hello, this is not an archive at all, it is text long enough to fill a header block?" + strings.Repeat(".", 600)),
		"empty.tar":        {},
		"zstd.tar.zst":     {0x28, 0xb5, 0x2f, 0xfd, 0, 0},
	} {
		src := writeFile(t, filepath.Join(dirs, name), data)
		if _, err := s.Import(ctx, "app", src); err == nil {
			t.Errorf("import of %s succeeded", name)
		} else if !strings.Contains(err.Error(), `import "app:latest" from "`+src+`"`) {
			t.Errorf("import of %s: error %q does not say what failed", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	if _, err := s.Import(ctx, "app", filepath.Join(dirs, "missing")); err == nil {
		t.Error("import of a missing source succeeded")
	}
	if _, err := s.Import(ctx, "app", filepath.Dir(s.Root())); err == nil || !strings.Contains(err.Error(), "holds the image store") {
		t.Errorf("import of the directory holding the store: %v", err)
	}
	got, err := s.Get("app")
	if err != nil || got.ID != good.ID {
		t.Fatalf("after failed imports Get = %+v, %v; want the good image", got, err)
	}
	assertFile(t, got.Rootfs, "version", "good", 0)
	if _, err := s.Import(ctx, "other", filepath.Join(dirs, "corrupt.tar.gz")); err == nil {
		t.Error("corrupt import succeeded")
	}
	if _, err := s.Get("other"); !errors.Is(err, ErrNotFound) {
		t.Errorf("a failed import is visible: %v", err)
	}
	assertClean(t, s, 1)
}

func TestImportCancelled(t *testing.T) {
	s := newStore(t)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	src := writeFile(t, filepath.Join(t.TempDir(), "r.tar"), tarBytes(t, file("f", "1")))
	if _, err := s.Import(cctx, "app", src); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled import: %v", err)
	}
	assertClean(t, s, 0)
}
