package image

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// outside makes a directory beside the image root holding a file "secret",
// and returns a check that it was left alone.
func outside(t *testing.T) (dir string, check func()) {
	t.Helper()
	dir = t.TempDir()
	writeFile(t, filepath.Join(dir, "secret"), []byte("secret"))
	os.Chmod(dir, 0o755)
	return dir, func() {
		t.Helper()
		if got := listDir(t, dir); len(got) != 1 || got[0] != "secret" {
			t.Errorf("outside directory now holds %v", got)
		}
		fi, err := os.Stat(filepath.Join(dir, "secret"))
		if err != nil {
			t.Fatal(err)
		}
		if got := readString(t, filepath.Join(dir, "secret")); got != "secret" || fi.Mode().Perm() != 0o644 {
			t.Errorf("outside secret changed: %q %v", got, fi.Mode())
		}
		if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o755 {
			t.Errorf("outside directory mode changed: %v", fi.Mode())
		}
	}
}

func TestTarCannotEscape(t *testing.T) {
	out, check := outside(t)
	for _, tc := range []struct {
		name    string
		entries []entry
		fails   string            // error text, or "" when the import must succeed...
		inside  map[string]string // ...with these files inside the root filesystem
	}{
		{"dotdot", []entry{file("../../etc/x", "evil")}, "path leads outside", nil},
		{"dotdot-middle", []entry{dir("a/"), file("a/../../x", "evil")}, "path leads outside", nil},
		{"absolute", []entry{file("/abs/file", "ok"), file("//etc/passwd", "p")}, "", map[string]string{"abs/file": "ok", "etc/passwd": "p"}},
		{"symlink-root", []entry{symlink("link", "/"), file("link/escaped", "e")}, "", map[string]string{"escaped": "e"}},
		{"symlink-absolute", []entry{symlink("out", out), file("out/secret", "pwned")}, "", map[string]string{out[1:] + "/secret": "pwned"}},
		{"symlink-dotdot", []entry{symlink("up", "../../../../../.."+out), file("up/secret", "pwned")}, "", map[string]string{out[1:] + "/secret": "pwned"}},
		{"symlink-chain", []entry{symlink("a", "b"), symlink("b", "../c"), symlink("c", out), file("a/secret", "pwned")}, "", map[string]string{out[1:] + "/secret": "pwned"}},
		{"replace-symlink", []entry{symlink("f", out+"/secret"), file("f", "plain")}, "", map[string]string{"f": "plain"}},
		{"dir-over-symlink", []entry{symlink("d", out), dir("d/"), file("d/x", "x")}, "", map[string]string{"d/x": "x"}},
		{"hardlink-dotdot", []entry{hardlink("hl", "../../secret")}, "path leads outside", nil},
		{"hardlink-through-symlink", []entry{symlink("s", out), hardlink("hl", "s/secret")}, "hard link", nil},
		{"chmod-through-replaced-dir", []entry{dir("a/"), {name: "a/b/", typ: '5', mode: 0o700}, symlink("a", out)}, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStore(t)
			src := writeFile(t, filepath.Join(t.TempDir(), "r.tar"), tarBytes(t, tc.entries...))
			img, err := s.Import(ctx, "evil", src)
			if tc.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tc.fails) {
					t.Errorf("import: %v, want an error with %q", err, tc.fails)
				}
				assertClean(t, s, 0)
			} else if err != nil {
				t.Fatal(err)
			}
			for rel, body := range tc.inside {
				assertFile(t, img.Rootfs, rel, body, 0)
			}
			check()
		})
	}
}

func TestWhiteoutsStayInside(t *testing.T) {
	out, check := outside(t)
	root := t.TempDir()
	x, err := newExtractor(root, true, ExtractOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer x.close()
	for _, l := range [][]entry{
		{symlink("link", out), symlink("abs", "/"), dir("d/"), file("d/f", "f")},
		{file("link/.wh.secret", ""), file("link/.wh..wh..opq", ""), file("abs/.wh.d", ""), file(".wh.link", "")},
	} {
		if err := x.apply(ctx, bytes.NewReader(tarBytes(t, l...))); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.finish(); err != nil {
		t.Fatal(err)
	}
	assertMissing(t, root, "d")    // "abs/.wh.d" is "/d" inside the root
	assertMissing(t, root, "link") // the symlink itself is whited out
	assertLink(t, root, "abs", "/")
	check()

	if err := x.apply(ctx, bytes.NewReader(tarBytes(t, file("../.wh.x", "")))); err == nil {
		t.Error("a whiteout with .. was accepted")
	}
}

func TestConcurrentImports(t *testing.T) {
	s := newStore(t)
	src := t.TempDir()
	for i := range 20 {
		writeFile(t, filepath.Join(src, strings.Repeat("f", i+1)), bytes.Repeat([]byte("x"), 4096))
	}
	names := []string{"a", "b", "a", "c", "a:2", "b"}
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	for i, n := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A second Store value: separate lock file descriptors, as two
			// processes would have.
			s2, err := Open(s.Root())
			if err == nil {
				_, err = s2.Import(ctx, n, src)
			}
			errs[i] = err
		}()
	}
	// Readers take no lock and never see a half-made image.
	for range 50 {
		list, err := s.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, img := range list {
			if len(listDir(t, img.Rootfs)) != 20 {
				t.Fatalf("%s: a partial root filesystem is visible", img.Name)
			}
		}
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("import %s: %v", names[i], err)
		}
	}
	list, err := s.List()
	if err != nil || len(list) != 4 {
		t.Fatalf("List = %d images, %v; want 4", len(list), err)
	}
	assertClean(t, s, 1) // four names, one layer
}
