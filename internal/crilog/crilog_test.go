package crilog

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// records copies input through CopyLines, fed one byte or chunk per read
// as r gives it, and returns the log's records without their times.
func records(t *testing.T, r io.Reader) []string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := Open(path, 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	w.CopyLines("stdout", io.NopCloser(r))
	w.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if l == "" {
			continue
		}
		_, rest, ok := strings.Cut(l, " ")
		if !ok || !strings.HasSuffix(rest, "\n") {
			t.Fatalf("record %q: no time, or no newline", l)
		}
		out = append(out, strings.TrimSuffix(rest, "\n"))
	}
	return out
}

// Lines become F records; a line of MaxLine bytes or more is cut into P
// records of exactly MaxLine, then the rest as F (empty when nothing is
// left), whatever the reads' sizes; \r\n ends a line as \n does; an
// unterminated last line is a record.
func TestCopyLinesRecords(t *testing.T) {
	long := strings.Repeat("a", MaxLine) + strings.Repeat("b", MaxLine) + "tail"
	exact := strings.Repeat("c", MaxLine)
	in := "one\n\nterm\r\n" + long + "\n" + exact + "\nlast"
	want := []string{
		"stdout F one", "stdout F ", "stdout F term",
		"stdout P " + strings.Repeat("a", MaxLine), "stdout P " + strings.Repeat("b", MaxLine), "stdout F tail",
		"stdout P " + exact, "stdout F ",
		"stdout F last",
	}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"bytewise": iotest.OneByteReader(strings.NewReader(in)),
		"halves":   iotest.HalfReader(strings.NewReader(in)),
	} {
		got := records(t, r)
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s: %d records, want %d", name, len(got), len(want))
			for i := range max(len(got), len(want)) {
				var g, w string
				if i < len(got) {
					g = got[i]
				}
				if i < len(want) {
					w = want[i]
				}
				if g != w {
					t.Errorf("%s: record %d: %.40q, want %.40q", name, i, g, w)
					break
				}
			}
		}
	}
}
