package errdefs

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestRefinementMatchesItsClass(t *testing.T) {
	err := fmt.Errorf("remove pod %q: %w", "web", ErrRunning)
	if !errors.Is(err, ErrRunning) || !errors.Is(err, ErrFailedPrecondition) {
		t.Errorf("%v: want ErrRunning and ErrFailedPrecondition", err)
	}
	if errors.Is(err, ErrNotRunning) || errors.Is(err, ErrNotFound) {
		t.Errorf("%v matches another class", err)
	}
	if got := err.Error(); got != `remove pod "web": is running` {
		t.Errorf("text %q", got)
	}
}

func TestWithKeepsTextAndChain(t *testing.T) {
	inner := errors.New("exec: \"x\": executable file not found in $PATH")
	err := With(ErrNotFound, inner)
	if err.Error() != inner.Error() || !errors.Is(err, inner) || !errors.Is(err, ErrNotFound) {
		t.Errorf("With: %v", err)
	}
	if With(ErrNotFound, nil) != nil {
		t.Error("With(nil) is not nil")
	}
}

func TestGRPCCode(t *testing.T) {
	for _, tc := range []struct {
		err  error
		code uint32
	}{
		{nil, 0},
		{errors.New("x"), 2},
		{fmt.Errorf("pod: %w", ErrNotFound), 5},
		{fmt.Errorf("pod: %w", ErrAlreadyExists), 6},
		{ErrNotRunning, 9},
		{New("invalid pod configuration", ErrInvalidArgument), 3},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), 4},
		{ErrNotImplemented, 12},
		{ErrUnavailable, 14},
		{ErrResourceExhausted, 8},
	} {
		if got := GRPCCode(tc.err); got != tc.code {
			t.Errorf("GRPCCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}
