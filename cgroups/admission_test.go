package cgroups

import (
	"errors"
	"strings"
	"testing"
)

func TestFormatBytes(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0"},
		{100, "100"},
		{1023, "1023"},
		{Ki, "1Ki"},
		{64 * Ki, "64Ki"},
		{512 * Mi, "512Mi"},
		{Gi, "1Gi"},
		{3 * Gi, "3Gi"},
		{5 * Gi / 2, "2.5Gi"},
		{9 * Gi / 4, "2.25Gi"},
		{2*Gi + Gi/8, "2176Mi"}, // 2.125Gi needs three decimals
		{1536 * Ki, "1.5Mi"},
		{2 * Ti, "2Ti"},
		{-512 * Mi, "-512Mi"},
		{Gi + 1, "~1Gi"},
		{7*Gi + 463*Mi, "7631Mi"},
		{7*Gi + 463*Mi + 1, "~7.45Gi"},
		{3*Gi - 1, "~3Gi"},
		{1025, "~1Ki"},
	} {
		if got := FormatBytes(tc.n); got != tc.want {
			t.Errorf("FormatBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestAdmit(t *testing.T) {
	if err := Admit(5*Gi/2, 0, 2*Gi); err != nil {
		t.Fatalf("2Gi in 2.5Gi free: %v", err)
	}
	if err := Admit(5*Gi/2, Gi/2, 2*Gi); err != nil {
		t.Fatalf("exact fit: %v", err)
	}
	if err := Admit(Gi, 2*Gi, 0); err != nil {
		t.Fatalf("a pod without a quota is not bounded: %v", err)
	}

	err := Node{Allocatable: 5 * Gi / 2}.Admit(3*Gi, 3)
	const want = "pod needs 3Gi of memory (3 containers); 2.5Gi allocatable, 0 in use, 2.5Gi free"
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrInsufficientMemory) {
		t.Errorf("errors.Is(%v, ErrInsufficientMemory) = false", err)
	}
	var ie *InsufficientMemoryError
	if !errors.As(err, &ie) || ie.Need != 3*Gi || ie.Allocatable != 5*Gi/2 || ie.InUse != 0 || ie.Containers != 3 || ie.Free() != 5*Gi/2 {
		t.Fatalf("errors.As: %+v", ie)
	}

	for _, tc := range []struct {
		err  error
		want string
	}{
		{Node{Allocatable: 4 * Gi, InUse: 3 * Gi}.Admit(1536*Mi, 1), "pod needs 1.5Gi of memory (1 container); 4Gi allocatable, 3Gi in use, 1Gi free"},
		{Admit(2*Gi, 3*Gi, 512*Mi), "pod needs 512Mi of memory; 2Gi allocatable, 3Gi in use, 0 free"},
	} {
		if tc.err == nil || tc.err.Error() != tc.want {
			t.Errorf("got %v\nwant %s", tc.err, tc.want)
		}
	}
}

func TestReserveAndMemTotal(t *testing.T) {
	if got := Reserve(2 * Gi); got != 256*Mi {
		t.Errorf("Reserve(2Gi) = %s, want 256Mi", FormatBytes(got))
	}
	if got := Reserve(64 * Gi); got != 3277*Mi { // 5% = 3276.8Mi, rounded up
		t.Errorf("Reserve(64Gi) = %s, want 3277Mi", FormatBytes(got))
	}
	total, err := MemTotal(strings.NewReader("MemTotal:       16318392 kB\nMemFree:         1234 kB\n"))
	if err != nil || total != 16318392*Ki {
		t.Fatalf("MemTotal = %d, %v", total, err)
	}
	if _, err := MemTotal(strings.NewReader("MemFree: 1 kB\n")); err == nil {
		t.Error("no MemTotal line: want an error")
	}
	alloc, err := DefaultAllocatable()
	if err != nil {
		t.Fatal(err)
	}
	if alloc <= 0 {
		t.Errorf("DefaultAllocatable = %d", alloc)
	}
}
