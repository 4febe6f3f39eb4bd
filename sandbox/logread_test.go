package sandbox

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The tail counts lines, a line being its P records and its F record; Since
// drops lines by the time of their first record.
func TestCopyLogTailAndSince(t *testing.T) {
	path := filepath.Join(t.TempDir(), "0.log")
	log := "2026-01-01T00:00:01Z stdout F one\n" +
		"2026-01-01T00:00:02Z stdout P tw\n" +
		"2026-01-01T00:00:03Z stdout F o\n" +
		"2026-01-01T00:00:04Z stderr F three\n" +
		"2026-01-01T00:00:05Z stdout F four\n"
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts LogOptions
		want string
	}{
		{LogOptions{}, "one\ntwo\nthree\nfour\n"},
		{LogOptions{Tail: 3}, "two\nthree\nfour\n"},
		{LogOptions{Tail: 10}, "one\ntwo\nthree\nfour\n"},
		{LogOptions{Tail: 1, Timestamps: true}, "2026-01-01T00:00:05Z four\n"},
		{LogOptions{Since: time.Date(2026, 1, 1, 0, 0, 2, 0, time.UTC)}, "two\nthree\nfour\n"},
		{LogOptions{Since: time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC), Tail: 3}, "three\nfour\n"},
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		var out strings.Builder
		err = copyLog(context.Background(), f, path, &out, tc.opts, func() bool { return false })
		f.Close()
		if err != nil || out.String() != tc.want {
			t.Errorf("%+v: %q, %v; want %q", tc.opts, out.String(), err, tc.want)
		}
	}
}
