package sandbox

import (
	"strings"
	"testing"
)

// A files volume (what configMap, secret, projected and downwardAPI
// volumes become) is on a tmpfs, read-only, with each file's mode and the
// pod's fields; env takes the downward API's values.
func TestFilesVolumeAndDownwardEnv(t *testing.T) {
	t.Parallel()
	e := newTestEnv(t)
	c := e.container("app", "sleep", "3600")
	c.MemoryLimit = 64 << 20
	c.VolumeMounts = []VolumeMount{{Name: "conf", Target: "/etc/conf"}}
	c.Env = []EnvVar{
		{Name: "UID", FieldPath: "metadata.uid"},
		{Name: "TIER", FieldPath: "metadata.labels['tier']"},
		{Name: "MEM_MI", ResourceField: &ResourceFieldRef{Container: "app", Resource: "limits.memory", Divisor: 1 << 20}},
		{Name: "TIER", Value: "later wins"},
	}
	st := e.run(&PodConfig{Name: "files", Labels: map[string]string{"tier": "web", "app": "x"},
		Volumes: []Volume{{Name: "conf", Files: &FilesVolume{Files: []VolumeFile{
			{Path: "app.conf", Data: []byte("a=1\n"), Mode: 0o640},
			{Path: "sub/secret", Data: []byte("hunter2"), Mode: 0o400},
			{Path: "labels", FieldPath: "metadata.labels", Mode: 0o644},
		}}}},
		Containers: []ContainerConfig{c}})
	for cmd, want := range map[string]string{
		"cat /etc/conf/app.conf /etc/conf/sub/secret":                       "a=1\nhunter2",
		"cat /etc/conf/labels":                                              "app=\"x\"\ntier=\"web\"",
		"stat -c %a /etc/conf/app.conf /etc/conf/sub/secret":                "640\n400\n",
		"echo $UID $TIER $MEM_MI":                                           st.UID + " later wins 64\n",
		"awk '$2 == \"/etc/conf\" {print $3, $4}' /proc/mounts | cut -c1-8": "tmpfs ro\n",
		"touch /etc/conf/x 2>&1 || echo refused":                            "refused",
	} {
		out, code := e.exec("files", "app", "sh", "-c", cmd)
		if !strings.Contains(out, want) {
			t.Errorf("%s: exit %d, %q; want %q", cmd, code, out, want)
		}
	}
}
