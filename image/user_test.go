package image

import (
	"os"
	"path/filepath"
	"testing"
)

func TestResolveUser(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\nweb:x:1000:2000::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("root:x:0:\nwww:x:2000:\nstaff:x:50:\n"), 0o644)
	id := func(v int64) *int64 { return &v }
	for _, tc := range []struct {
		user         string
		uid, gid     *int64 // from the manifest
		wantU, wantG *int64
		wantErr      bool
	}{
		{user: "", wantU: nil, wantG: nil},
		{user: "web", wantU: id(1000), wantG: id(2000)},
		{user: "1000", wantU: id(1000), wantG: id(2000)},
		{user: "web:staff", wantU: id(1000), wantG: id(50)},
		{user: "4242:77", wantU: id(4242), wantG: id(77)},
		{user: "4242", wantU: id(4242), wantG: nil},
		{user: "web", uid: id(5), wantU: id(5), wantG: nil},
		{user: "web", uid: id(1000), gid: id(9), wantU: id(1000), wantG: id(9)},
		{user: "", uid: id(1000), wantU: id(1000), wantG: id(2000)},
		{user: "nobody", wantErr: true},
	} {
		uid, gid, err := ResolveUser(root, tc.user, tc.uid, tc.gid)
		if (err != nil) != tc.wantErr {
			t.Errorf("%q: err = %v", tc.user, err)
			continue
		}
		if tc.wantErr {
			continue
		}
		if !eq(uid, tc.wantU) || !eq(gid, tc.wantG) {
			t.Errorf("%q (uid %v gid %v): got uid %v gid %v, want %v %v", tc.user, deref(tc.uid), deref(tc.gid), deref(uid), deref(gid), deref(tc.wantU), deref(tc.wantG))
		}
	}
}

func eq(a, b *int64) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func deref(p *int64) any {
	if p == nil {
		return "unset"
	}
	return *p
}
