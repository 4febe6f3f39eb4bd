package image

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// headerOnly is the tar header of a regular file of the given size, without
// its content: followed by zeros, a bomb of any size.
func headerOnly(t *testing.T, name string, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: fixtureTime}); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExtractLimits(t *testing.T) {
	many := make([]entry, 20)
	for i := range many {
		many[i] = file(fmt.Sprintf("f%02d", i), "x")
	}
	long := strings.Repeat("n", DefaultMaxNameLen+1)
	for _, tc := range []struct {
		name    string
		opts    ExtractOptions
		stream  io.Reader
		fails   string
		written []string // what is in the root after the error
	}{
		{"size-bomb", ExtractOptions{}, io.MultiReader(bytes.NewReader(headerOnly(t, "big", 100<<30)), zeros{}),
			`extract member "big": size of 107374182400 bytes: more than 68719476736 bytes of uncompressed tar`, nil},
		{"bytes", ExtractOptions{MaxBytes: 1 << 20}, bytes.NewReader(tarBytes(t, file("small", "s"), file("big", strings.Repeat("x", 2<<20)))),
			`extract member "big": size of 2097152 bytes: more than 1048576 bytes`, []string{"small"}},
		{"trailing", ExtractOptions{MaxBytes: 1 << 20}, io.MultiReader(bytes.NewReader(tarBytes(t, file("a", "a"))), zeros{}),
			"extract: read tar: more than 1048576 bytes", []string{"a"}},
		{"entries", ExtractOptions{MaxEntries: 10}, bytes.NewReader(tarBytes(t, many...)),
			`extract member "f10": more than 10 paths`, []string{"f00", "f01", "f02", "f03", "f04", "f05", "f06", "f07", "f08", "f09"}},
		{"implicit-dirs", ExtractOptions{MaxEntries: 4}, bytes.NewReader(tarBytes(t, file("a/b/c/d/e", "x"))),
			`extract member "a/b/c/d/e": more than 4 paths`, nil},
		{"name", ExtractOptions{}, bytes.NewReader(tarBytes(t, file(long, "x"))),
			fmt.Sprintf("name of %d bytes, over the limit of %d", len(long), DefaultMaxNameLen), nil},
		{"link", ExtractOptions{MaxNameLen: 100}, bytes.NewReader(tarBytes(t, symlink("l", long))),
			fmt.Sprintf(`extract member "l": link target of %d bytes, over the limit of 100`, len(long)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t)
			x, err := newExtractor(sb.root, false, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			defer x.close()
			err = x.apply(ctx, tc.stream)
			if err == nil || !strings.Contains(err.Error(), tc.fails) {
				t.Errorf("got %v, want an error with %q", err, tc.fails)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes: %.400s", len(err.Error()), err)
			}
			if got := listDir(t, sb.root); strings.Join(got, " ") != strings.Join(tc.written, " ") {
				t.Errorf("root holds %v, want %v", got, tc.written)
			}
			sb.check(t)
		})
	}

	// Through an import, the bound is on the uncompressed stream, already
	// while telling what kind of archive it is.
	bomb := gzipBytes(t, tarBytes(t, file("zeros", strings.Repeat("\x00", 4<<20))))
	s := newStore(t)
	_, err := s.ImportWith(ctx, "bomb", writeFile(t, filepath.Join(t.TempDir(), "bomb.tar.gz"), bomb), ExtractOptions{MaxBytes: 1 << 20})
	if want := `read tar archive: more than 1048576 bytes of uncompressed tar`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("import of a gzip bomb: %v, want an error with %q", err, want)
	}
	assertClean(t, s, 0)
}

