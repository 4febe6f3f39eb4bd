package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/podbox/podbox/internal/testutil"
)

// TestInstall installs podbox as a packager would (make install with DESTDIR
// and PREFIX=/usr) and runs a pod with only the installed files: the
// checkout's bin/ is off PATH, so podbox must find its pause in
// $PREFIX/libexec/podbox. Then `podbox version`, the bash completion, and
// make uninstall, which must leave no file behind.
func TestInstall(t *testing.T) {
	e := newEnv(t)
	root := testutil.ModuleRoot(t)
	dest := t.TempDir()
	prefix := filepath.Join(dest, "usr")
	runMake(t, root, "install", "DESTDIR="+dest, "PREFIX=/usr")

	for _, f := range []string{
		"bin/podbox", "libexec/podbox/pause", "libexec/podbox/podbox-monitor", "share/man/man8/podbox.8",
		"share/bash-completion/completions/podbox", "share/zsh/site-functions/_podbox",
		"share/fish/vendor_completions.d/podbox.fish",
		"share/doc/podbox/LICENSE", "share/doc/podbox/NOTICE", "share/doc/podbox/THIRD_PARTY_LICENSES",
	} {
		if _, err := os.Stat(filepath.Join(prefix, f)); err != nil {
			t.Errorf("make install: %v", err)
		}
	}
	if _, err := os.Stat(filepath.Join(prefix, "bin", "pause")); err == nil {
		t.Errorf("make install put a pause in %s/bin; it belongs in libexec/podbox", prefix)
	}

	installed := filepath.Join(prefix, "bin", "podbox")
	e.bin = installed
	e.vars = append(e.vars, "PATH="+pathWithout(filepath.Join(root, "bin"), os.Getenv("PODBOX_BIN_DIR")))

	mustPodbox(t, e, "image", "import", "busybox", busyboxTar(t))
	pod := manifest(t, "installed.yaml", `apiVersion: v1
kind: Pod
metadata:
  name: installed
spec:
  containers:
  - name: main
    image: busybox
    command: ["sleep", "3600"]
`)
	if out := mustPodbox(t, e, "run", pod); strings.TrimSpace(out) != "installed" {
		t.Errorf("podbox run printed %q, want the pod's name", out)
	}
	in := e.inspect(t, "installed")
	exe, err := os.Readlink("/proc/" + strconv.Itoa(in.PausePID) + "/exe")
	if err != nil {
		t.Fatalf("pause of the installed podbox: %v", err)
	}
	if want := filepath.Join(prefix, "libexec", "podbox", "pause"); exe != want {
		t.Errorf("the pod's pause runs %s, want %s", exe, want)
	}
	if exe, err := os.Readlink("/proc/" + strconv.Itoa(in.MonitorPID) + "/exe"); err != nil {
		t.Errorf("monitor of the installed podbox: %v", err)
	} else if want := filepath.Join(prefix, "libexec", "podbox", "podbox-shim"); exe != want {
		t.Errorf("the pod's monitor runs %s, want %s", exe, want)
	}
	// The shim starts the installed lifecycle.
	if b, err := os.ReadFile("/proc/" + strconv.Itoa(in.MonitorPID) + "/cmdline"); err != nil {
		t.Errorf("monitor of the installed podbox: %v", err)
	} else if args, want := strings.Split(string(b), "\x00"), filepath.Join(prefix, "libexec", "podbox", "podbox-monitor"); len(args) < 4 || args[3] != want {
		t.Errorf("the pod's shim runs %q, want it to start %s", args, want)
	}
	mustPodbox(t, e, "rm", "-f", "installed")

	var v struct {
		Version, Commit, Go, Platform, Libcontainer string
		CRIAPI                                      string `json:"criAPI"`
	}
	out := mustPodbox(t, e, "version", "-o", "json")
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("podbox version -o json: %v\n%s", err, out)
	}
	head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
	if err == nil && v.Commit != strings.TrimSpace(string(head)) {
		t.Errorf("podbox version: commit %q, want HEAD %s", v.Commit, head)
	}
	if v.Version == "" || v.Version == "dev" || !strings.HasPrefix(v.Go, "go") ||
		!strings.HasPrefix(v.Libcontainer, "v1.") || !strings.HasPrefix(v.CRIAPI, "v0.") {
		t.Errorf("podbox version -o json: %+v; want a version, go1.x, libcontainer v1.x and the CRI API podbox cri serves (v0.x)", v)
	}
	text := mustPodbox(t, e, "--version")
	for _, want := range []string{"podbox version " + v.Version + "\n", "commit: " + v.Commit + "\n", "libcontainer: " + v.Libcontainer + "\n", "cri-api: " + v.CRIAPI + "\n"} {
		if !strings.Contains(text, want) {
			t.Errorf("podbox --version lacks %q:\n%s", want, text)
		}
	}

	// The installed bash completion completes a verb through podbox itself.
	script := `source "$1"; COMP_WORDS=("$2" vers); COMP_CWORD=1; _podbox; echo "${COMPREPLY[*]}"`
	comp, err := exec.Command("bash", "-c", script, "bash", filepath.Join(prefix, "share/bash-completion/completions/podbox"), installed).CombinedOutput()
	if err != nil || strings.TrimSpace(string(comp)) != "version" {
		t.Errorf("bash completion of \"podbox vers\": %q (%v), want \"version\"", comp, err)
	}

	runMake(t, root, "uninstall", "DESTDIR="+dest, "PREFIX=/usr")
	e.bin = testutil.Binary(t, "podbox") // for the cleanup
	filepath.WalkDir(dest, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("make uninstall left %s", p)
		}
		return nil
	})
}

// runMake runs make -s -C dir with args, failing the test with its output.
func runMake(t *testing.T, dir string, args ...string) {
	t.Helper()
	out, err := exec.Command("make", append([]string{"-s", "-C", dir}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("make %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// pathWithout is $PATH without the directories drop.
func pathWithout(drop ...string) string {
	var keep []string
	for _, d := range filepath.SplitList(os.Getenv("PATH")) {
		skip := false
		for _, x := range drop {
			skip = skip || (x != "" && filepath.Clean(d) == filepath.Clean(x))
		}
		if !skip {
			keep = append(keep, d)
		}
	}
	return strings.Join(keep, string(os.PathListSeparator))
}
