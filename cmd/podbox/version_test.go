package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestVersion(t *testing.T) {
	run := func(args ...string) string {
		t.Helper()
		app := newApp()
		var out bytes.Buffer
		app.Writer = &out
		if err := app.Run(append([]string{"podbox"}, args...)); err != nil {
			t.Fatalf("podbox %s: %v", strings.Join(args, " "), err)
		}
		return out.String()
	}
	var v versionInfo
	if err := json.Unmarshal([]byte(run("version", "-o", "json")), &v); err != nil {
		t.Fatal(err)
	}
	// The test binary links libcontainer through sandbox, and the CRI API
	// through podbox cri.
	if !strings.HasPrefix(v.Libcontainer, "v1.") || !strings.HasPrefix(v.CRIAPI, "v0.") || v.Version != version || v.Commit != commit {
		t.Errorf("version -o json = %+v", v)
	}
	text := run("version")
	if !strings.HasPrefix(text, "podbox version "+version+"\n") || !strings.Contains(text, "\nlibcontainer: "+v.Libcontainer+"\n") {
		t.Errorf("version printed:\n%s", text)
	}
	if got := run("--version"); got != text {
		t.Errorf("--version printed:\n%s\nwant what version prints:\n%s", got, text)
	}
}

func TestCompletion(t *testing.T) {
	for _, sh := range []string{"bash", "zsh", "fish"} {
		app := newApp()
		var out bytes.Buffer
		app.Writer = &out
		if err := app.Run([]string{"podbox", "completion", sh}); err != nil || !strings.Contains(out.String(), "podbox") {
			t.Errorf("completion %s: %v\n%s", sh, err, out.String())
		}
	}
	if err := newApp().Run([]string{"podbox", "completion", "tcsh"}); err == nil || !strings.Contains(err.Error(), `unknown shell "tcsh"`) {
		t.Errorf("completion tcsh: %v, want an unknown shell error", err)
	}
}
