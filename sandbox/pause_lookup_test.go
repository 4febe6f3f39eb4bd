package sandbox

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPauseNear(t *testing.T) {
	prefix := t.TempDir()
	bin := filepath.Join(prefix, "bin")
	libexec := filepath.Join(prefix, "libexec", "podbox")
	for _, d := range []string{bin, libexec} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if p := pauseNear(bin); len(p) != 0 {
		t.Fatalf("pauseNear(%s) = %q with no pause installed, want none", bin, p)
	}
	installed := filepath.Join(libexec, "pause")
	if err := os.WriteFile(installed, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if p := pauseNear(bin); len(p) != 1 || p[0] != installed {
		t.Errorf("pauseNear(%s) = %q, want %q ($PREFIX/libexec/podbox/pause)", bin, p, installed)
	}
	beside := filepath.Join(bin, "pause")
	if err := os.WriteFile(beside, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if p := pauseNear(bin); len(p) != 2 || p[0] != beside || p[1] != installed {
		t.Errorf("pauseNear(%s) = %q, want %q (beside the executable comes first)", bin, p, beside)
	}
}
