package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/podbox/podbox/internal/crilog"
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

// logWriter is one container instance's log file (see crilog).
type logWriter = crilog.Writer

// openLog opens (appends to) the log at path; maxSize and maxFiles of 0
// mean the defaults, a negative maxSize no rotation.
func openLog(path string, maxSize int64, maxFiles int) (*logWriter, error) {
	maxSize, maxFiles = logLimits(maxSize, maxFiles)
	return crilog.Open(path, maxSize, maxFiles)
}

// logLimits applies the defaults to a log's limits.
func logLimits(maxSize int64, maxFiles int) (int64, int) {
	if maxSize == 0 {
		maxSize = DefaultContainerLogMaxSize
	}
	if maxFiles < 2 {
		maxFiles = DefaultContainerLogMaxFiles
	}
	return maxSize, maxFiles
}
