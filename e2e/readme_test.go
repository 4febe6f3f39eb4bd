package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/podbox/podbox/internal/testutil"
)

// readmeBlocks returns the lines of the ```sh blocks of README.md's sections
// with the given "## " headings, in the README's order.
func readmeBlocks(t *testing.T, readme string, sections ...string) []string {
	t.Helper()
	want := map[string]bool{}
	for _, s := range sections {
		want[s] = true
	}
	var lines []string
	in, inBlock, seen := false, false, map[string]bool{}
	for _, l := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(l, "## "):
			h := strings.TrimPrefix(l, "## ")
			in, seen[h] = want[h], true
		case in && !inBlock && l == "```sh":
			inBlock = true
		case inBlock && l == "```":
			inBlock = false
		case inBlock && strings.TrimSpace(l) != "":
			lines = append(lines, l)
		}
	}
	for _, s := range sections {
		if !seen[s] {
			t.Fatalf("README.md has no section %q", s)
		}
	}
	return lines
}

// TestREADMEWalkthrough runs every command of the README's "Try it" and
// "Using podbox" blocks, taken from README.md itself, in order, in the
// module's root as the README says, with the test's own podbox (the
// PODBOX_* variables of its environment isolate the state root, image
// store, cgroup parent, bridge, subnet, veths and nftables table from the
// host's podbox; sudo is a shim that keeps them). Where a person and a
// script differ, the test does what the person would, deliberately:
//   - make test runs as make -n test: this test is part of make test;
//   - curl is retried for a few seconds: the writer writes its first page a
//     moment after it started, and a person types slower than a script;
//   - logs -f is read until its first line, then interrupted (Ctrl-C);
//   - exec -it gets "hostname" and "exit" on stdin;
//   - hostPort 8080: when something on the host holds it, the walkthrough
//     runs a copy of web.yaml with a free port instead, and curls that.
//
// Before make demo a pod named web of the user's runs: the demo must leave
// it, and the network, alone (issue 15, item 9).
func TestREADMEWalkthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	root := testutil.ModuleRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	tryIt := readmeBlocks(t, string(readme), "Try it")
	using := readmeBlocks(t, string(readme), "Using podbox")
	if len(tryIt) < 2 || len(using) < 10 {
		t.Fatalf("README.md: %d commands under Try it and %d under Using podbox; want its walkthrough", len(tryIt), len(using))
	}

	shim := t.TempDir()
	if err := os.WriteFile(filepath.Join(shim, "sudo"), []byte("#!/bin/sh\nexec \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	var environ []string
	for _, kv := range e.environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "all_proxy", "no_proxy":
			continue // only loopback and pod IPs are ever fetched
		case "path":
			kv = "PATH=" + shim + ":" + v
		}
		environ = append(environ, kv)
	}
	// sh runs one README line; stdin is what a person would type.
	sh := func(ctx context.Context, line, stdin string) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "bash", "-o", "pipefail", "-c", line)
		cmd.Dir, cmd.Env = root, environ
		cmd.Stdin = strings.NewReader(stdin)
		return cmd
	}
	run := func(line, stdin string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 3*cmdTimeout)
		defer cancel()
		var out bytes.Buffer
		cmd := sh(ctx, line, stdin)
		cmd.Stdout, cmd.Stderr = &out, &out
		start := time.Now()
		err := cmd.Run()
		e.record("$ %s   # %v, %s\n%s", line, err, time.Since(start).Round(time.Millisecond), indent("output", out.String()))
		return out.String(), err
	}
	mustRun := func(line, stdin string) string {
		t.Helper()
		out, err := run(line, stdin)
		if err != nil {
			t.Fatalf("README: %s: %v\n%s", line, err, out)
		}
		return out
	}

	// A pod of the user's, named as the README's: make demo must not touch it.
	mustPodbox(t, e, "image", "import", "busybox", busyboxTar(t))
	mustPodbox(t, e, "run", "--name", "web", localManifest(t, "pair.yaml"))
	for _, line := range tryIt {
		switch {
		case strings.HasPrefix(line, "make test"):
			mustRun("make -n test", "")
		case strings.HasPrefix(line, "make demo"):
			out := mustRun(line, "")
			if strings.Contains(out, "\x1b[") {
				t.Errorf("make demo printed colour codes into a pipe:\n%q", out)
			}
			for _, want := range []string{"hello from pod podbox-demo", "podbox rm -f podbox-demo", "(other pods use the network: it stays)"} {
				if !strings.Contains(out, want) {
					t.Errorf("make demo: no %q in its output:\n%s", want, out)
				}
			}
		default:
			mustRun(line, "")
		}
	}
	if rows := e.ps(t); len(rows) != 1 || rows[0].Name != "web" || rows[0].Phase != "Running" {
		t.Errorf("after make demo: pods %+v, want only the user's web, still Running", rows)
	}
	if _, err := net.InterfaceByName(e.bridge); err != nil {
		t.Errorf("make demo removed the network another pod uses: bridge %s: %v", e.bridge, err)
	}
	mustPodbox(t, e, "rm", "-f", "web")

	// hostPort 8080, or a free one when the host holds it.
	rewrite := func(line string) string { return line }
	if l, err := net.Listen("tcp", ":8080"); err == nil {
		l.Close()
	} else {
		m, port, _ := withFreeHostPort(t, "web.yaml")
		t.Logf("port 8080 is taken on this host (%v): the walkthrough runs web.yaml with hostPort %d", err, port)
		rewrite = func(line string) string {
			line = strings.ReplaceAll(line, "testdata/pods/web.yaml", m)
			return strings.ReplaceAll(line, "127.0.0.1:8080", fmt.Sprintf("127.0.0.1:%d", port))
		}
	}
	for _, line := range using {
		line = rewrite(line)
		switch {
		case strings.HasPrefix(line, "curl "):
			var out string
			var err error
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(200 * time.Millisecond) {
				out, err = run(strings.Replace(line, "curl ", "curl --fail --silent --show-error --max-time 2 ", 1), "")
				if err == nil || time.Now().After(deadline) {
					break
				}
			}
			if err != nil || !strings.Contains(out, "hello from pod web") {
				t.Errorf("README: %s: %v\n%s", line, err, out)
			}
		case strings.Contains(line, " logs ") && strings.Contains(line, " -f"):
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			cmd := sh(ctx, line, "")
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			first, err := bufio.NewReader(stdout).ReadString('\n')
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) // Ctrl-C
			cmd.Wait()
			cancel()
			e.record("$ %s   # first line %q, %v\n", line, first, err)
			if !strings.Contains(first, "wrote index.html") {
				t.Errorf("README: %s: first line %q (%v), want the writer's", line, first, err)
			}
		case strings.Contains(line, " exec -it "):
			if out := mustRun(line, "hostname\nexit\n"); !strings.Contains(out, "\nweb\r\n") {
				t.Errorf("README: %s: the shell did not answer hostname with web:\n%s", line, out)
			}
		case strings.Contains(line, " stop "):
			start := time.Now()
			out := mustRun(line, "")
			if took := time.Since(start); took > 10*time.Second || !strings.Contains(out, `pod "web" stopped in`) {
				t.Errorf("README: %s: took %s, printed %q; want a prompt stop that says so", line, took, out)
			}
		default:
			mustRun(line, "")
		}
	}
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("after the README walkthrough: pods %+v, want none", rows)
	}
}
