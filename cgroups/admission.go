package cgroups

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// InsufficientMemoryError is a refused admission. It wraps
// ErrInsufficientMemory; use errors.As to read the numbers.
type InsufficientMemoryError struct {
	Need        int64 // the pod's memory quota, bytes
	Containers  int   // how many containers make it up (0: not said)
	Allocatable int64 // what the node gives to pods, bytes
	InUse       int64 // the quotas of the pods already admitted, bytes
}

// Free is what is left for new pods: Allocatable - InUse, never below 0.
func (e *InsufficientMemoryError) Free() int64 { return max(e.Allocatable-e.InUse, 0) }

func (e *InsufficientMemoryError) Error() string {
	ctrs := ""
	switch {
	case e.Containers == 1:
		ctrs = " (1 container)"
	case e.Containers > 1:
		ctrs = fmt.Sprintf(" (%d containers)", e.Containers)
	}
	return fmt.Sprintf("pod needs %s of memory%s; %s allocatable, %s in use, %s free",
		FormatBytes(e.Need), ctrs, FormatBytes(e.Allocatable), FormatBytes(e.InUse), FormatBytes(e.Free()))
}

func (e *InsufficientMemoryError) Unwrap() error { return ErrInsufficientMemory }

// Node is the memory side of the node for admission: what pods may use in all
// and what the pods already admitted hold (the sum of their quotas).
type Node struct {
	Allocatable int64
	InUse       int64
}

// Admit accepts a pod whose quota is need bytes when it fits in what is free,
// or returns an *InsufficientMemoryError. containers is only for the message
// (0 leaves it out). A pod without a quota (need 0: some container has no
// memory limit) is not bounded, so there is nothing to check and it is
// admitted, like the kubelet, which admits on requests, not limits.
func (n Node) Admit(need int64, containers int) error {
	if need <= 0 || need <= n.Allocatable-n.InUse {
		return nil
	}
	return &InsufficientMemoryError{Need: need, Containers: containers, Allocatable: n.Allocatable, InUse: n.InUse}
}

// Admit is Node{allocatable, inUse}.Admit(need, 0).
func Admit(allocatable, inUse, need int64) error {
	return Node{Allocatable: allocatable, InUse: inUse}.Admit(need, 0)
}

// Reserve is the memory kept back from pods on a node with memTotal bytes:
// the larger of 256Mi and 5% of memTotal, rounded up to a whole Mi. It plays
// the part of the kubelet's system-reserved plus its hard eviction threshold
// (memory.available<100Mi by default) on a host that also runs other things:
// the kernel, podbox's own monitors, and the user's processes.
func Reserve(memTotal int64) int64 {
	r := max(256*Mi, (memTotal*5+99)/100)
	return (r + Mi - 1) / Mi * Mi
}

// DefaultAllocatable returns the memory pods may use on this host: MemTotal
// from /proc/meminfo minus Reserve(MemTotal), never below 0.
func DefaultAllocatable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("read allocatable memory: %w", err)
	}
	defer f.Close()
	total, err := MemTotal(f)
	if err != nil {
		return 0, fmt.Errorf("read allocatable memory: %w", err)
	}
	return max(total-Reserve(total), 0), nil
}

// MemTotal reads the MemTotal line of a /proc/meminfo and returns bytes.
func MemTotal(meminfo io.Reader) (int64, error) {
	sc := bufio.NewScanner(meminfo)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("parse meminfo line %q", sc.Text())
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("parse meminfo line %q: %w", sc.Text(), err)
		}
		return kb * Ki, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("no MemTotal in meminfo")
}
