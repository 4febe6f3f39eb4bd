package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one tar member of a test fixture.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid, gid         int
	major, minor     int64
}

func file(name, body string) entry {
	return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644}
}
func dir(name string) entry { return entry{name: name, typ: tar.TypeDir, mode: 0o755} }
func symlink(name, to string) entry {
	return entry{name: name, link: to, typ: tar.TypeSymlink, mode: 0o777}
}
func hardlink(name, to string) entry { return entry{name: name, link: to, typ: tar.TypeLink} }

var fixtureTime = time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)

func tarBytes(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.gid,
			Size: int64(len(e.body)), ModTime: fixtureTime, Devmajor: e.major, Devminor: e.minor}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gzipBytes(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t testing.TB, p string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// layer makes an image layer from tar members.
func layer(t testing.TB, entries ...entry) v1.Layer {
	t.Helper()
	data := tarBytes(t, entries...)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func newStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "images"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func readString(t testing.TB, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func assertFile(t testing.TB, root, rel, body string, mode fs.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	if !fi.Mode().IsRegular() {
		t.Fatalf("%s: mode %v, want a regular file", rel, fi.Mode())
	}
	if got := readString(t, p); got != body {
		t.Errorf("%s: content %q, want %q", rel, got, body)
	}
	if mode != 0 && fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != mode {
		t.Errorf("%s: mode %v, want %v", rel, fi.Mode(), mode)
	}
}

func assertLink(t testing.TB, root, rel, to string) {
	t.Helper()
	got, err := os.Readlink(filepath.Join(root, rel))
	if err != nil || got != to {
		t.Errorf("%s: symlink to %q (%v), want %q", rel, got, err, to)
	}
}

func assertMissing(t testing.TB, root, rel string) {
	t.Helper()
	if _, err := os.Lstat(filepath.Join(root, rel)); !os.IsNotExist(err) {
		t.Errorf("%s: exists (%v), want it gone", rel, err)
	}
}

// listDir returns the names in dir, sorted.
func listDir(t testing.TB, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

// assertClean checks that the store holds exactly n layers and nothing in
// tmp/.
func assertClean(t testing.TB, s *Store, n int) {
	t.Helper()
	for _, e := range listDir(t, filepath.Join(s.Root(), "tmp")) {
		if !strings.HasPrefix(e, "view-") { // the test's own views
			t.Errorf("tmp/ holds %q, want nothing", e)
		}
	}
	if got := listDir(t, filepath.Join(s.Root(), "layers")); len(got) != n {
		t.Errorf("layers/ holds %v, want %d entries", got, n)
	}
}

func sha256Hex(data []byte) string {
	h := sha256.Sum256(data)
	return hex.EncodeToString(h[:])
}

// rootfs returns a directory showing img's root filesystem: the layer of a
// one-layer image, else a read-only overlay of its layers (root only),
// unmounted at the end of the test.
func rootfs(t testing.TB, s *Store, img *Image) string {
	t.Helper()
	if img.Rootfs != "" {
		return img.Rootfs
	}
	if os.Geteuid() != 0 {
		t.Skip("an image of several layers is viewed through an overlay mount, which needs root")
	}
	dir, release, err := s.View(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	return dir
}
