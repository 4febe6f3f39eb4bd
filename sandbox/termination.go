package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/opencontainers/runc/libcontainer/configs"
	"golang.org/x/sys/unix"

	"github.com/podbox/podbox/mounts"
)

// The kubelet's bounds on termination messages: what one container's file
// gives, what its log gives (FallbackToLogsOnError: its last lines, bytes),
// and what a pod's messages add up to, shared evenly when they would be
// more.
const (
	MaxTerminationMessage        = 4096
	MaxTerminationMessageLog     = 2048
	MaxTerminationMessageLogLine = 80
	MaxPodTerminationMessages    = 12 << 10
)

// terminationFile is the host side of a container's termination message
// file: a file of the pod's state, bind-mounted at its
// TerminationMessagePath, as the kubelet mounts one. The container writes
// into it; it can not make it anything but that file.
func terminationFile(dir, name string) string {
	return filepath.Join(dir, "termination", name, "message")
}

// terminationMount makes an empty termination message file for a new
// instance of the container and returns its mount; nil when the container
// has no TerminationMessagePath.
func terminationMount(dir string, cfg *ContainerConfig) (*configs.Mount, error) {
	if cfg.TerminationMessagePath == "" {
		return nil, nil
	}
	path := terminationFile(dir, cfg.Name)
	if err := terminationFS(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("termination message file of container %q: %w", cfg.Name, err)
	}
	// A new file for each instance: the last one's message is in its state.
	os.Remove(path)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|unix.O_NOFOLLOW, 0o666)
	if err != nil {
		return nil, fmt.Errorf("termination message file of container %q: %w", cfg.Name, err)
	}
	// Whatever user the container runs as may write it, as the kubelet's.
	err = f.Chmod(0o666)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("termination message file of container %q: %w", cfg.Name, err)
	}
	return &configs.Mount{
		Source: path, Destination: cfg.TerminationMessagePath, Device: "bind",
		Flags: unix.MS_BIND, PropagationFlags: []int{unix.MS_PRIVATE},
	}, nil
}

// terminationFSSize bounds what a container can write into its
// termination message file: it is on a tmpfs of the container's own, so
// that one that writes without end fills that, not the state root every
// pod's state is written to, nor its siblings' (the kubelet reads 4096
// bytes anyway). It goes with the pod (Remove unmounts what is under the
// pod's directory).
const terminationFSSize = "size=64k,nr_inodes=16"

// terminationFS mounts a container's termination message tmpfs at dir,
// once.
func terminationFS(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	var st, parent unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return err
	}
	if err := unix.Stat(filepath.Dir(dir), &parent); err != nil {
		return err
	}
	if st.Dev != parent.Dev {
		return nil // mounted already
	}
	m := mounts.Mount{Type: "tmpfs", Source: "termination", Target: dir,
		Options: []string{"nosuid", "nodev", "noexec", "mode=0700", terminationFSSize}}
	return m.Mount()
}

// terminationMessage is what a container that ended says about it: its
// termination message file (at most max bytes), or, under
// FallbackToLogsOnError when the file is empty and the container failed,
// the last lines of its log. The file is the container's to write: it is
// read by a descriptor that does not follow links, only if it is a regular
// file, and never beyond max.
func terminationMessage(dir string, cfg *ContainerConfig, exitCode int, logPath string, max int) string {
	if cfg.TerminationMessagePath == "" || max <= 0 {
		return ""
	}
	msg := readBounded(terminationFile(dir, cfg.Name), min(max, MaxTerminationMessage))
	if msg == "" && exitCode != 0 && cfg.TerminationMessagePolicy == TerminationMessageFallbackToLogs {
		msg = logLines(logPath, MaxTerminationMessageLogLine, min(max, MaxTerminationMessageLog))
	}
	return msg
}

// readBounded reads at most max bytes of the regular file at path; "" when
// there is none.
func readBounded(path string, max int) string {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return ""
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	var st unix.Stat_t
	if unix.Fstat(fd, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG {
		return ""
	}
	b, err := io.ReadAll(io.LimitReader(f, int64(max)))
	if err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	return string(b)
}

// logLines is the text of the last n lines of a CRI log file, at most max
// bytes (the last ones).
func logLines(path string, n, max int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	// Enough of the file's end for n lines of max bytes in all, with
	// their CRI prefixes.
	const window = 64 << 10
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		f.Seek(fi.Size()-window, io.SeekStart)
	}
	b, _ := io.ReadAll(io.LimitReader(f, window))
	recs := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	var lines []string
	cur := ""
	for i, r := range recs {
		if i == 0 && len(b) == window {
			continue // may be cut
		}
		l := ParseCRILine(r)
		cur += l.Text
		if !l.Partial {
			lines = append(lines, cur)
			cur = ""
		}
	}
	if cur != "" {
		lines = append(lines, cur)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	s := strings.Join(lines, "\n")
	if s != "" {
		s += "\n"
	}
	if len(s) > max {
		s = s[len(s)-max:]
	}
	return s
}

// terminationBudget is what one container's message may hold: the
// kubelet's 4096 bytes, less when the pod's containers would be over 12 KiB
// together (an even share).
func (c *PodConfig) terminationBudget() int {
	n := len(c.InitContainers) + len(c.Containers)
	return min(MaxTerminationMessage, MaxPodTerminationMessages/max(n, 1))
}
