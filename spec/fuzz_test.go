package spec

import (
	"encoding/json"
	"errors"
	"github.com/podbox/podbox/sandbox"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// FuzzParse: no input panics, every rejection is an error that wraps
// ErrInvalid or ErrUnsupported, and every pod accepted is one the sandbox
// accepts too (once an image store has filled in Rootfs and a command).
// Plain `go test` runs the seeds only; `go test -fuzz=FuzzParse ./spec/`
// explores.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "pods", "*.yaml"))
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{full, kubectlRun, twoPods, "", "---\n", "- a\n", "apiVersion: v1\nkind: Pod\n",
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i","livenessProbe":{}}]}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cs, err := ParseAll(data)
		if err != nil {
			if cs != nil {
				t.Fatalf("configs %v returned with error %v", cs, err)
			}
			var list Errors
			if !errors.As(err, &list) {
				list = Errors{err}
			}
			for _, e := range list {
				if !errors.Is(e, ErrInvalid) && !errors.Is(e, ErrUnsupported) {
					t.Fatalf("error %q wraps neither ErrInvalid nor ErrUnsupported", e)
				}
			}
			return
		}
		if len(cs) == 0 {
			t.Fatal("no configs and no error")
		}
		for _, c := range cs {
			if _, err := json.Marshal(c); err != nil {
				t.Fatalf("config does not marshal: %v", err)
			}
			// What an image store does before the sandbox sees the config.
			ready := *c
			ready.Containers = append(ready.Containers[:0:0], c.Containers...)
			ready.InitContainers = append(ready.InitContainers[:0:0], c.InitContainers...)
			for _, list := range [][]sandbox.ContainerConfig{ready.InitContainers, ready.Containers} {
				for i := range list {
					list[i].Rootfs = "/images/x"
					if len(list[i].Command) == 0 || list[i].Command[0] == "" {
						list[i].Command = []string{"/bin/sh"}
					}
				}
			}
			if err := ready.Validate(); err != nil {
				t.Fatalf("spec accepted a pod the sandbox refuses: %v\n%s", err, data)
			}
		}
		if len(cs) == 1 {
			c, err := Parse(data)
			if err != nil || !reflect.DeepEqual(c, cs[0]) {
				t.Fatalf("Parse = %v, %v; ParseAll = %v", c, err, cs[0])
			}
		}
	})
}
