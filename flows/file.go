package flows

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// ReadFile reads and parses the flow document in the file at path. Errors
// name the file, for example "flows.json: line 3, column 5: invalid
// character ...". Problems with nodes are wrapped, so errors.As finds them.
func ReadFile(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flows: read: %w", err)
	}
	d, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// WriteFile writes the document to the file at path in Runnel's format,
// pretty-printed, atomically: it writes a temporary file in the same
// directory, syncs it to disk, renames it over path and syncs the
// directory, so that a crash leaves either the old file or the new one,
// never a torn one. An existing file keeps its permissions (a new one gets
// 0600); if path is a symbolic link, the file it points to is replaced.
func WriteFile(path string, d *Document) error {
	data, err := d.Marshal(FormatRunnel, true)
	if err != nil {
		return fmt.Errorf("flows: write %s: %w", path, err)
	}
	data = append(data, '\n')
	return writeAtomic(path, data)
}

// writeAtomic writes data to the file at path atomically (see WriteFile).
func writeAtomic(path string, data []byte) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	mode := fs.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("flows: write: %w", err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return fmt.Errorf("flows: write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if _, err := tmp.Write(data); err != nil {
		return fmt.Errorf("flows: write %s: %w", path, err)
	}
	if err := tmp.Chmod(mode); err != nil && runtime.GOOS != "windows" {
		return fmt.Errorf("flows: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("flows: write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("flows: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("flows: write %s: %w", path, err)
	}
	done = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("flows: write %s: sync directory: %w", path, err)
	}
	return nil
}

// syncDir flushes a directory's entries (a rename) to disk. Windows cannot
// open a directory for syncing and does not need it.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}
