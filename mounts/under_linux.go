package mounts

import (
	"bufio"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// MountsUnder lists the mount points at or below dir in the calling thread's
// mount namespace, deepest first.
//
// It reads /proc/thread-self/mountinfo, not /proc/self: /proc/self is the
// main thread's view, and libcontainer may leave the main thread wedged in a
// container's mount namespace (a locked goroutine that setns'd and exited
// on it), while every thread that runs ordinary goroutines stays in ours.
func MountsUnder(dir string) ([]string, error) {
	f, err := os.Open("/proc/thread-self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dir = strings.TrimSuffix(dir, "/")
	var found []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		mp := unescape(fields[4])
		if mp == dir || strings.HasPrefix(mp, dir+"/") {
			found = append(found, mp)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	sort.Slice(found, func(i, j int) bool { return len(found[i]) > len(found[j]) })
	return found, nil
}

// UnmountUnder unmounts everything mounted at or below dir, deepest first,
// and checks that nothing is left, so that removing dir afterwards can never
// reach into a mounted filesystem.
func UnmountUnder(dir string) error {
	for range 3 {
		mps, err := MountsUnder(dir)
		if err != nil {
			return fmt.Errorf("unmount under %q: %w", dir, err)
		}
		if len(mps) == 0 {
			return nil
		}
		for _, mp := range mps {
			if err := Unmount(mp); err != nil {
				return err
			}
		}
	}
	mps, _ := MountsUnder(dir)
	return fmt.Errorf("unmount under %q: still mounted: %s", dir, strings.Join(mps, ", "))
}

// unescape decodes mountinfo's octal escapes (\040 for a space).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
