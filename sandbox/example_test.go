package sandbox_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/podbox/podbox/cgroups"
	"github.com/podbox/podbox/internal/testutil"
	"github.com/podbox/podbox/netns"
	"github.com/podbox/podbox/sandbox"
)

// An embedding program's main must hand "<self> init" to the sandbox before
// anything else, and be built with cgo:
//
//	func main() {
//		if sandbox.IsInit() {
//			sandbox.Init() // never returns
//		}
//		...
//	}
//
// Then a pod is a config, created, started, exec'd into and removed.
func Example() {
	ctx := context.Background()
	root, _ := os.MkdirTemp("", "podbox-example-")
	defer os.RemoveAll(root)
	m, err := sandbox.New(sandbox.Options{
		Root:         root,
		LogRoot:      filepath.Join(root, "logs"), // default /var/log/podbox/pods
		CgroupParent: "/podbox-example",
		PauseBinary:  os.Getenv("PODBOX_EXAMPLE_PAUSE"), // the built pause program
		// A network of its own, so that the example leaves the host's alone.
		Network: netns.Config{Bridge: "pbexample", VethPrefix: "pvexample", Subnet: "10.89.254.0/24", Table: "podbox-example"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cgroups.LoadPod("/podbox-example").Destroy()
	defer m.RemoveNetwork()

	pod := &sandbox.PodConfig{
		Name: "hello",
		Containers: []sandbox.ContainerConfig{{
			Name:    "main",
			Rootfs:  os.Getenv("PODBOX_EXAMPLE_ROOTFS"), // an image's root filesystem
			Command: []string{"sleep", "3600"},
		}},
	}
	if _, err := m.Create(ctx, pod); err != nil {
		fmt.Println(err)
		return
	}
	defer m.Remove(ctx, "hello", true)
	if err := m.Start(ctx, "hello", sandbox.RunOptions{}); err != nil {
		fmt.Println(err)
		return
	}

	var out strings.Builder
	code, err := m.Exec(ctx, "hello", "main", &sandbox.ExecProcess{
		Args:   []string{"hostname"},
		Stdout: &out,
	})
	fmt.Println(strings.TrimSpace(out.String()), code, err)

	st, _ := m.Status(ctx, "hello")
	fmt.Println(st.Phase, st.Containers[0].State, filepath.Base(st.Namespaces["net"]))
	// It prints:
	//   hello 0 <nil>
	//   Running running net
}

// TestExample runs Example, which makes real pods, cgroups and a bridge: so
// it is a root test (`go test` compiles Example but, with no Output
// comment, never runs it), and checks that it leaves nothing behind.
func TestExample(t *testing.T) {
	testutil.RequiresRoot(t)
	if os.Getenv("PODBOX_EXAMPLE_PAUSE") == "" || os.Getenv("PODBOX_EXAMPLE_ROOTFS") == "" {
		t.Fatal("no pause or busybox rootfs for the example (see setUpExample)")
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout := os.Stdout
	os.Stdout = w
	func() {
		defer func() { os.Stdout = stdout }()
		Example()
	}()
	w.Close()
	out, _ := io.ReadAll(r)
	if want := "hello 0 <nil>\nRunning running net\n"; string(out) != want {
		t.Errorf("Example printed %q, want %q", out, want)
	}
	gate := filepath.Join(testutil.ModuleRoot(t), "hack", "leakcheck-gate")
	for _, pat := range []string{"podbox-example", "pbexample", "pvexample"} {
		if out, err := exec.Command(gate, pat).CombinedOutput(); err != nil {
			t.Errorf("Example left host resources:\n%s", out)
		}
	}
}
