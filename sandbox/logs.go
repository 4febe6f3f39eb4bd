package sandbox

import (
	"os"
	"strings"
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
