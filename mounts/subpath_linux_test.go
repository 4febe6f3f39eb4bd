package mounts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// volumeWithTraps makes a volume holding a file, a directory and symlinks
// that point out of it, next to a secret outside it.
func volumeWithTraps(t *testing.T) (base, vol string) {
	t.Helper()
	base = testDir(t)
	vol = filepath.Join(base, "vol")
	for _, d := range []string{"vol/dir", "outside"} {
		if err := os.MkdirAll(filepath.Join(base, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for p, content := range map[string]string{"vol/dir/f": "inside", "outside/secret": "secret", "vol/secret": "decoy"} {
		if err := os.WriteFile(filepath.Join(base, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range map[string]string{"root": "/", "up": "../..", "out": "../outside", "abs": base + "/outside", "etc": "/etc"} {
		if err := os.Symlink(target, filepath.Join(vol, name)); err != nil {
			t.Fatal(err)
		}
	}
	return base, vol
}

func TestResolveSubPathRefuses(t *testing.T) {
	_, vol := volumeWithTraps(t)
	for sub, want := range map[string]string{
		"../x":      `subPath "../x": must not contain ".."`,
		"a/../../x": `must not contain ".."`,
		"a/../b":    `must not contain ".."`, // the kubelet refuses any backstep
		"..":        `must not contain ".."`,
		"/etc":      `subPath "/etc": must be a relative path`,
	} {
		if p, err := ResolveSubPath(vol, sub); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveSubPath(%q) = %q, %v; want error %q", sub, p, err, want)
		}
	}
	if _, err := os.Stat(filepath.Join(vol, "b")); err == nil {
		t.Error("a refused subPath was created")
	}
}

func TestResolveSubPathStaysInside(t *testing.T) {
	base, vol := volumeWithTraps(t)
	realVol, err := filepath.EvalSymlinks(vol)
	if err != nil {
		t.Fatal(err)
	}
	for sub, want := range map[string]string{
		"":              realVol,
		".":             realVol,
		"dir":           realVol + "/dir",
		"./dir/f":       realVol + "/dir/f",
		"dir//f":        realVol + "/dir/f",
		"root":          realVol, // "/" is the volume's root
		"up":            realVol, // ../.. can not climb above it
		"root/secret":   realVol + "/secret",
		"new/deeper":    realVol + "/new/deeper",
		"root/up/made":  realVol + "/made",
		"dir/f/../dir2": "", // refused
		// Symlinks dangling inside the volume are refused, not followed
		// out or created through.
		"out/secret": "", // ../outside: vol/outside, missing
		"abs/secret": "", // <base>/outside: vol/<base>/outside, missing
		"etc/passwd": "", // /etc: vol/etc, itself
	} {
		got, err := ResolveSubPath(vol, sub)
		if want == "" {
			if err == nil {
				t.Errorf("ResolveSubPath(%q) = %q, want an error", sub, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ResolveSubPath(%q) = %q, %v; want %q", sub, got, err, want)
		}
		if !strings.HasPrefix(got, realVol) {
			t.Errorf("ResolveSubPath(%q) = %q escapes %q", sub, got, realVol)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(base, "outside", "secret")); string(b) != "secret" {
		t.Errorf("outside secret changed to %q", b)
	}
	if entries, _ := os.ReadDir(filepath.Join(base, "outside")); len(entries) != 1 {
		t.Errorf("something was made outside the volume: %v", entries)
	}
}

func TestResolveSubPathCreatesMissingDirs(t *testing.T) {
	_, vol := volumeWithTraps(t)
	if err := os.Chmod(vol, 0o750); err != nil {
		t.Fatal(err)
	}
	p, err := ResolveSubPath(vol, "logs/app")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"logs", "logs/app"} {
		st, err := os.Lstat(filepath.Join(vol, d))
		if err != nil || !st.IsDir() || st.Mode().Perm() != 0o750&^umask() {
			t.Errorf("%s: %v (err %v), want a directory with the volume's mode 0750", d, st.Mode(), err)
		}
	}
	if !strings.HasSuffix(p, "/vol/logs/app") {
		t.Errorf("resolved to %q", p)
	}
	// A file as a subPath is fine; it is not made into a directory.
	if _, err := ResolveSubPath(vol, "dir/f"); err != nil {
		t.Error(err)
	}
	if _, err := ResolveSubPath(vol, "dir/f/x"); err == nil {
		t.Error("a subPath below a file resolved")
	}
	if _, err := ResolveSubPath(filepath.Join(vol, "nosuch"), "x"); err == nil {
		t.Error("a missing volume root resolved")
	}
}

func TestOpenSubPathIsOPath(t *testing.T) {
	_, vol := volumeWithTraps(t)
	f, err := OpenSubPath(vol, "root/dir")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fl, err := unix.FcntlInt(f.Fd(), unix.F_GETFL, 0)
	if err != nil {
		t.Fatal(err)
	}
	if fl&unix.O_PATH == 0 {
		t.Errorf("flags %#x, want O_PATH", fl)
	}
	if _, err := OpenSubPath(vol, "../vol"); err == nil {
		t.Error("OpenSubPath accepted ..")
	}
}

func TestBindSubPath(t *testing.T) {
	testutil.RequiresRoot(t)
	base, vol := volumeWithTraps(t)
	pod := filepath.Join(base, "pod")
	for i, tc := range []struct{ sub, file, want string }{
		{"dir", "f", "inside"},
		{"dir/f", "", "inside"},
		{"root", "secret", "decoy"}, // the volume's root, never the host's /
		{"root/root/up", "secret", "decoy"},
		{"new/logs", "", "directory"}, // made
	} {
		target := SubPathTarget(pod, "vol", "app", i)
		if err := BindSubPath(vol, tc.sub, target); err != nil {
			t.Fatalf("BindSubPath(%q): %v", tc.sub, err)
		}
		if mps, _ := MountsUnder(target); len(mps) != 1 {
			t.Errorf("BindSubPath(%q): mounts at target %v", tc.sub, mps)
		}
		switch {
		case tc.want == "directory":
			if st, err := os.Stat(target); err != nil || !st.IsDir() {
				t.Errorf("BindSubPath(%q): %v, %v", tc.sub, st, err)
			}
		default:
			b, err := os.ReadFile(filepath.Join(target, tc.file))
			if err != nil || string(b) != tc.want {
				t.Errorf("BindSubPath(%q): read %q, %v; want %q", tc.sub, b, err, tc.want)
			}
		}
	}
	for _, sub := range []string{"../outside", "out/secret", "abs/secret"} {
		if err := BindSubPath(vol, sub, SubPathTarget(pod, "vol", "app", 9)); err == nil {
			t.Errorf("BindSubPath(%q) succeeded", sub)
		}
		mustNotExist(t, SubPathTarget(pod, "vol", "app", 9))
	}
	for range 2 {
		if err := CleanupVolumes(pod); err != nil {
			t.Fatal(err)
		}
	}
	if mps, _ := MountsUnder(base); len(mps) != 0 {
		t.Errorf("still mounted: %v", mps)
	}
	mustNotExist(t, filepath.Join(pod, "volume-subpaths"))
	if b, _ := os.ReadFile(filepath.Join(vol, "dir", "f")); string(b) != "inside" {
		t.Errorf("volume data changed: %q", b)
	}
}
