package mounts

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
	"golang.org/x/sys/unix"
)

// testDir makes a directory for one test under os.TempDir(), named with the
// test's prefix so that leakcheck can attribute what it leaves.
func testDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(os.TempDir(), testutil.Prefix(t))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		CleanupVolumes(filepath.Join(dir, "pod"))
		UnmountUnder(dir)
		os.RemoveAll(dir)
	})
	return dir
}

func umask() fs.FileMode {
	m := unix.Umask(0)
	unix.Umask(m)
	return fs.FileMode(m)
}

func hostPathVol(name, path, typ string) Volume {
	return Volume{Name: name, HostPath: &HostPath{Path: path, Type: typ}}
}

func mustNotExist(t *testing.T, p string) {
	t.Helper()
	if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists (err %v), want it gone", p, err)
	}
}

// blockDevice finds a block device on the host, or "".
func blockDevice() string {
	for _, p := range []string{"/dev/loop0", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda", "/dev/ram0"} {
		if st, err := os.Stat(p); err == nil && st.Mode().Type() == fs.ModeDevice {
			return p
		}
	}
	return ""
}

func TestHostPathTypes(t *testing.T) {
	dir := testDir(t)
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	missing := filepath.Join(dir, "missing")
	block := blockDevice()

	for _, tc := range []struct {
		path, typ string
		err       string // "" for success
	}{
		{missing, "", ""}, // no check at all
		{dir, "Directory", ""},
		{file, "Directory", `volume "v": hostPath "` + file + `": not a directory, a regular file (type Directory)`},
		{missing, "Directory", `volume "v": hostPath "` + missing + `": file does not exist (type Directory)`},
		{file, "DirectoryOrCreate", "not a directory"},
		{file, "File", ""},
		{file, "FileOrCreate", ""},
		{dir, "File", "not a regular file, a directory (type File)"},
		{dir, "FileOrCreate", "not a regular file, a directory (type FileOrCreate)"},
		{"/dev/null", "File", "not a regular file, a character device"},
		{missing, "File", "file does not exist (type File)"},
		{sock, "Socket", ""},
		{file, "Socket", "not a socket"},
		{"/dev/null", "CharDevice", ""},
		{file, "CharDevice", "not a character device"},
		{"/dev/null", "BlockDevice", "not a block device"},
		{file, "BlockDevice", "not a block device"},
		{block, "BlockDevice", ""},
		{file, "Fifo", `unknown type "Fifo"`},
		{"relative/path", "", "must be an absolute path"},
	} {
		if tc.path == "" {
			t.Log("no block device in /dev: BlockDevice success case skipped")
			continue
		}
		paths, err := PrepareVolumes(filepath.Join(dir, "pod"), []Volume{hostPathVol("v", tc.path, tc.typ)})
		if tc.err == "" {
			if err != nil {
				t.Errorf("%s (type %q): %v", tc.path, tc.typ, err)
			} else if paths["v"] != tc.path {
				t.Errorf("%s (type %q): path %q", tc.path, tc.typ, paths["v"])
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s (type %q): err = %v, want it to contain %q", tc.path, tc.typ, err, tc.err)
		}
	}
	if _, err := PrepareVolumes(filepath.Join(dir, "pod"), []Volume{hostPathVol("v", missing, "Socket")}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing socket: err = %v, want errors.Is ErrNotExist", err)
	}
	mustNotExist(t, missing)
	mustNotExist(t, filepath.Join(dir, "pod"))
}

func TestHostPathOrCreate(t *testing.T) {
	dir := testDir(t)
	newDir := filepath.Join(dir, "a", "b", "c")
	newFile := filepath.Join(dir, "f")
	paths, err := PrepareVolumes(filepath.Join(dir, "pod"), []Volume{
		hostPathVol("d", newDir, "DirectoryOrCreate"),
		hostPathVol("f", newFile, "FileOrCreate"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if paths["d"] != newDir || paths["f"] != newFile {
		t.Fatalf("paths = %v", paths)
	}
	if st, err := os.Stat(newDir); err != nil || !st.IsDir() || st.Mode().Perm() != 0o755&^umask() {
		t.Errorf("DirectoryOrCreate made %v (err %v), want a directory 0755", st.Mode(), err)
	}
	if st, err := os.Stat(newFile); err != nil || !st.Mode().IsRegular() || st.Size() != 0 || st.Mode().Perm() != 0o644&^umask() {
		t.Errorf("FileOrCreate made %v (err %v), want an empty file 0644", st.Mode(), err)
	}
	// Existing ones are kept as they are; CleanupVolumes never touches them.
	if err := os.WriteFile(newFile, []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareVolumes(filepath.Join(dir, "pod"), []Volume{hostPathVol("f", newFile, "FileOrCreate")}); err != nil {
		t.Fatal(err)
	}
	if err := CleanupVolumes(filepath.Join(dir, "pod")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(newFile); string(b) != "data" {
		t.Errorf("hostPath file now holds %q", b)
	}

	// FileOrCreate does not make the parent directory (Kubernetes).
	orphan := filepath.Join(dir, "nodir", "f")
	_, err = PrepareVolumes(filepath.Join(dir, "pod"), []Volume{hostPathVol("f", orphan, "FileOrCreate")})
	if err == nil || !strings.Contains(err.Error(), `volume "f": hostPath "`+orphan+`": parent directory does not exist`) {
		t.Errorf("FileOrCreate without parent: err = %v", err)
	}
	mustNotExist(t, filepath.Join(dir, "nodir"))
}

func TestPrepareVolumesUndo(t *testing.T) {
	dir := testDir(t)
	existing := filepath.Join(dir, "existing")
	if err := os.MkdirAll(filepath.Join(existing, "keep"), 0o755); err != nil {
		t.Fatal(err)
	}
	pod := filepath.Join(dir, "pod")
	_, err := PrepareVolumes(pod, []Volume{
		hostPathVol("old", existing, "Directory"),
		hostPathVol("old-child", filepath.Join(existing, "x", "y"), "DirectoryOrCreate"),
		hostPathVol("new", filepath.Join(dir, "new", "a"), "DirectoryOrCreate"),
		hostPathVol("newfile", filepath.Join(dir, "newfile"), "FileOrCreate"),
		{Name: "scratch", EmptyDir: &EmptyDir{}},
		hostPathVol("bad", filepath.Join(dir, "missing"), "Directory"),
	})
	if err == nil || !strings.HasPrefix(err.Error(), `volume "bad": `) {
		t.Fatalf("err = %v, want it to name volume bad", err)
	}
	for _, p := range []string{filepath.Join(existing, "x"), filepath.Join(dir, "new"), filepath.Join(dir, "newfile"), filepath.Join(pod, "volumes")} {
		mustNotExist(t, p)
	}
	if _, err := os.Stat(filepath.Join(existing, "keep")); err != nil {
		t.Errorf("existing hostPath touched: %v", err)
	}
}

func TestCheckVolumes(t *testing.T) {
	pod := filepath.Join(testDir(t), "pod")
	for _, tc := range []struct {
		vols []Volume
		err  string
	}{
		{[]Volume{{Name: "", EmptyDir: &EmptyDir{}}}, "volumes[0]: name is empty"},
		{[]Volume{{Name: "../x", EmptyDir: &EmptyDir{}}}, `volume "../x": name must be a plain file name`},
		{[]Volume{{Name: "..", EmptyDir: &EmptyDir{}}}, "plain file name"},
		{[]Volume{{Name: "a", EmptyDir: &EmptyDir{}}, {Name: "a", EmptyDir: &EmptyDir{}}}, `volume "a": defined twice`},
		{[]Volume{{Name: "a"}}, "exactly one of hostPath and emptyDir"},
		{[]Volume{{Name: "a", EmptyDir: &EmptyDir{}, HostPath: &HostPath{Path: "/"}}}, "exactly one of hostPath and emptyDir"},
		{[]Volume{{Name: "a", EmptyDir: &EmptyDir{Medium: "HugePages"}}}, `emptyDir medium "HugePages" is not supported`},
		{[]Volume{{Name: "a", EmptyDir: &EmptyDir{Medium: "Memory", SizeLimit: -1}}}, "negative"},
	} {
		_, err := PrepareVolumes(pod, tc.vols)
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%+v: err = %v, want %q", tc.vols, err, tc.err)
		}
	}
	mustNotExist(t, pod)
}

func TestEmptyDirOnDisk(t *testing.T) {
	pod := filepath.Join(testDir(t), "pod")
	if err := os.Mkdir(pod, 0o755); err != nil {
		t.Fatal(err)
	}
	paths, err := PrepareVolumes(pod, []Volume{{Name: "cache", EmptyDir: &EmptyDir{SizeLimit: 1 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["cache"]
	if dir != filepath.Join(pod, "volumes", "cache") || dir != EmptyDirPath(pod, "cache") {
		t.Fatalf("emptyDir at %q", dir)
	}
	if st, err := os.Stat(dir); err != nil || st.Mode() != fs.ModeDir|0o777 {
		t.Fatalf("emptyDir mode %v (err %v), want drwxrwxrwx", st.Mode(), err)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A second preparation reuses it, data and all.
	if _, err := PrepareVolumes(pod, []Volume{{Name: "cache", EmptyDir: &EmptyDir{}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Fatalf("reused emptyDir lost its data: %v", err)
	}
	for range 2 {
		if err := CleanupVolumes(pod); err != nil {
			t.Fatal(err)
		}
	}
	mustNotExist(t, filepath.Join(pod, "volumes"))
	if err := CleanupVolumes(filepath.Join(pod, "never-made")); err != nil {
		t.Fatalf("CleanupVolumes of a missing pod dir: %v", err)
	}
}

func TestEmptyDirMemory(t *testing.T) {
	testutil.RequiresRoot(t)
	base := testDir(t)
	pod := filepath.Join(base, "pod")
	const size = 3 << 20
	paths, err := PrepareVolumes(pod, []Volume{
		{Name: "mem", EmptyDir: &EmptyDir{Medium: "Memory", SizeLimit: size}},
		{Name: "mem-unlimited", EmptyDir: &EmptyDir{Medium: "Memory"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := paths["mem"]
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type != unix.TMPFS_MAGIC {
		t.Fatalf("%s is not a tmpfs (f_type %#x)", dir, st.Type)
	}
	if got := int64(st.Blocks) * st.Bsize; got != size {
		t.Errorf("tmpfs size %d, want %d", got, size)
	}
	if st.Flags&unix.ST_NOSUID == 0 || st.Flags&unix.ST_NODEV == 0 {
		t.Errorf("tmpfs flags %#x, want nosuid,nodev", st.Flags)
	}
	if err := os.WriteFile(filepath.Join(dir, "data"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Prepared again (a restarted monitor), the tmpfs is reused, not stacked.
	if _, err := PrepareVolumes(pod, []Volume{{Name: "mem", EmptyDir: &EmptyDir{Medium: "Memory", SizeLimit: size}}}); err != nil {
		t.Fatal(err)
	}
	if mps, _ := MountsUnder(dir); len(mps) != 1 {
		t.Errorf("mounts at %s: %v, want one", dir, mps)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
		t.Errorf("reused tmpfs lost its data: %v", err)
	}
	for range 2 {
		if err := CleanupVolumes(pod); err != nil {
			t.Fatal(err)
		}
	}
	if mps, _ := MountsUnder(base); len(mps) != 0 {
		t.Errorf("still mounted: %v", mps)
	}
	mustNotExist(t, filepath.Join(pod, "volumes"))
}

func TestEmptyDirMemoryUndo(t *testing.T) {
	testutil.RequiresRoot(t)
	base := testDir(t)
	pod := filepath.Join(base, "pod")
	_, err := PrepareVolumes(pod, []Volume{
		{Name: "mem", EmptyDir: &EmptyDir{Medium: "Memory", SizeLimit: 1 << 20}},
		hostPathVol("bad", filepath.Join(base, "missing"), "File"),
	})
	if err == nil || !strings.Contains(err.Error(), `volume "bad"`) {
		t.Fatalf("err = %v", err)
	}
	if mps, _ := MountsUnder(base); len(mps) != 0 {
		t.Errorf("still mounted after undo: %v", mps)
	}
	mustNotExist(t, filepath.Join(pod, "volumes"))
}

func TestCleanupVolumesThroughSymlink(t *testing.T) {
	testutil.RequiresRoot(t)
	base := testDir(t)
	real := filepath.Join(base, "real")
	if err := os.Mkdir(real, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "pod") // what testDir's cleanup also uses
	if err := os.Symlink("real", link); err != nil {
		t.Fatal(err)
	}
	if _, err := PrepareVolumes(link, []Volume{{Name: "mem", EmptyDir: &EmptyDir{Medium: "Memory"}}}); err != nil {
		t.Fatal(err)
	}
	if err := CleanupVolumes(link); err != nil {
		t.Fatal(err)
	}
	if mps, _ := MountsUnder(base); len(mps) != 0 {
		t.Errorf("still mounted: %v", mps)
	}
	mustNotExist(t, filepath.Join(real, "volumes"))
}

func TestSetVolumeOwnership(t *testing.T) {
	testutil.RequiresRoot(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "f"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := SetVolumeOwnership(dir, 2345, FSGroupChangeAlways); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{
		dir:                         0o070 | os.ModeSetgid,
		filepath.Join(dir, "sub"):   0o070 | os.ModeSetgid,
		filepath.Join(dir, "sub/f"): 0o060,
	} {
		st, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if gid := st.Sys().(*syscall.Stat_t).Gid; gid != 2345 {
			t.Errorf("%s: group %d, want 2345", p, gid)
		}
		if st.Mode()&want != want {
			t.Errorf("%s: mode %v, want %v set", p, st.Mode(), want)
		}
	}
	if st, _ := os.Stat("/etc/passwd"); st.Sys().(*syscall.Stat_t).Gid == 2345 {
		t.Fatalf("a symlink was followed out of the volume")
	}
	// OnRootMismatch: the root is right, so a file below keeps its group.
	os.Chown(filepath.Join(dir, "sub/f"), -1, 0)
	if err := SetVolumeOwnership(dir, 2345, FSGroupChangeOnRootMismatch); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Lstat(filepath.Join(dir, "sub/f")); st.Sys().(*syscall.Stat_t).Gid != 0 {
		t.Errorf("OnRootMismatch walked a volume whose root already matched")
	}
	if err := SetVolumeOwnership(dir, 2345, FSGroupChangeAlways); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Lstat(filepath.Join(dir, "sub/f")); st.Sys().(*syscall.Stat_t).Gid != 2345 {
		t.Errorf("Always left a file's group alone")
	}
}
