package sandbox

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// logTail returns the last n lines of a CRI log file, as the container
// wrote them (without time, stream and tag), indented for an error message.
func logTail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		lines[i] = "  " + ParseCRILine(l).Text
	}
	return strings.Join(lines, "\n")
}

// CRILine is one line of a CRI log file: "<time> <stream> <F|P> <text>".
type CRILine struct {
	Time    string // RFC 3339 with nanoseconds
	Stream  string // stdout or stderr
	Partial bool   // P: the line goes on in the next record
	Text    string
}

// ParseCRILine splits a CRI log line; a line not in the format is all text.
func ParseCRILine(l string) CRILine {
	parts := strings.SplitN(l, " ", 4)
	if len(parts) < 4 {
		return CRILine{Text: l}
	}
	return CRILine{Time: parts[0], Stream: parts[1], Partial: parts[2] == "P", Text: parts[3]}
}

// Where and how much of containers' logs is kept, by default: the kubelet's
// defaults (containerLogMaxSize 10Mi, containerLogMaxFiles 5) under
// podbox's own log root.
const (
	DefaultLogRoot              = "/var/log/podbox/pods"
	DefaultContainerLogMaxSize  = 10 << 20
	DefaultContainerLogMaxFiles = 5
	// minLogMaxSize keeps a rotation from happening at every line.
	minLogMaxSize = 64 << 10
)

// uidPattern is the form of the UIDs newUID makes (a random UUID).
var uidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// newUID returns a random (version 4) UUID, a pod's metadata.uid.
func newUID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("make pod uid: %w", err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], nil
}

// namespace is the pod's Kubernetes namespace, "default" when none is set.
func (c *PodConfig) namespace() string {
	if c.Namespace == "" {
		return "default"
	}
	return c.Namespace
}

// logDir is the directory of a pod's logs: <log root>/<namespace>_<pod>_<uid>,
// as the kubelet names /var/log/pods/<namespace>_<pod>_<uid>.
func (m *Manager) logDir(namespace, name, uid string) string {
	return filepath.Join(m.opts.LogRoot, namespace+"_"+name+"_"+uid)
}

// checkLogDir returns the log directory a state file records, once it is
// sure of it: a state file is not trusted to name what Remove deletes, so the
// directory must be an absolute, clean path named after the pod's valid
// namespace, name and UID. "" for a pod recorded without one.
func checkLogDir(st *PodStatus) (string, error) {
	if st.LogDir == "" {
		return "", nil
	}
	ns := st.Config.namespace()
	if ValidateName("namespace", ns) != nil || ValidateName("name", st.Name) != nil || !uidPattern.MatchString(st.UID) ||
		!filepath.IsAbs(st.LogDir) || filepath.Clean(st.LogDir) != st.LogDir ||
		filepath.Base(st.LogDir) != ns+"_"+st.Name+"_"+st.UID {
		return "", fmt.Errorf("pod %q: state names log directory %q, not one of its own", st.Name, st.LogDir)
	}
	return st.LogDir, nil
}

// LogPath is the log file of a container instance in the pod's log
// directory (PodStatus.LogDir): one file per restart, so that the previous
// instance's log is kept (as the kubelet keeps .../<container>/<N>.log).
// Rotated parts of it are named LogPath + "." + a UTC time.
func LogPath(logDir, ctr string, restart int) string {
	return filepath.Join(logDir, ctr, strconv.Itoa(restart)+".log")
}

// pruneInstances removes the log files, rotated parts included, of the
// container's instances before keepFrom: the kubelet keeps the current and
// the previous instance's.
func pruneInstances(logDir, ctr string, keepFrom int) {
	ents, err := os.ReadDir(filepath.Join(logDir, ctr))
	if err != nil {
		return
	}
	for _, e := range ents {
		n, _, ok := strings.Cut(e.Name(), ".log")
		if k, err := strconv.Atoi(n); ok && err == nil && k < keepFrom {
			os.Remove(filepath.Join(logDir, ctr, e.Name()))
		}
	}
}