func TestDeviceNodes(t *testing.T) {
	block := entry{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8}
	char := entry{name: "dev/mem", typ: tar.TypeChar, mode: 0o640, major: 1, minor: 1}
	for _, e := range []entry{block, char} {
		sb := newSandbox(t)
		err := extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, e))
		want := fmt.Sprintf("extract member %q: device node %d:%d refused", e.name, e.major, e.minor)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want an error with %q", e.name, err, want)
		}
		assertMissing(t, sb.root, e.name)
	}
	// Allowed, they are made as root and left out otherwise.
	sb := newSandbox(t)
	if err := extractLayers(t, sb.root, false, ExtractOptions{AllowDevices: true}, tarBytes(t, block, char)); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(sb.root, "dev/sda")); (err == nil) != (os.Geteuid() == 0) {
		t.Errorf("dev/sda: %v (euid %d)", err, os.Geteuid())
	}

	// A 0:0 character device is an overlay whiteout: in a layer it deletes
	// what lower layers had; in a root filesystem it is kept, as overlayfs
	// reads it.
	sb = newSandbox(t)
	wh := entry{name: "etc/gone", typ: tar.TypeChar, mode: 0o600}
	err := extractLayers(t, sb.root, true, ExtractOptions{},
		tarBytes(t, dir("etc/"), file("etc/gone", "x"), file("etc/kept", "k")), tarBytes(t, wh))
	if err != nil {
		t.Fatal(err)
	}
	assertMissing(t, sb.root, "etc/gone")
	assertFile(t, sb.root, "etc/kept", "k", 0)
	if err := extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, wh)); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(sb.root, "etc/gone")); os.Geteuid() == 0 && (err != nil || fi.Sys().(*syscall.Stat_t).Rdev != 0 || fi.Mode()&os.ModeCharDevice == 0) {
		t.Errorf("etc/gone: %v %v, want a 0:0 character device", fi, err)
	}
	sb.check(t)
}

// TestDanglingSymlinkParent: a member under a symlink whose target does
// not exist yet is created where the symlink points, inside the root, as
// containerd does (an image's /var/run -> /run before /run exists).
func TestDanglingSymlinkParent(t *testing.T) {
	sb := newSandbox(t)
	err := extractLayers(t, sb.root, true, ExtractOptions{},
		tarBytes(t, dir("var/"), symlink("var/run", "/run"), symlink("var/lock", "../run/lock")),
		tarBytes(t, file("var/run/pid", "1"), file("var/lock/l", "l")))
	if err != nil {
		t.Fatal(err)
	}
	assertFile(t, sb.root, "run/pid", "1", 0)
	assertFile(t, sb.root, "run/lock/l", "l", 0)
	assertLink(t, sb.root, "var/run", "/run")
	sb.check(t)
}

// gnuSparse is a tar stream of one old-GNU sparse file: one byte of data
// in the stream, size bytes once extracted.
func gnuSparse(t *testing.T, name string, size int64) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: 1, ModTime: fixtureTime, Format: tar.FormatGNU}); err != nil {
		t.Fatal(err)
	}
	tw.Write([]byte("x"))
	tw.Flush()
	b := buf.Bytes()
	octal := func(off, n int, v int64) { copy(b[off:off+n], fmt.Sprintf("%0*o\x00", n-1, v)) }
	b[156] = tar.TypeGNUSparse
	octal(386, 12, size-1) // the one data byte is the last one
	octal(398, 12, 1)
	octal(483, 12, size) // real size
	copy(b[148:156], "        ")
	var sum int64
	for _, c := range b[:512] {
		sum += int64(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return append(b, make([]byte, 1024)...) // end of archive
}

func TestSparseBomb(t *testing.T) {
	sb := newSandbox(t)
	data := append(gnuSparse(t, "a", 600<<10)[:1024], gnuSparse(t, "b", 600<<10)...)
	err := extractLayers(t, sb.root, false, ExtractOptions{MaxBytes: 1 << 20}, data)
	if want := `extract member "b": size of 614400 bytes: more than 1048576 bytes`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want an error with %q", err, want)
	}
	fi, err := os.Stat(filepath.Join(sb.root, "a"))
	if err != nil || fi.Size() != 600<<10 {
		t.Errorf("a: %v %v, want a file of 600 KiB", fi, err)
	}
	sb.check(t)
}
