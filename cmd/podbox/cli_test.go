package main

import (
	"strings"
	"testing"
)

func TestInterspersed(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		{"get pod web -o json", "get -o json pod web"},
		// Global flags after the verb go before it; the verb's own stay with it.
		{"run pod.yaml --allocatable-memory 2.5Gi", "--allocatable-memory 2.5Gi run pod.yaml"},
		{"run --name x pod.yaml --root=/r", "--root=/r run --name x pod.yaml"},
		{"exec -it web -c server -- ls --root", "exec -it -c server web -- ls --root"},
		{"image rm busybox --image-root /i", "--image-root /i image rm busybox"},
		{"__complete logs --root", "__complete logs --root"},
	} {
		got := strings.Join(interspersed(app, append([]string{"podbox"}, strings.Fields(tc.in)...))[1:], " ")
		if got != tc.want {
			t.Errorf("interspersed(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ in, want string }{
		{"pss", "unknown command \"pss\" for \"podbox\"\n\nDid you mean this?\n\tps\n\nRun 'podbox --help' for usage."},
		{"--root /x imag ls", "Did you mean this?\n\timage\n"},
		{"image lss", "unknown command \"lss\" for \"podbox image\"\n\nDid you mean this?\n\tls\n"},
		{"zzzzzzzz", "unknown command \"zzzzzzzz\" for \"podbox\"\nRun 'podbox --help' for usage."},
	} {
		err := unknownCommand(app, append([]string{"podbox"}, strings.Fields(tc.in)...))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("unknownCommand(%q) = %v, want it to hold %q", tc.in, err, tc.want)
		}
	}
	for _, in := range []string{"", "ps", "--root /x ps -o json", "image ls", "help", "--help", "image", "get pods web"} {
		if err := unknownCommand(app, append([]string{"podbox"}, strings.Fields(in)...)); err != nil {
			t.Errorf("unknownCommand(%q) = %v, want nil", in, err)
		}
	}
}

type fakeNames struct{}

func (fakeNames) pods() []string { return []string{"web", "db"} }
func (fakeNames) containers(pod string) []string {
	if pod == "web" {
		return []string{"server", "writer"}
	}
	return nil
}
func (fakeNames) images() []string  { return []string{"busybox:latest"} }
func (fakeNames) volumes() []string { return []string{"data", "cache"} }

func TestComplete(t *testing.T) {
	app := newApp()
	for _, tc := range []struct{ line, want string }{
		{"", "run ps get inspect logs exec debug stop rm image volume network version completion cri"},
		{"debug ", "web db"},
		{"debug web --target s", "server"},
		{"debug web --image ", "busybox:latest"},
		{"debug web --profile n", "netadmin"},
		{"st", "stop"},
		{"logs ", "web db"},
		{"logs w", "web"},
		{"logs web -c ", "server writer"},
		{"exec -it web -c s", "server"},
		{"logs web --c", "--container"},
		{"stop --", "--time --help"},
		{"rm -f web ", "web db"},
		{"get ", "pod pods"},
		{"get pod ", "web db"},
		{"get pod web -o ", "json yaml table"},
		{"inspect -o ", "json namespaces"},
		{"image ", "pull import ls rm prune"},
		{"image rm ", "busybox:latest"},
		{"volume ", "create ls inspect rm"},
		{"volume rm d", "data"},
		{"completion ", "bash zsh fish"},
		{"run ", ""},
		{"--root /r ps -o j", "json"},
		{"--all", "--allocatable-memory --allow-swap"},
		{"nosuch ", ""},
	} {
		words := strings.Split(tc.line, " ")
		got := strings.Join(complete(app, words[:len(words)-1], words[len(words)-1], fakeNames{}), " ")
		if got != tc.want {
			t.Errorf("complete %q = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 2036000: "2.04MB", 999600: "1MB", 1500000000: "1.5GB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
