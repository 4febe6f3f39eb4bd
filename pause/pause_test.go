package pause_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
)

// Every test runs against each build of the pause: bin/pause as `make`
// builds it (on amd64: the assembly entry, no Go runtime) and, where a Go
// toolchain is available, the pure-Go pause built here with -tags purego.

var tmpDir string // removed by TestMain

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "podbox-pause-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tmpDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type build struct {
	name    string
	path    string
	asm     bool   // started at the assembly entry: no Go runtime
	version string // what -v prints after "pause ", or "" when unknown
}

const pureGoVersion = "purego-test"

var (
	pureGoOnce sync.Once
	pureGoPath string
	pureGoErr  error
)

// builds returns the builds of the pause to test.
func builds(t *testing.T) []build {
	t.Helper()
	bin := build{
		name: "bin",
		path: testutil.Binary(t, "pause"),
		asm:  runtime.GOARCH == "amd64" && !strings.Contains(os.Getenv("GOFLAGS"), "purego"),
	}
	if bin.asm {
		bin.name = "asm"
	}
	bs := []build{bin}
	if _, err := exec.LookPath("go"); err != nil {
		t.Log("no go toolchain on PATH: the purego build is not tested here")
		return bs
	}
	root := testutil.ModuleRoot(t)
	pureGoOnce.Do(func() {
		out := filepath.Join(tmpDir, "pause-purego")
		cmd := exec.Command("go", "build", "-tags", "purego", "-trimpath",
			"-ldflags", "-s -w -X github.com/podbox/podbox/pause.Version="+pureGoVersion,
			"-o", out, "./cmd/pause")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			pureGoErr = fmt.Errorf("go build -tags purego: %w\n%s", err, b)
			return
		}
		pureGoPath = out
	})
	if pureGoErr != nil {
		t.Fatal(pureGoErr)
	}
	return append(bs, build{name: "purego", path: pureGoPath, version: pureGoVersion})
}

// proc is a started pause (or another process standing in for one).
type proc struct {
	cmd  *exec.Cmd
	pid  int
	done chan struct{} // closed when Wait returned
	err  error         // Wait's result, once done is closed
}

