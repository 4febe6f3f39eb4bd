package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/spec"
)

// corpusExpected are the corpus manifests known not to run, and why; they
// are reported apart from the others.
var corpusExpected = map[string]string{
	"security/seccomp-violation-pod.yaml": "its Localhost profile refuses every system call, by design (it fails on a kubelet too)",
	"security/hello-apparmor.yaml":        "appArmorProfile is not supported by podbox (confinement)",
	"resources/memory-request-limit-3.yaml": "1000Gi of memory: refused by admission " +
		"(a kubelet leaves it Pending for the same reason)",
	"config/projected-service-account-token.yaml": "serviceAccountToken projections: podbox has no API server to issue tokens",
	"pods/private-reg-pod.yaml":                   "its imagePullSecrets name a Secret the file does not hold",
	"storage/mount-propagation.yaml": "HostToContainer needs the hostPath on a shared or slave mount; " +
		"podbox refuses it where / is private (it runs where / is shared, as on systemd hosts)",
}

// corpusMinRate is what share of the corpus must reach Running or
// Succeeded: at least 100 of every 113.
const corpusMinNum, corpusMinDen = 100, 113

// TestCorpus runs every manifest of testdata/corpus, written in the shapes
// of the Kubernetes documentation's Pod examples (busybox for every image,
// hostPaths under the test's directory), a few at a time, and counts those
// whose every pod reached Running or Succeeded.
func TestCorpus(t *testing.T) {
	e := newEnvWithBusybox(t)
	root := filepath.Join(testutil.ModuleRoot(t), "testdata", "corpus")
	e.vars = append(e.vars, "PODBOX_SECCOMP_ROOT="+filepath.Join(root, "seccomp"))
	files, err := filepath.Glob(filepath.Join(root, "*", "*.yaml"))
	if err != nil || len(files) < corpusMinDen {
		t.Fatalf("the corpus has %d manifests (%v), want at least %d", len(files), err, corpusMinDen)
	}
	type item struct {
		rel, path string
		pods      []string // what podbox rm -f takes, after the run
	}
	var items []*item
	dir := t.TempDir()
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		host := filepath.Join(e.root, "hostpath", strings.TrimSuffix(strings.ReplaceAll(rel, "/", "-"), ".yaml"))
		b = []byte(strings.ReplaceAll(string(b), "__HOSTPATH__", host))
		p := filepath.Join(dir, strings.ReplaceAll(rel, "/", "-"))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		it := &item{rel: rel, path: p}
		if cs, err := spec.ParseAll(b); err == nil {
			for _, c := range cs {
				it.pods = append(it.pods, c.Name)
			}
		}
		items = append(items, it)
	}
	// Batches of manifests whose pods have different names (the corpus,
	// as the documentation, names many pods nginx), run at once.
	const batchSize = 4
	var batches [][]*item
	left := slices.Clone(items)
	for len(left) > 0 {
		var batch []*item
		names := map[string]bool{}
		rest := left[:0:0]
		for _, it := range left {
			clash := slices.ContainsFunc(it.pods, func(n string) bool { return names[n] })
			if len(batch) == batchSize || clash {
				rest = append(rest, it)
				continue
			}
			for _, n := range it.pods {
				names[n] = true
			}
			batch = append(batch, it)
		}
		batches = append(batches, batch)
		left = rest
	}
	var (
		mu       sync.Mutex
		failures = map[string]string{}
	)
	for _, batch := range batches {
		var wg sync.WaitGroup
		for _, it := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				why := runCorpusItem(t, e, it.path)
				mu.Lock()
				defer mu.Unlock()
				if why != "" {
					failures[it.rel] = why
				}
			}()
		}
		wg.Wait()
		for _, it := range batch {
			if len(it.pods) > 0 {
				podbox(t, e, append([]string{"rm", "-f"}, it.pods...)...)
			}
		}
	}
	if rows := e.ps(t); len(rows) != 0 {
		t.Errorf("pods left after the corpus: %+v", rows)
	}
	passed := len(items) - len(failures)
	var report []string
	var keys []string
	for k := range failures {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		tag := "unexpected"
		if why, ok := corpusExpected[k]; ok {
			tag = "expected: " + why
		}
		report = append(report, fmt.Sprintf("  %s (%s)\n    %s", k, tag, strings.ReplaceAll(failures[k], "\n", "\n    ")))
	}
	t.Logf("corpus: %d of %d manifests reached Running or Succeeded (%.1f%%); failed:\n%s",
		passed, len(items), 100*float64(passed)/float64(len(items)), strings.Join(report, "\n"))
	if passed*corpusMinDen < corpusMinNum*len(items) {
		t.Errorf("corpus: %d of %d, under %d of every %d", passed, len(items), corpusMinNum, corpusMinDen)
	}
}

// runCorpusItem runs one manifest and says why it did not reach Running
// or Succeeded ("" when it did).
func runCorpusItem(t *testing.T, e *env, path string) string {
	out, errOut, code := podbox(t, e, "run", path)
	if code != 0 {
		return fmt.Sprintf("podbox run: exit %d: %s", code, strings.TrimSpace(errOut))
	}
	for _, name := range strings.Fields(out) {
		js, errOut, code := podbox(t, e, "get", "pod", name, "-o", "json")
		var p v1.Pod
		if err := json.Unmarshal([]byte(js), &p); code != 0 || err != nil {
			return fmt.Sprintf("podbox get pod %s: exit %d: %v %s", name, code, err, errOut)
		}
		if ph := p.Status.Phase; ph != v1.PodRunning && ph != v1.PodSucceeded {
			return fmt.Sprintf("pod %s is %s: %s", name, ph, p.Status.Message)
		}
	}
	return ""
}
