package image

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// snapshot describes every name under dir (dir included): type, mode,
// owner, size, mtime and a digest of the content or the link text. Two
// snapshots differ when anything under dir was created, removed, written,
// chmod'ed, chown'ed or touched.
func snapshot(dir string) (map[string]string, error) {
	snap := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		desc := fmt.Sprintf("%v %d:%d size=%d mtime=%d", fi.Mode(), st.Uid, st.Gid, fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			to, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + to
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			h := sha256.Sum256(data)
			desc += " " + hex.EncodeToString(h[:8])
		}
		rel, _ := filepath.Rel(dir, p)
		snap[rel] = desc
		return nil
	})
	return snap, err
}

// diffSnapshots lists what differs between two snapshots, sorted.
func diffSnapshots(before, after map[string]string) []string {
	var diff []string
	for k, v := range before {
		if w, ok := after[k]; !ok {
			diff = append(diff, "removed "+k)
		} else if v != w {
			diff = append(diff, fmt.Sprintf("changed %s: %s -> %s", k, v, w))
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			diff = append(diff, "added "+k)
		}
	}
	sort.Strings(diff)
	return diff
}

// scratch is a directory holding the extraction target "root" and,
// beside it, a canary directory "canary" with a file, a subdirectory and
// a symlink. check fails t when anything in the scratch directory outside
// root changed (root itself must still be a directory).
type scratch struct {
	top, root, canary string
	before            map[string]string
}

func newSandbox(t testing.TB) *scratch {
	t.Helper()
	top := t.TempDir()
	sb := &scratch{top: top, root: filepath.Join(top, "root"), canary: filepath.Join(top, "canary")}
	for _, d := range []string{sb.root, sb.canary, filepath.Join(sb.canary, "sub")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, filepath.Join(sb.canary, "secret"), []byte("secret"))
	writeFile(t, filepath.Join(sb.canary, "sub", "file"), []byte("file"))
	if err := os.Symlink("secret", filepath.Join(sb.canary, "link")); err != nil {
		t.Fatal(err)
	}
	var err error
	if sb.before, err = sb.outside(); err != nil {
		t.Fatal(err)
	}
	return sb
}

// outside snapshots the scratch directory without root's content.
func (sb *scratch) outside() (map[string]string, error) {
	snap, err := snapshot(sb.top)
	if err != nil {
		return nil, err
	}
	for k := range snap {
		if strings.HasPrefix(k, "root"+string(filepath.Separator)) {
			delete(snap, k)
		}
	}
	if fi, err := os.Lstat(sb.root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("the extraction root is no longer a directory: %v %v", fi, err)
	}
	// root's own mode, owner and mtime may change: a member "./" sets them.
	snap["root"] = "dir"
	snap["."] = "top" // top's mtime changes only when a name in it does: listed above
	return snap, nil
}

func (sb *scratch) check(t testing.TB) {
	t.Helper()
	after, err := sb.outside()
	if err != nil {
		t.Fatal(err)
	}
	if diff := diffSnapshots(sb.before, after); len(diff) > 0 {
		t.Fatalf("extraction changed things outside its root:\n%s", strings.Join(diff, "\n"))
	}
}

