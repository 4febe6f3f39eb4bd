// Package atomicfile writes files that a crash leaves whole: the old
// content or the new, never a part.
package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Write replaces p with data, mode perm: a temporary file beside it,
// flushed to disk, renamed over p.
//
// Equivalent to: `cat > p.new && sync p.new && mv p.new p`.
func Write(p string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(p), ".new-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}