// start starts path with argv[0] "podbox-pause:<prefix>" (as the sandbox does:
// it must not matter, and a leak is attributable), in a new PID namespace
// when pidns is set. The process is killed and reaped in t.Cleanup.
func start(t *testing.T, path string, pidns bool, args ...string) *proc {
	t.Helper()
	cmd := &exec.Cmd{
		Path: path,
		Args: append([]string{"podbox-pause:" + testutil.Prefix(t)}, args...),
	}
	if pidns {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	p := &proc{cmd: cmd, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			// SIGKILL from the parent namespace ends even a PID 1, and
			// with it everything in its namespace.
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitExit0 fails t unless p exits with status 0 within 5 s.
func (p *proc) waitExit0(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		t.Fatalf("pause %d still running 5s after the signal", p.pid)
	}
	if p.err != nil {
		t.Fatalf("pause %d: %v (want exit status 0)", p.pid, p.err)
	}
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(p.pid, sig); err != nil {
		t.Fatalf("kill -%d %d: %v", sig, p.pid, err)
	}
}

// status reads /proc/<pid>/status into a map.
func status(pid int) (map[string]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	m := make(map[string]string)
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok {
			m[k] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

func sigmask(sigs ...syscall.Signal) uint64 {
	var m uint64
	for _, s := range sigs {
		m |= 1 << (s - 1)
	}
	return m
}

// waitReady waits until p has its handlers: it sets SIGHUP and SIGUSR1 to
// ignored last, and SigCgt must show INT, TERM and CHLD.
func (p *proc) waitReady(t *testing.T) {
	t.Helper()
	ign := sigmask(syscall.SIGHUP, syscall.SIGUSR1)
	cgt := sigmask(syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	var st map[string]string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if p.exited() {
			t.Fatalf("pause %d exited before it was ready: %v", p.pid, p.err)
		}
		var err error
		if st, err = status(p.pid); err != nil {
			continue
		}
		gotIgn, _ := strconv.ParseUint(st["SigIgn"], 16, 64)
		gotCgt, _ := strconv.ParseUint(st["SigCgt"], 16, 64)
		if gotIgn&ign == ign && gotCgt&cgt == cgt {
			return
		}
	}
	t.Fatalf("pause %d not ready after 5s: SigIgn %s SigCgt %s", p.pid, st["SigIgn"], st["SigCgt"])
}

// inPidNS runs script with /bin/sh inside the PID namespace of pid.
// Equivalent to: nsenter -t $pid -p -- sh -c "$script"
// When the script ends that namespace's PID 1, the kernel kills the shell
// too: with killedOK, that is not an error.
func inPidNS(t *testing.T, pid int, script string, killedOK bool) {
	t.Helper()
	nsenter, err := exec.LookPath("nsenter")
	if err != nil {
		t.Fatalf("nsenter (util-linux) is needed: %v", err)
	}
	cmd := exec.Command(nsenter, "-t", strconv.Itoa(pid), "-p", "--", "/bin/sh", "-c", script)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if killedOK && errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL {
		return
	}
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
}

// children returns the pids of ppid's children and which of them are zombies.
func children(ppid int) (all, zombies []int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := status(pid)
		if err != nil || st["PPid"] != strconv.Itoa(ppid) {
			continue
		}
		all = append(all, pid)
		if strings.HasPrefix(st["State"], "Z") {
			zombies = append(zombies, pid)
		}
	}
	return all, zombies
}

func modes() []struct {
	name  string
	pidns bool
} {
	return []struct {
		name  string
		pidns bool
	}{{"plain", false}, {"pid1", true}}
}

func TestVersion(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, b := range builds(t) {
		t.Run(b.name, func(t *testing.T) {
			cmd := &exec.Cmd{Path: b.path, Args: []string{"podbox-pause:" + testutil.Prefix(t), "-v"}}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			done := make(chan error, 1)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s -v: %v\nstdout: %q\nstderr: %q", b.path, err, stdout.String(), stderr.String())
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("%s -v did not exit", b.path)
			}
			want := regexp.MustCompile(`^pause \S+\n$`)
			if b.version != "" {
				want = regexp.MustCompile(`^pause ` + regexp.QuoteMeta(b.version) + `\n$`)
			}
			if !want.MatchString(stdout.String()) || stderr.Len() != 0 {
				t.Fatalf("%s -v: stdout %q, stderr %q; want stdout matching %s", b.path, stdout.String(), stderr.String(), want)
			}
		})
	}
}

// TestStopFromOutside: SIGINT and SIGTERM from the parent namespace end the
// pause with status 0, as PID 1 of its own PID namespace or not. Other
// arguments than -v (here "-vv") are ignored.
func TestStopFromOutside(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, b := range builds(t) {
		for _, m := range modes() {
			for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
				t.Run(fmt.Sprintf("%s/%s/%s", b.name, m.name, sig), func(t *testing.T) {
					p := start(t, b.path, m.pidns, "-vv")
					p.waitReady(t)
					p.signal(t, sig)
					p.waitExit0(t)
				})
			}
		}
	}
}

// TestStopFromInside: a process in the pause's PID namespace runs `kill 1`.
// The kernel drops signals to a namespace's PID 1 that has no handler for
// them, so this proves that the handlers are real.
func TestStopFromInside(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, b := range builds(t) {
		for _, sig := range []string{"INT", "TERM"} {
			t.Run(b.name+"/"+sig, func(t *testing.T) {
				p := start(t, b.path, true)
				p.waitReady(t)
				inPidNS(t, p.pid, "kill -"+sig+" 1", true)
				p.waitExit0(t)
			})
		}
	}
}

// TestIgnored: SIGHUP and SIGUSR1 do not end the pause. Without a handler
// they would end a plain process (a PID 1 drops them anyway).
func TestIgnored(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, b := range builds(t) {
		for _, m := range modes() {
			t.Run(b.name+"/"+m.name, func(t *testing.T) {
				p := start(t, b.path, m.pidns)
				p.waitReady(t)
				p.signal(t, syscall.SIGHUP)
				p.signal(t, syscall.SIGUSR1)
				time.Sleep(200 * time.Millisecond)
				if p.exited() {
					t.Fatalf("pause %d ended by SIGHUP or SIGUSR1: %v", p.pid, p.err)
				}
				p.signal(t, syscall.SIGTERM)
				p.waitExit0(t)
			})
		}
	}
}

// orphans makes five children of PID 1 in pid's PID namespace: a shell in
// that namespace starts five `sleep 1` and exits, so they are reparented to
// its PID 1. It waits until pid has the five as children and returns when
// it saw them.
func orphans(t *testing.T, pid int) time.Time {
	t.Helper()
	inPidNS(t, pid, "for i in 1 2 3 4 5; do sleep 1 </dev/null >/dev/null 2>&1 & done", false)
	var kids []int
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if kids, _ = children(pid); len(kids) == 5 {
			return time.Now()
		}
	}
	t.Fatalf("pid %d has %d children (%v), want the 5 orphaned sleeps", pid, len(kids), kids)
	return time.Time{}
}

