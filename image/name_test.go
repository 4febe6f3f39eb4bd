package image

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"busybox", "busybox:latest"},
		{"busybox:1.36", "busybox:1.36"},
		{"busybox:latest", "busybox:latest"},
		{"example.com/team/app:v1", "example.com/team/app:v1"},
		{"localhost:5000/app", "localhost:5000/app:latest"},
		{"localhost/app:V_1.2-rc", "localhost/app:V_1.2-rc"},
		{"Registry.Example.com:443/a/b__c/d-e.f", "Registry.Example.com:443/a/b__c/d-e.f:latest"},
		{"library/busybox:" + strings.Repeat("x", 128), "library/busybox:" + strings.Repeat("x", 128)},
	} {
		got, err := NormalizeName(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestNormalizeNameRejects(t *testing.T) {
	for _, in := range []string{
		"", "BusyBox", "busybox:", ":tag", "busybox:-x", "busybox:.x", "busybox:a/b",
		"busybox:" + strings.Repeat("x", 129), "a//b", "/busybox", "busybox/", "bad_-name",
		"-busybox", "busybox@sha256:0123", "a b", "../etc", "bus..box", "host:port/app",
		"exa_mple.com/app", strings.Repeat("a", 201),
	} {
		got, err := NormalizeName(in)
		if err == nil {
			t.Errorf("NormalizeName(%q) = %q, want an error", in, got)
			continue
		}
		if !errors.Is(err, ErrInvalidName) || !strings.Contains(err.Error(), strconv.Quote(in)) {
			t.Errorf("NormalizeName(%q): error %q should wrap ErrInvalidName and name the name", in, err)
		}
	}
}