// extractLayers unpacks each layer's members into root with the given
// options (layers: OCI whiteouts apply), as an import does.
func extractLayers(t testing.TB, root string, layers bool, opts ExtractOptions, tars ...[]byte) error {
	t.Helper()
	x, err := newExtractor(root, layers, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer x.close()
	for _, data := range tars {
		if err := x.apply(ctx, bytes.NewReader(data)); err != nil {
			return err
		}
	}
	return x.finish()
}

func TestSnapshotSeesChanges(t *testing.T) {
	for name, change := range map[string]func(sb *scratch) error{
		"write": func(sb *scratch) error {
			return os.WriteFile(filepath.Join(sb.canary, "secret"), []byte("pwned!"), 0o644)
		},
		"chmod":  func(sb *scratch) error { return os.Chmod(filepath.Join(sb.canary, "sub"), 0o700) },
		"create": func(sb *scratch) error { return os.WriteFile(filepath.Join(sb.top, "new"), nil, 0o644) },
		"relink": func(sb *scratch) error {
			os.Remove(filepath.Join(sb.canary, "link"))
			return os.Symlink("/", filepath.Join(sb.canary, "link"))
		},
		"rm-root": func(sb *scratch) error { return os.Remove(sb.root) },
	} {
		t.Run(name, func(t *testing.T) {
			sb := newSandbox(t)
			if err := change(sb); err != nil {
				t.Fatal(err)
			}
			after, err := sb.outside()
			if err == nil && len(diffSnapshots(sb.before, after)) == 0 {
				t.Error("the snapshot did not see the change")
			}
		})
	}
}

// TestRootMemberSymlink is the reproducer of issue 12: a member "./" (or
// ".", or "/") that is a symlink used to replace the extraction root, and
// every later member was written through it onto the host.
func TestRootMemberSymlink(t *testing.T) {
	for _, name := range []string{"./", ".", "/", "./.", ""} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			sb := newSandbox(t)
			data := tarBytes(t, symlink(name, sb.canary), file("secret", "pwned"), file("new", "pwned"))
			s := newStore(t)
			_, err := s.Import(ctx, "evil", writeFile(t, filepath.Join(t.TempDir(), "r.tar"), data))
			want := fmt.Sprintf("extract member %q: names the root directory and is not a directory", name)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("import: %v, want an error with %q", err, want)
			}
			sb.check(t)
			assertClean(t, s, 0)
		})
	}
	// Other kinds of members for the root are refused too; a directory
	// member only sets the root's metadata.
	for _, e := range []entry{file(".", "x"), hardlink(".", "a"), {name: "./.", typ: '6', mode: 0o644}} {
		sb := newSandbox(t)
		err := extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, file("a", "a"), e))
		if err == nil || !strings.Contains(err.Error(), "names the root directory") {
			t.Errorf("member %q of type %q: %v, want it refused", e.name, e.typ, err)
		}
		sb.check(t)
	}
	sb := newSandbox(t)
	if err := extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, entry{name: "./", typ: '5', mode: 0o750}, file("f", "f"))); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(sb.root); err != nil || fi.Mode() != fs.ModeDir|0o750 || !fi.ModTime().Equal(fixtureTime) {
		t.Errorf("root after a member \"./\": %v %v, want a 0750 directory of the member's mtime", fi.Mode(), err)
	}
	assertFile(t, sb.root, "f", "f", 0o644)
	sb.check(t)
}

// ociImport imports an image of the given layers from an OCI layout.
func ociImport(t *testing.T, layers ...v1.Layer) (*Store, *Image, error) {
	t.Helper()
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		t.Fatal(err)
	}
	dirPath := filepath.Join(t.TempDir(), "oci")
	p, err := layout.Write(dirPath, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	s := newStore(t)
	got, err := s.Import(ctx, "evil", dirPath)
	return s, got, err
}

// TestOCILayerPairEscape: layer 1 makes "." or a directory a symlink out
// of the root, layer 2 writes through it.
func TestOCILayerPairEscape(t *testing.T) {
	t.Run("root", func(t *testing.T) {
		sb := newSandbox(t)
		l1 := layer(t, symlink("./", sb.canary))
		s, _, err := ociImport(t, l1, layer(t, file("secret", "pwned"), dir("sub/"), file("sub/file", "pwned")))
		diff, _ := l1.DiffID()
		want := fmt.Sprintf("extract layer %q member \"./\": names the root directory and is not a directory", diff)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("import: %v, want an error with %q", err, want)
		}
		sb.check(t)
		assertClean(t, s, 0)
	})
	t.Run("dir", func(t *testing.T) {
		sb := newSandbox(t)
		rel := strings.TrimPrefix(sb.canary, "/")
		s, img, err := ociImport(t,
			layer(t, dir("etc/"), symlink("etc/conf", sb.canary), symlink("up", "../../../../../../../..")),
			layer(t, file("etc/conf/secret", "pwned"), dir("etc/conf/sub/"), file("up"+sb.canary+"/sub/file", "pwned"),
				file("etc/conf/.wh.link", ""), file("up/.wh.tmp", "")))
		if err != nil {
			t.Fatal(err)
		}
		// Confined: the symlink is followed as if the root were "/".
		assertFile(t, rootfs(t, s, img), rel+"/secret", "pwned", 0o644)
		assertFile(t, rootfs(t, s, img), rel+"/sub/file", "pwned", 0o644)
		assertLink(t, rootfs(t, s, img), "etc/conf", sb.canary)
		sb.check(t)
	})
}

