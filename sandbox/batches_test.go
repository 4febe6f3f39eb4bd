package sandbox

import (
	"reflect"
	"testing"
)

// TestAppBatches: app containers start together up to one with a
// postStart hook, which the next ones wait for.
func TestAppBatches(t *testing.T) {
	hook := &Lifecycle{PostStart: &LifecycleHandler{Sleep: &SleepAction{Seconds: 1}}}
	stopOnly := &Lifecycle{PreStop: &LifecycleHandler{Sleep: &SleepAction{Seconds: 1}}}
	for _, tc := range []struct {
		name  string
		hooks []*Lifecycle
		want  [][]int
	}{
		{"none", nil, nil},
		{"one", []*Lifecycle{nil}, [][]int{{0}}},
		{"no hooks", []*Lifecycle{nil, nil, stopOnly}, [][]int{{0, 1, 2}}},
		{"hook first", []*Lifecycle{hook, nil, nil}, [][]int{{0}, {1, 2}}},
		{"hook middle", []*Lifecycle{nil, hook, nil, nil}, [][]int{{0, 1}, {2, 3}}},
		{"hook last", []*Lifecycle{nil, nil, hook}, [][]int{{0, 1, 2}}},
		{"hooks in a row", []*Lifecycle{hook, hook, nil}, [][]int{{0}, {1}, {2}}},
	} {
		var ctrs []ContainerConfig
		for _, l := range tc.hooks {
			ctrs = append(ctrs, ContainerConfig{Lifecycle: l})
		}
		if got := appBatches(ctrs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: appBatches = %v, want %v", tc.name, got, tc.want)
		}
	}
}
