package sandbox

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/podbox/podbox/errdefs"
	"github.com/podbox/podbox/internal/shim"
)

// LogOptions say which part of a container's log Logs gives, as kubectl
// logs' flags do.
type LogOptions struct {
	// Follow keeps the log open and gives what the container writes, across
	// rotations, until it ends (its instance is over) or ctx ends.
	Follow bool
	// Previous gives the log of the instance before the current one (the
	// container has restarted); it is never followed.
	Previous bool
	// Timestamps prefixes each line with its RFC 3339 time.
	Timestamps bool
	// Since gives only the lines written at or after it.
	Since time.Time
	// Tail gives only the last Tail lines of the log; 0 gives all of them.
	Tail int
}

// Logs returns the log of container ctr of pod, what it wrote to stdout
// and stderr, read from the CRI-format files its lifecycle writes
// (wherever it runs: this process, or a detached monitor), one line per
// line the container wrote. Close the reader to stop following. A pod or
// container that does not exist is errdefs.ErrNotFound, as is a previous
// instance when the container has not restarted; a container that has not
// started yet is errdefs.ErrFailedPrecondition.
//
// Equivalent to: kubectl logs POD -c CTR [-f] [-p] [--timestamps] [--since-time T] [--tail N]
func (m *Manager) Logs(ctx context.Context, pod, ctr string, opts LogOptions) (io.ReadCloser, error) {
	st, err := m.Status(ctx, pod)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	cs := st.container(ctr)
	if cs == nil {
		return nil, fmt.Errorf("logs of pod %q: container %q %w", pod, ctr, ErrNotExist)
	}
	if opts.Tail < 0 {
		opts.Tail = 0
	}
	path := cs.LogPath
	if path == "" {
		return nil, fmt.Errorf("logs of container %q of pod %q: it has not started yet: %w", ctr, pod, errdefs.ErrFailedPrecondition)
	}
	if opts.Previous {
		if cs.RestartCount == 0 {
			return nil, fmt.Errorf("logs of container %q of pod %q: no previous instance, it has not restarted: %w", ctr, pod, ErrNotExist)
		}
		path = previousLog(cs)
	}
	f, err := os.Open(path)
	if err != nil && opts.Previous && os.IsNotExist(err) {
		// It restarted since its status was read, and the log of the
		// instance before the previous one went (two are kept): the
		// previous instance is the one that just ended.
		if now, serr := m.Status(ctx, pod); serr == nil {
			if cur := now.container(ctr); cur != nil && cur.RestartCount > cs.RestartCount {
				f, err = os.Open(previousLog(cur))
			}
		}
	}
	if err != nil {
		if os.IsNotExist(err) {
			err = fmt.Errorf("%w: %w", err, ErrNotExist)
		}
		return nil, fmt.Errorf("logs of container %q of pod %q: %w", ctr, pod, err)
	}
	follow := opts.Follow && !opts.Previous
	more := func() bool {
		if !follow {
			return false
		}
		now, err := m.Status(context.Background(), pod)
		if err != nil {
			return false
		}
		cur := now.container(ctr)
		return cur != nil && cur.LogPath == path && cur.State == StateRunning
	}
	r, w := io.Pipe()
	go func() {
		defer f.Close()
		bw := bufio.NewWriter(w)
		err := copyLog(ctx, f, path, bw, opts, func() bool {
			if err := bw.Flush(); err != nil {
				return false // the reader was closed
			}
			return more()
		})
		if ferr := bw.Flush(); err == nil {
			err = ferr
		}
		w.CloseWithError(err)
	}()
	return r, nil
}

// previousLog is the log file of the instance before cs's current one.
func previousLog(cs *ContainerStatus) string {
	return filepath.Join(filepath.Dir(cs.LogPath), strconv.Itoa(cs.RestartCount-1)+".log")
}

