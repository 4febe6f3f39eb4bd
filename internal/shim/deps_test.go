package shim

import (
	"os/exec"
	"strings"
	"testing"
)

// What every pod keeps resident is podbox-shim's binary: it must not grow
// the packages that made the old monitor 18 MB, nor those that were a
// quarter of its own size.
func TestShimDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/podbox/podbox/cmd/podbox-shim").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	for _, dep := range deps {
		for _, bad := range []string{
			"github.com/podbox/podbox/sandbox", "github.com/opencontainers/", "google.golang.org/grpc",
			"google.golang.org/protobuf", "k8s.io/", "encoding/json", "fmt",
		} {
			if dep == bad || strings.HasPrefix(dep, bad) && strings.HasSuffix(bad, "/") || strings.HasPrefix(dep, bad+"/") {
				t.Errorf("podbox-shim links %s", dep)
			}
		}
	}
	if len(deps) > 100 {
		t.Errorf("podbox-shim links %d packages; it linked 70", len(deps))
	}
}