// maxLogLine is the longest line a log record holds; a longer one is cut
// into records tagged P.
const maxLogLine = 16 * 1024

// rotatedSuffix is the time format of a rotated log part (the kubelet's
// 20060102-150405, with nanoseconds: a fast writer rotates several times a
// second).
const rotatedSuffix = "20060102-150405.000000000"

// logWriter writes one container instance's output to its log file in the
// CRI format the kubelet uses, "<RFC3339Nano time> <stream> <F|P> <line>"
// (P for a part of a line longer than the buffer), and rotates it by size:
// at maxSize the file is renamed aside with a time suffix and a new one
// begun, and of the parts only the newest maxFiles-1 are kept. Memory is
// bounded by a line buffer and a batch per stream.
type logWriter struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
}

// openLog opens (appends to) the log at path; maxSize and maxFiles of 0
// mean the defaults, a negative maxSize no rotation.
func openLog(path string, maxSize int64, maxFiles int) (*logWriter, error) {
	if maxSize == 0 {
		maxSize = DefaultContainerLogMaxSize
	}
	if maxFiles < 2 {
		maxFiles = DefaultContainerLogMaxFiles
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	return &logWriter{path: path, f: f, size: fi.Size(), maxSize: maxSize, maxFiles: maxFiles}, nil
}

// copyLines copies r, one of the container's streams, line by line.
func (w *logWriter) copyLines(stream string, r io.ReadCloser) {
	defer r.Close()
	br := bufio.NewReaderSize(r, maxLogLine)
	// Records are gathered in a batch, all stamped with the time of the
	// read that brought them, and written at once when the stream has no
	// more for now (before blocking) or the batch is full: one write(2)
	// for many lines rather than one each.
	var batch, stamp []byte
	for {
		line, isPrefix, err := br.ReadLine()
		if len(batch) == 0 { // the time the read brought this burst
			stamp = time.Now().UTC().AppendFormat(stamp[:0], time.RFC3339Nano)
		}
		// A terminal ends its lines with \r\n.
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 || (err == nil && !isPrefix) {
			tag := " F "
			if isPrefix {
				tag = " P "
			}
			batch = append(append(append(append(append(batch, stamp...), ' '), stream...), tag...), line...)
			batch = append(batch, '\n')
		}
		if err != nil || br.Buffered() == 0 || len(batch) >= logBatch {
			w.write(batch)
			batch = batch[:0]
		}
		if err != nil {
			return
		}
	}
}

// logBatch is the most a stream gathers before writing: under the smallest
// rotation size, so that a batch always fits in a fresh file.
const logBatch = 32 << 10

// write appends whole records to the log, rotating it first when they
// would take it past maxSize.
func (w *logWriter) write(records []byte) {
	if len(records) == 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(records)) > w.maxSize {
		w.rotate()
	}
	n, _ := w.f.Write(records)
	w.size += int64(n)
}

// rotate renames the log aside and begins a new one, then removes the
// oldest parts beyond maxFiles. Where the rename fails the file is emptied
// instead: the log's size stays bounded either way.
func (w *logWriter) rotate() {
	part := w.path + "." + time.Now().UTC().Format(rotatedSuffix)
	if err := os.Rename(w.path, part); err != nil {
		w.f.Truncate(0)
		w.size = 0
		return
	}
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		// Keep writing to the part: better than losing the output.
		return
	}
	w.f.Close()
	w.f, w.size = f, 0
	parts, _ := filepath.Glob(w.path + ".*")
	sort.Strings(parts) // the suffix sorts by time
	for len(parts) > w.maxFiles-1 {
		os.Remove(parts[0])
		parts = parts[1:]
	}
}

// reopen closes the log file and opens its path anew, for the one who
// renamed it aside (the kubelet rotates CRI logs itself, then asks for
// ReopenContainerLog).
func (w *logWriter) reopen() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	f, err := os.OpenFile(w.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	w.f.Close()
	w.f, w.size = f, fi.Size()
	return nil
}

func (w *logWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}
