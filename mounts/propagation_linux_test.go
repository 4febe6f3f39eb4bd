package mounts

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestPropagation(t *testing.T) {
	for name, want := range map[string]int{
		"":                unix.MS_PRIVATE | unix.MS_REC,
		"None":            unix.MS_PRIVATE | unix.MS_REC,
		"HostToContainer": unix.MS_SLAVE | unix.MS_REC,
		"Bidirectional":   unix.MS_SHARED | unix.MS_REC,
	} {
		if got, err := Propagation(name); err != nil || got != want {
			t.Errorf("Propagation(%q) = %#x, %v; want %#x", name, got, err, want)
		}
	}
	for _, name := range []string{"none", "rshared", "Shared"} {
		if _, err := Propagation(name); err == nil || !strings.Contains(err.Error(), "not one of None") {
			t.Errorf("Propagation(%q): err = %v", name, err)
		}
	}
}

func TestVolumeBind(t *testing.T) {
	rw := unix.MS_BIND | unix.MS_REC
	ro := rw | unix.MS_RDONLY
	for _, tc := range []struct {
		ro, rro bool
		prop    string
		want    Bind
		err     string
	}{
		{false, false, "", Bind{Flags: rw, PropagationFlags: []int{unix.MS_PRIVATE | unix.MS_REC}}, ""},
		{true, false, "HostToContainer", Bind{Flags: ro, PropagationFlags: []int{unix.MS_SLAVE | unix.MS_REC}}, ""},
		{true, true, "None", Bind{Flags: ro, PropagationFlags: []int{unix.MS_PRIVATE | unix.MS_REC},
			RecAttr: &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}}, ""},
		{false, true, "", Bind{}, "needs readOnly"},
		{true, true, "Bidirectional", Bind{}, `needs propagation None, not "Bidirectional"`},
		{false, false, "x", Bind{}, "not one of None"},
	} {
		got, err := VolumeBind(tc.ro, tc.rro, tc.prop)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("VolumeBind(%v, %v, %q): err = %v, want %q", tc.ro, tc.rro, tc.prop, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("VolumeBind(%v, %v, %q) = %+v, %v; want %+v", tc.ro, tc.rro, tc.prop, got, err, tc.want)
		}
	}
}

func TestRecursiveReadOnlySupported(t *testing.T) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		t.Fatal(err)
	}
	// Only a sanity check: every kernel this project targets has it.
	if !RecursiveReadOnlySupported() {
		t.Logf("kernel %s: mount_setattr(2) unavailable", unix.ByteSliceToString(u.Release[:]))
	}
}