// tailOffset is where the last n lines of the CRI log f begin (a line
// being one F record and the P records before it); 0 for all of them.
func tailOffset(f *os.File, n int) (int64, error) {
	if n <= 0 {
		return 0, nil
	}
	starts := make([]int64, 0, n+1)
	r := bufio.NewReader(f)
	var off int64
	lineStart := true
	for {
		rec, err := r.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// Longer than a record can be: count its bytes, it is text.
			for err == bufio.ErrBufferFull {
				off += int64(len(rec))
				rec, err = r.ReadSlice('\n')
			}
		}
		if len(rec) > 0 && rec[len(rec)-1] == '\n' {
			if lineStart {
				if len(starts) == n {
					starts = starts[1:]
				}
				starts = append(starts, off)
			}
			lineStart = !ParseCRILine(string(rec[:len(rec)-1])).Partial
		}
		off += int64(len(rec))
		if err != nil {
			break
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	if len(starts) == 0 {
		return off, nil
	}
	return starts[0], nil
}

// copyLog writes the lines of the CRI log f (at path) as the container
// wrote them; at the end of the file it waits for more while more()
// holds, going on in the new file when the log was rotated, and once
// more() says the container ended it reads what was written meanwhile
// before returning.
func copyLog(ctx context.Context, f *os.File, path string, w io.Writer, opts LogOptions, more func() bool) error {
	start, err := tailOffset(f, opts.Tail)
	if err != nil {
		return err
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(f)
	var pending []byte
	ended := false
	// skip: the line being written is before Since (a line's time is its
	// first record's).
	skip, lineStart := false, true
	for {
		line, err := r.ReadBytes('\n')
		pending = append(pending, line...)
		if err == nil {
			l := ParseCRILine(string(pending[:len(pending)-1]))
			pending = pending[:0]
			if lineStart {
				skip = false
				if !opts.Since.IsZero() {
					if t, err := time.Parse(time.RFC3339Nano, l.Time); err == nil && t.Before(opts.Since) {
						skip = true
					}
				}
				if !skip && opts.Timestamps && l.Time != "" {
					io.WriteString(w, l.Time+" ")
				}
			}
			lineStart = !l.Partial
			if skip {
				continue
			}
			io.WriteString(w, l.Text)
			if !l.Partial {
				if _, err := io.WriteString(w, "\n"); err != nil {
					return nil // the reader went
				}
			}
			continue
		}
		if err != io.EOF {
			return err
		}
		if rotated(f, path) {
			// The rest of the old file was read: on in the new one.
			if nf, err := os.Open(path); err == nil {
				f.Close()
				f = nf
				defer nf.Close()
				r.Reset(f)
				continue
			}
		}
		if ended {
			return nil
		}
		if !more() {
			// The container's last lines may have come after the EOF
			// above: read up to the end once more.
			ended = true
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// rotated reports whether path now names another file than f: the log was
// renamed aside and a new one begun.
func rotated(f *os.File, path string) bool {
	cur, err := os.Stat(path)
	if err != nil {
		return false
	}
	open, err := f.Stat()
	return err == nil && !os.SameFile(open, cur)
}

// reopenPrefix names the request files of ReopenLog in the pod's
// directory: reopen-log.<container>.
const reopenPrefix = shim.ReopenPrefix

// ReopenLog makes the lifecycle of the pod, wherever it runs, close the
// running container's log file and open its path anew: for a caller that
// renamed the file aside to rotate it (the kubelet does, then calls the
// CRI's ReopenContainerLog). It returns once the new file is open. A
// container that does not run is ErrNotRunning; a lifecycle that does
// not answer within 10 s errdefs.ErrUnavailable.
func (m *Manager) ReopenLog(ctx context.Context, pod, ctr string) error {
	st, err := m.Status(ctx, pod)
	if err != nil {
		return fmt.Errorf("reopen log: %w", err)
	}
	cs := st.container(ctr)
	if cs == nil {
		return fmt.Errorf("reopen log of pod %q: container %q %w", pod, ctr, ErrNotExist)
	}
	if cs.State != StateRunning {
		return fmt.Errorf("reopen log of container %q of pod %q: %w", ctr, pod, ErrNotRunning)
	}
	dir := m.podDir(pod)
	req := filepath.Join(dir, reopenPrefix+ctr)
	if err := os.WriteFile(req, nil, 0o600); err != nil {
		return fmt.Errorf("reopen log of container %q of pod %q: %w", ctr, pod, err)
	}
	defer os.Remove(req)
	if err := wake(dir); err != nil {
		return fmt.Errorf("reopen log of container %q of pod %q: no lifecycle runs it: %w", ctr, pod, errdefs.ErrUnavailable)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(req); os.IsNotExist(err) {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("reopen log of container %q of pod %q: its lifecycle did not answer: %w", ctr, pod, errdefs.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// reopenLogs answers ReopenLog's requests: the running instances named
// get their log file opened anew.
func (r *runner) reopenLogs() {
	reqs, _ := filepath.Glob(filepath.Join(r.dir, reopenPrefix+"*"))
	for _, req := range reqs {
		name := filepath.Base(req)[len(reopenPrefix):]
		if in, ok := r.running[name]; ok && in.log != nil {
			if err := in.log.Reopen(); err != nil {
				r.logf("pod %q: reopen the log of container %q: %v", r.name, name, err)
				continue
			}
		} else if ok && in.shim != nil {
			continue // the shim writes it, and answers
		}
		os.Remove(req)
	}
}
