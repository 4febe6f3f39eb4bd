// Package crilog writes a container's output to its log file in the CRI
// format the kubelet reads, and rotates it by size. It is shared by the
// sandbox library's lifecycle and podbox-shim, and so imports nothing of
// podbox's heavier packages.
package crilog

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// MaxLine is the longest line a log record holds; a longer one is cut
// into records tagged P.
const MaxLine = 16 * 1024

// RotatedSuffix is the time format of a rotated log part (the kubelet's
// 20060102-150405, with nanoseconds: a fast writer rotates several times a
// second).
const RotatedSuffix = "20060102-150405.000000000"

// Writer writes one container instance's output to its log file in the
// CRI format the kubelet uses, "<RFC3339Nano time> <stream> <F|P> <line>"
// (P for a part of a line longer than the buffer), and rotates it by size:
// at maxSize the file is renamed aside with a time suffix and a new one
// begun, and of the parts only the newest maxFiles-1 are kept. Memory is
// bounded by a line buffer and a batch per stream.
type Writer struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	size     int64
	maxSize  int64
	maxFiles int
}

// Open opens (appends to) the log at path, rotated at maxSize bytes (0 or
// less: never) keeping maxFiles files in all (at least 2).
func Open(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxFiles < 2 {
		maxFiles = 2
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
	return &Writer{path: path, f: f, size: fi.Size(), maxSize: maxSize, maxFiles: maxFiles}, nil
}

// CopyLines copies r, one of the container's streams, line by line: each
// line is a record tagged F, and a line longer than MaxLine is cut into
// records of MaxLine bytes tagged P, then the rest tagged F. An
// unterminated last line is a record too.
func (w *Writer) CopyLines(stream string, r io.ReadCloser) {
	defer r.Close()
	// Reads are small (a pod's shim copies every container's streams):
	// only a line that spans reads is gathered, up to MaxLine.
	buf := make([]byte, readSize)
	// Records are gathered in a batch, all stamped with the time of the
	// read that brought them, and written at once when the read is
	// consumed or the batch is full: one write(2) for many lines rather
	// than one each.
	var batch, stamp, pending []byte
	record := func(line []byte, tag string) {
		// A terminal ends its lines with \r\n.
		line = bytes.TrimSuffix(line, []byte("\r"))
		batch = append(append(append(append(append(batch, stamp...), ' '), stream...), tag...), line...)
		batch = append(batch, '\n')
		if len(batch) >= batchSize {
			w.write(batch)
			batch = batch[:0]
		}
	}
	for {
		n, err := r.Read(buf)
		if n > 0 {
			stamp = time.Now().UTC().AppendFormat(stamp[:0], time.RFC3339Nano)
		}
		data := buf[:n]
		for len(data) > 0 {
			line, complete := data, false
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data, complete = data[:i], data[i+1:], true
			} else {
				data = nil
			}
			if complete && len(pending) == 0 && len(line) < MaxLine {
				record(line, " F ") // most lines: no copy
				continue
			}
			pending = append(pending, line...)
			for len(pending) >= MaxLine {
				record(pending[:MaxLine], " P ")
				pending = append(pending[:0], pending[MaxLine:]...)
			}
			if complete {
				record(pending, " F ")
				pending = pending[:0]
			}
		}
		if err != nil && len(pending) > 0 {
			record(pending, " F ")
			pending = pending[:0]
		}
		if len(batch) > 0 {
			w.write(batch)
			batch = batch[:0]
		}
		if err != nil {
			return
		}
		if cap(pending) > MaxLine && len(pending) == 0 {
			pending = nil // a long line's buffer is not kept
		}
	}
}

// readSize is what one read takes from a stream.
const readSize = 4 << 10

// batchSize is the most a stream gathers before writing: under the smallest
// rotation size, so that a batch always fits in a fresh file.
const batchSize = 32 << 10

// write appends whole records to the log, rotating it first when they
// would take it past maxSize.
func (w *Writer) write(records []byte) {
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
func (w *Writer) rotate() {
	part := w.path + "." + time.Now().UTC().Format(RotatedSuffix)
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

// Reopen closes the log file and opens its path anew, for the one who
// renamed it aside (the kubelet rotates CRI logs itself, then asks for
// ReopenContainerLog).
func (w *Writer) Reopen() error {
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

// Close closes the log file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.f.Close()
}