// TestReapsOrphans: as PID 1 of a PID namespace, the pause reaps orphans
// that exit: 1 s after they exit, none of them is left as a zombie.
func TestReapsOrphans(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, b := range builds(t) {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			p := start(t, b.path, true)
			p.waitReady(t)
			seen := orphans(t, p.pid)
			// The sleeps end 1 s after they started; 1 s more to reap them.
			deadline := seen.Add(2 * time.Second)
			var kids, zombies []int
			for time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				if kids, zombies = children(p.pid); len(kids) == 0 {
					break
				}
			}
			if len(zombies) != 0 || len(kids) != 0 {
				t.Fatalf("pause %d: children %v, zombies %v after 2s; want none", p.pid, kids, zombies)
			}
			if p.exited() {
				t.Fatalf("pause %d exited: %v", p.pid, p.err)
			}
			p.signal(t, syscall.SIGTERM)
			p.waitExit0(t)
		})
	}
	// The control: a PID 1 that does not reap (sleep) keeps the five as
	// zombies, so the check above can see a zombie when there is one.
	t.Run("control", func(t *testing.T) {
		t.Parallel()
		sleep, err := exec.LookPath("sleep")
		if err != nil {
			t.Fatal(err)
		}
		p := start(t, sleep, true, "1000")
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			// sleep sets no handlers: wait for its exec to have happened.
			if b, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.pid)); b == sleep || time.Now().After(deadline) {
				break
			}
		}
		orphans(t, p.pid)
		var zombies []int
		for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline) && len(zombies) < 5; time.Sleep(50 * time.Millisecond) {
			_, zombies = children(p.pid)
		}
		if len(zombies) != 5 {
			t.Fatalf("a PID 1 that does not reap: zombies %v, want 5", zombies)
		}
	})
}

// TestIdle reads /proc/<pid>/status of an idle pause. The assembly build
// runs without the Go runtime, so it has one thread; the resident size is
// logged, not asserted (bench/pause.sh reports it).
func TestIdle(t *testing.T) {
	testutil.RequiresRoot(t)
	for _, b := range builds(t) {
		for _, m := range modes() {
			t.Run(b.name+"/"+m.name, func(t *testing.T) {
				p := start(t, b.path, m.pidns)
				p.waitReady(t)
				time.Sleep(100 * time.Millisecond)
				st, err := status(p.pid)
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: Threads %s, VmRSS %s, RssAnon %s", b.name, st["Threads"], st["VmRSS"], st["RssAnon"])
				if b.asm && st["Threads"] != "1" {
					t.Errorf("Threads = %s, want 1 (the assembly entry starts no runtime)", st["Threads"])
				}
				if !strings.HasPrefix(st["State"], "S") {
					t.Errorf("State = %s, want S (sleeping)", st["State"])
				}
				p.signal(t, syscall.SIGTERM)
				p.waitExit0(t)
			})
		}
	}
}
