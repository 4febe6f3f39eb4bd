package image

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
	"golang.org/x/sys/unix"
)

func owner(t *testing.T, p string) (uid, gid int) {
	t.Helper()
	fi, err := os.Lstat(p)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid)
}

func TestRootOwnershipAndDevices(t *testing.T) {
	testutil.RequiresRoot(t)
	data := tarBytes(t,
		entry{name: "home/u/", typ: '5', mode: 0o750, uid: 1234, gid: 5678},
		entry{name: "home/u/file", body: "x", typ: '0', mode: 0o640, uid: 1234, gid: 5678},
		entry{name: "bin/su", body: "su", typ: '0', mode: 0o6755, uid: 0, gid: 0},
		entry{name: "bin/ping", body: "ping", typ: '0', mode: 0o4711, uid: 7, gid: 8},
		entry{name: "home/u/link", link: "file", typ: '2', mode: 0o777, uid: 1234, gid: 5678},
		entry{name: "dev/null", typ: '3', mode: 0o666, major: 1, minor: 3},
		entry{name: "dev/loop9", typ: '4', mode: 0o660, gid: 6, major: 7, minor: 9},
	)
	s := newStore(t)
	img, err := s.ImportWith(ctx, "owned", writeFile(t, filepath.Join(t.TempDir(), "r.tar"), data), ExtractOptions{AllowDevices: true})
	if err != nil {
		t.Fatal(err)
	}
	r := img.Rootfs
	for rel, want := range map[string][2]int{"home/u": {1234, 5678}, "home/u/file": {1234, 5678}, "home/u/link": {1234, 5678}, "bin/ping": {7, 8}, "dev/loop9": {0, 6}} {
		if uid, gid := owner(t, filepath.Join(r, rel)); uid != want[0] || gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", rel, uid, gid, want[0], want[1])
		}
	}
	// chown clears set-id bits: the mode must be set after it.
	assertFile(t, r, "bin/ping", "ping", os.ModeSetuid|0o711)
	assertFile(t, r, "bin/su", "su", os.ModeSetuid|os.ModeSetgid|0o755)
	for rel, want := range map[string]struct {
		mode         os.FileMode
		major, minor uint32
	}{"dev/null": {os.ModeDevice | os.ModeCharDevice | 0o666, 1, 3}, "dev/loop9": {os.ModeDevice | 0o660, 7, 9}} {
		fi, err := os.Lstat(filepath.Join(r, rel))
		if err != nil {
			t.Fatal(err)
		}
		rdev := uint64(fi.Sys().(*syscall.Stat_t).Rdev)
		if fi.Mode() != want.mode || unix.Major(rdev) != want.major || unix.Minor(rdev) != want.minor {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", rel, fi.Mode(), unix.Major(rdev), unix.Minor(rdev), want.mode, want.major, want.minor)
		}
	}

	// A directory import keeps them too.
	again, err := s.ImportWith(ctx, "copy", r, ExtractOptions{AllowDevices: true})
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := owner(t, filepath.Join(again.Rootfs, "home/u/file")); uid != 1234 || gid != 5678 {
		t.Errorf("directory import: owner %d:%d, want 1234:5678", uid, gid)
	}
	if fi, err := os.Lstat(filepath.Join(again.Rootfs, "dev/null")); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Errorf("directory import: dev/null %v %v", fi, err)
	}
	assertFile(t, again.Rootfs, "bin/ping", "ping", os.ModeSetuid|0o711)
}