// TestWhiteoutOfRootRefused: ".wh.." used to remove the root's parent.
func TestWhiteoutOfRootRefused(t *testing.T) {
	for _, name := range []string{".wh..", ".wh...", ".wh.", "./.wh..", "a/.wh..", "a/.wh...", "a/.wh."} {
		t.Run(name, func(t *testing.T) {
			sb := newSandbox(t)
			err := extractLayers(t, sb.root, true, ExtractOptions{},
				tarBytes(t, dir("a/"), file("a/f", "f")), tarBytes(t, file(name, "")))
			want := fmt.Sprintf("extract member %q: whiteout", name)
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("got %v, want an error with %q", err, want)
			}
			sb.check(t)
			assertFile(t, sb.root, "a/f", "f", 0)
		})
	}
	// The same names in a plain root filesystem tarball are plain files.
	sb := newSandbox(t)
	if err := extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, file(".wh..", "x"))); err != nil {
		t.Fatal(err)
	}
	assertFile(t, sb.root, ".wh..", "x", 0)
	sb.check(t)
}

func TestHardlinkEscapes(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries []entry
		fails   string
	}{
		{"dotdot", []entry{hardlink("hl", "../canary/secret")}, `member "hl": hard link to "../canary/secret": path leads outside`},
		{"deep-dotdot", []entry{dir("a/"), hardlink("a/hl", "a/../../canary/secret")}, "path leads outside"},
		{"absolute", []entry{hardlink("hl", "@C/secret")}, "hard link to"},
		{"through-symlink", []entry{symlink("s", "@C"), hardlink("hl", "s/secret")}, "no such file"},
		{"through-dotdot-symlink", []entry{symlink("s", "../canary"), hardlink("hl", "s/secret")}, "no such file"},
		{"root", []entry{hardlink("hl", "./")}, "hard link to the root directory"},
		{"directory", []entry{dir("d/"), hardlink("hl", "d")}, "hard link to directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb := newSandbox(t)
			for i := range tc.entries {
				tc.entries[i].link = strings.ReplaceAll(tc.entries[i].link, "@C", sb.canary)
			}
			err := extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, tc.entries...))
			if err == nil || !strings.Contains(err.Error(), tc.fails) {
				t.Errorf("got %v, want an error with %q", err, tc.fails)
			}
			sb.check(t)
		})
	}
	// A hard link to a symlink links the symlink itself, never its target.
	sb := newSandbox(t)
	err := extractLayers(t, sb.root, false, ExtractOptions{},
		tarBytes(t, symlink("s", sb.canary+"/secret"), hardlink("hl", "s"), file("hl", "written")))
	if err != nil {
		t.Fatal(err)
	}
	assertLink(t, sb.root, "s", sb.canary+"/secret")
	assertFile(t, sb.root, "hl", "written", 0)
	sb.check(t)
}

func TestSymlinkChains(t *testing.T) {
	sb := newSandbox(t)
	c := sb.canary
	rel := strings.TrimPrefix(c, "/")
	err := extractLayers(t, sb.root, true, ExtractOptions{},
		tarBytes(t, symlink("a", "b"), symlink("b", "../c"), symlink("c", "d/e"), dir("d/"), symlink("d/e", "../../.."+c),
			symlink("loop1", "loop2"), symlink("loop2", "loop1"), symlink("self", "."), symlink("abs", "/")),
		tarBytes(t, file("abs/d/e/.wh..wh..opq", ""), file("a/secret", "pwned"), file("self/self/abs/a/sub/file", "pwned"),
			file("a/.wh.link", ""), dir("a/sub/"), symlink("a/sub/link", "/etc")))
	if err != nil {
		t.Fatal(err)
	}
	assertFile(t, sb.root, rel+"/secret", "pwned", 0)
	assertFile(t, sb.root, rel+"/sub/file", "pwned", 0)
	sb.check(t)

	// A loop is an error, not a hang.
	err = extractLayers(t, sb.root, false, ExtractOptions{}, tarBytes(t, file("loop1/x", "x")))
	if err == nil || !strings.Contains(err.Error(), `member "loop1/x"`) || !errors.Is(err, syscall.ELOOP) {
		t.Errorf("write through a symlink loop: %v, want ELOOP naming the member", err)
	}
	sb.check(t)
}
