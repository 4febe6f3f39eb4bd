package sandbox

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLogWriterRotates(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app", "0.log")
	w, err := openLog(path, minLogMaxSize, 3)
	if err != nil {
		t.Fatal(err)
	}
	line := strings.Repeat("x", 999)
	r, pw := io.Pipe()
	done := make(chan struct{})
	go func() { w.CopyLines("stdout", r); close(done) }()
	for range 1000 { // about 1 MB: 15 rotations at 64 KiB
		io.WriteString(pw, line+"\n")
	}
	io.WriteString(pw, "last\n")
	pw.Close()
	<-done
	w.Close()
	ents, _ := os.ReadDir(filepath.Join(dir, "app"))
	if len(ents) != 3 {
		t.Fatalf("%d files kept, want 3 (the log and 2 parts): %v", len(ents), ents)
	}
	for _, e := range ents {
		fi, _ := e.Info()
		if fi.Size() > minLogMaxSize {
			t.Errorf("%s: %d bytes, over %d", e.Name(), fi.Size(), minLogMaxSize)
		}
	}
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if l := ParseCRILine(lines[len(lines)-1]); l.Text != "last" || l.Stream != "stdout" || l.Partial {
		t.Errorf("last record %+v", l)
	}
}

func TestPruneInstances(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"0.log", "0.log.20260101-000000.000000001", "1.log", "2.log", "2.log.20260101-000000.000000001", "3.log", "10.log"} {
		os.MkdirAll(filepath.Join(dir, "app"), 0o700)
		os.WriteFile(filepath.Join(dir, "app", f), nil, 0o600)
	}
	pruneInstances(dir, "app", 2)
	ents, _ := os.ReadDir(filepath.Join(dir, "app"))
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != "10.log 2.log 2.log.20260101-000000.000000001 3.log" {
		t.Errorf("kept %v", got)
	}
}

// TestCheckLogDir: Remove deletes the log directory a state file names only
// when it is the pod's own.
func TestCheckLogDir(t *testing.T) {
	uid, err := newUID()
	if err != nil {
		t.Fatal(err)
	}
	if !uidPattern.MatchString(uid) {
		t.Fatalf("newUID() = %q, not a v4 UUID", uid)
	}
	ok := &PodStatus{Name: "web", UID: uid, LogDir: "/var/log/podbox/pods/default_web_" + uid}
	if d, err := checkLogDir(ok); err != nil || d != ok.LogDir {
		t.Errorf("checkLogDir(own) = %q, %v", d, err)
	}
	for _, bad := range []string{"/etc", "/var/log/podbox/pods/default_web_" + uid + "/../..", "relative/default_web_" + uid, "/x/default_other_" + uid} {
		st := *ok
		st.LogDir = bad
		if d, err := checkLogDir(&st); err == nil {
			t.Errorf("checkLogDir(%q) = %q, want an error", bad, d)
		}
	}
	st := *ok
	st.UID = "../../etc"
	st.LogDir = "/var/log/podbox/pods/default_web_../../etc"
	if _, err := checkLogDir(&st); err == nil {
		t.Error("a forged uid passed")
	}
}
