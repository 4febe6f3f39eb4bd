package mounts

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
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

// PropagationOf says how the mount that holds path (after symlinks)
// propagates in the calling thread's mount namespace: shared (it sends and
// receives mount events: "shared:N" in mountinfo) or slave ("master:N": it
// receives them), and names that mount.
func PropagationOf(path string) (shared, slave bool, mountpoint string, err error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return false, false, "", err
	}
	b, err := os.ReadFile("/proc/thread-self/mountinfo") // not /proc/self: see MountsUnder
	if err != nil {
		return false, false, "", err
	}
	// "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": the
	// mount point is field 5, the optional fields run from 7 to the "-".
	// The last of the deepest mount points that hold path is the one on top.
	best := ""
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 7 {
			continue
		}
		mp := unescape(f[4])
		if !(real == mp || mp == "/" || strings.HasPrefix(real, mp+"/")) || len(mp) < len(best) {
			continue
		}
		best, shared, slave = mp, false, false
		for _, opt := range f[6:] {
			if opt == "-" {
				break
			}
			shared = shared || strings.HasPrefix(opt, "shared:")
			slave = slave || strings.HasPrefix(opt, "master:")
		}
	}
	return shared, slave, best, nil
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
