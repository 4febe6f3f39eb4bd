package cgroups

import "testing"

func TestPodQuota(t *testing.T) {
	app := func(l int64) Container { return Container{Kind: App, MemLimit: l} }
	ini := func(l int64) Container { return Container{Kind: Init, MemLimit: l} }
	side := func(l int64) Container { return Container{Kind: Sidecar, MemLimit: l} }
	for _, tc := range []struct {
		name     string
		cs       []Container
		overhead int64
		want     int64
		ok       bool
	}{
		{"no containers", nil, 0, 0, false},
		{"one app", []Container{app(512 * Mi)}, 0, 512 * Mi, true},
		{"apps add up", []Container{app(Gi), app(Gi), app(Gi)}, 0, 3 * Gi, true},
		{"overhead added", []Container{app(Gi)}, 64 * Mi, Gi + 64*Mi, true},
		{"an app without limit", []Container{app(Gi), app(0)}, 0, 0, false},
		{"an init without limit", []Container{ini(0), app(Gi)}, 0, 0, false},
		{"a sidecar without limit", []Container{side(0), app(Gi)}, 0, 0, false},
		// Init containers run one at a time: the largest counts, if larger
		// than what runs afterwards.
		{"init below apps", []Container{ini(Gi), ini(Gi), app(2 * Gi)}, 0, 2 * Gi, true},
		{"init above apps", []Container{ini(Gi), ini(3 * Gi), app(2 * Gi)}, 0, 3 * Gi, true},
		{"init above apps, overhead", []Container{ini(3 * Gi), app(2 * Gi)}, 100 * Mi, 3*Gi + 100*Mi, true},
		// Sidecars run beside the apps: they add up with them.
		{"sidecar adds to apps", []Container{side(Gi), app(2 * Gi)}, 0, 3 * Gi, true},
		// An init container runs beside the sidecars declared before it.
		{"sidecar before init", []Container{side(Gi), ini(3 * Gi), app(Gi)}, 0, 4 * Gi, true},
		// ... but not beside the ones declared after it.
		{"sidecar after init", []Container{ini(3 * Gi), side(Gi), app(Gi)}, 0, 3 * Gi, true},
		{"sidecars around inits", []Container{
			side(Gi),      // running: 1
			ini(2 * Gi),   // 1+2 = 3
			side(Gi),      // running: 2
			ini(2*Gi + 1), // 2+2Gi+1 = 4Gi+1
			app(Gi),       // apps+sidecars = 3
		}, 0, 4*Gi + 1, true},
		{"apps may come first", []Container{app(Gi), side(Gi), ini(Gi)}, 0, 2 * Gi, true},
		{"only sidecars and inits", []Container{side(Gi), ini(Gi)}, 0, 2 * Gi, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := PodQuota(tc.cs, tc.overhead)
			if got != tc.want || ok != tc.ok {
				t.Fatalf("PodQuota = %d (%s), %v; want %d (%s), %v", got, FormatBytes(got), ok, tc.want, FormatBytes(tc.want), tc.ok)
			}
		})
	}
}
