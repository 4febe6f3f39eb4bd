package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// A persistentVolumeClaim is a named volume: made on first use, kept after
// the pod for the next one, not removable while a pod uses it; readOnly
// holds; hostile claim names are refused.
func TestPersistentVolumeClaim(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	writer := manifest(t, "writer.yaml", `apiVersion: v1
kind: Pod
metadata: {name: writer}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "echo kept > /data/f; sleep 3600"]
    volumeMounts: [{name: d, mountPath: /data}]
  volumes:
  - name: d
    persistentVolumeClaim: {claimName: app-data}
`)
	mustPodbox(t, e, "run", writer)
	eventually(t, 10*time.Second, "the pod wrote into its claim", func() (bool, string) {
		out, errOut, _ := podbox(t, e, "exec", "writer", "--", "cat", "/data/f")
		return out == "kept\n", out + errOut
	})
	if out := mustPodbox(t, e, "volume", "ls"); !strings.Contains(out, "app-data") || !strings.Contains(out, "writer") {
		t.Errorf("volume ls while the pod runs:\n%s", out)
	}
	failPodbox(t, e, 1, []string{"podbox: ", `remove volume "app-data": volume is in use by pod writer (remove the pod first)`}, "volume", "rm", "app-data")
	var vols []struct {
		Name, Mountpoint string
		Pods             []string
	}
	if err := json.Unmarshal([]byte(mustPodbox(t, e, "volume", "inspect", "app-data")), &vols); err != nil || len(vols) != 1 {
		t.Fatalf("volume inspect: %v %v", vols, err)
	}
	if want := filepath.Join(e.root, "volumes", "app-data", "_data"); vols[0].Mountpoint != want {
		t.Errorf("mountpoint %q, want %q", vols[0].Mountpoint, want)
	}
	insp := e.inspect(t, "writer")
	if len(insp.Volumes) != 1 || insp.Volumes[0].Kind != "persistentVolumeClaim" || insp.Volumes[0].Claim != "app-data" || insp.Volumes[0].Path != vols[0].Mountpoint {
		t.Errorf("inspect volumes: %+v", insp.Volumes)
	}
	mustPodbox(t, e, "rm", "-f", "writer")

	// The next pod sees the data; readOnly on the claim holds.
	reader := manifest(t, "reader.yaml", strings.NewReplacer("writer", "reader", `echo kept > /data/f; `, "",
		"claimName: app-data}", "claimName: app-data, readOnly: true}").Replace(readFile(t, writer)))
	mustPodbox(t, e, "run", reader)
	if out := mustPodbox(t, e, "exec", "reader", "--", "cat", "/data/f"); out != "kept\n" {
		t.Errorf("the next pod reads %q from the claim", out)
	}
	failPodbox(t, e, 1, []string{"Read-only file system"}, "exec", "reader", "--", "touch", "/data/g")
	mustPodbox(t, e, "rm", "-f", "reader")
	if out := mustPodbox(t, e, "volume", "ls"); !strings.Contains(out, "app-data") || !strings.Contains(out, "<none>") {
		t.Errorf("volume ls after the pods:\n%s", out)
	}
	mustPodbox(t, e, "volume", "rm", "app-data")
	if _, err := os.Stat(vols[0].Mountpoint); !os.IsNotExist(err) {
		t.Errorf("the volume's data is left after volume rm: %v", err)
	}

	// Hostile names never become paths.
	hostile := manifest(t, "hostile.yaml", strings.Replace(readFile(t, writer), "claimName: app-data", "claimName: ../../../etc", 1))
	failPodbox(t, e, 1, []string{`spec.volumes[0].persistentVolumeClaim.claimName: volume name "../../../etc": not a DNS-1123 subdomain`}, "run", hostile)
	for _, name := range []string{"../escape", "..", "a/b", "UPPER"} {
		failPodbox(t, e, 1, []string{"podbox: ", "volume name " + jsonQuote(name) + ": not a DNS-1123 subdomain"}, "volume", "create", name)
		failPodbox(t, e, 1, []string{"podbox: ", "not a DNS-1123 subdomain"}, "volume", "rm", name)
	}
	if left, _ := os.ReadDir(filepath.Join(e.root, "volumes")); len(left) != 1 || left[0].Name() != ".lock" {
		t.Errorf("the volume root holds %v", left)
	}
}

func jsonQuote(s string) string { b, _ := json.Marshal(s); return string(b) }

// An image volume shows an image's files read-only (an overlay of its
// layers), subPath included; the image can not be removed while the pod
// exists.
func TestImageVolume(t *testing.T) {
	t.Parallel()
	e := newEnvWithBusybox(t)
	work := t.TempDir()
	// An image of two layers (the busybox root and /etc/layer2), as an
	// OCI layout.
	dir := filepath.Join(work, "oci")
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(busyboxImage(t, work)); err != nil {
		t.Fatal(err)
	}
	mustPodbox(t, e, "image", "import", "content:v1", dir)
	m := manifest(t, "imgvol.yaml", `apiVersion: v1
kind: Pod
metadata: {name: imgvol}
spec:
  containers:
  - name: c
    image: busybox
    command: [sleep, "3600"]
    volumeMounts:
    - {name: content, mountPath: /content}
    - {name: content, mountPath: /etc-of-content, subPath: etc}
  volumes:
  - name: content
    image: {reference: "content:v1", pullPolicy: Never}
`)
	mustPodbox(t, e, "run", m)
	if out := mustPodbox(t, e, "exec", "imgvol", "--", "sh", "-c", "cat /content/etc/layer2 /etc-of-content/layer2; test -x /content/bin/busybox && echo exec"); out != "from the second layer\nfrom the second layer\nexec\n" {
		t.Errorf("the image volume's files: %q", out)
	}
	failPodbox(t, e, 1, []string{"Read-only file system"}, "exec", "imgvol", "--", "touch", "/content/new")
	failPodbox(t, e, 1, []string{"Read-only file system"}, "exec", "imgvol", "--", "rm", "/etc-of-content/layer2")
	insp := e.inspect(t, "imgvol")
	if len(insp.Volumes) != 1 || insp.Volumes[0].Kind != "image" || insp.Volumes[0].Image != "content:v1" || !strings.HasPrefix(insp.Volumes[0].ImageID, "content@sha256:") {
		t.Errorf("inspect volumes: %+v", insp.Volumes)
	}
	failPodbox(t, e, 1, []string{"podbox: ", "in use", "imgvol"}, "image", "rm", "content:v1")
	mustPodbox(t, e, "rm", "-f", "imgvol")
	mustPodbox(t, e, "image", "rm", "content:v1")

	// A reference that is not an image name, and one that is not in the
	// store under Never, are refused by name.
	bad := manifest(t, "bad.yaml", strings.Replace(readFile(t, m), `reference: "content:v1"`, `reference: "../../etc"`, 1))
	failPodbox(t, e, 1, []string{`spec.volumes[0].image.reference: invalid image name "../../etc"`}, "run", bad)
	failPodbox(t, e, 1, []string{`spec.volumes[0].image.reference (content)`, `"content:v1" not found`, "imagePullPolicy is Never"}, "run", m)
}
