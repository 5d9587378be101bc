package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/engine"
)

// errNoDir is reported when the runtime gives the file nodes no directory.
var errNoDir = errors.New("file access is off: no files directory is configured (set files.dir in runnel.toml or RUNNEL_FILES_DIR, or run with a data directory)")

// sandbox confines a node's file operations to the files directory. It
// opens the directory as an os.Root, so that the operating system refuses
// a path that escapes it, through ".." or a symbolic link, at the moment
// the file is opened (no check-then-use race).
type sandbox struct {
	dir string

	once sync.Once
	root *os.Root
	err  error
}

func newSandbox(h *engine.Host) *sandbox { return &sandbox{dir: h.FilesDir()} }

func (s *sandbox) open() (*os.Root, error) {
	s.once.Do(func() {
		if s.dir == "" {
			s.err = errNoDir
			return
		}
		s.root, s.err = os.OpenRoot(s.dir)
		if s.err != nil {
			s.err = fmt.Errorf("files directory: %w", s.err)
		}
	})
	return s.root, s.err
}

// close releases the directory.
func (s *sandbox) close() {
	s.once.Do(func() {}) // no open after close
	if s.root != nil {
		s.root.Close()
	}
}

// rel returns name relative to the files directory: a relative name is
// taken from the files directory itself (not the process's working
// directory, as Node-RED does), an absolute one must lie under it. It
// fails for a name that leaves the directory by "..".
func (s *sandbox) rel(name string) (*os.Root, string, error) {
	root, err := s.open()
	if err != nil {
		return nil, "", err
	}
	r := filepath.Clean(name)
	if filepath.IsAbs(name) {
		r = ""
		for _, base := range s.bases() {
			if x, err := filepath.Rel(base, filepath.Clean(name)); err == nil && x != ".." && !strings.HasPrefix(x, ".."+string(filepath.Separator)) {
				r = x
				break
			}
		}
		if r == "" {
			return nil, "", s.outside(name)
		}
	}
	if r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return nil, "", s.outside(name)
	}
	return root, r, nil
}

// bases are the files directory as configured and with its symbolic
// links resolved (/tmp may be a link), for absolute names.
func (s *sandbox) bases() []string {
	b := []string{filepath.Clean(s.dir)}
	if r, err := filepath.EvalSymlinks(s.dir); err == nil && r != b[0] {
		b = append(b, r)
	}
	return b
}

func (s *sandbox) outside(name string) error {
	return fmt.Errorf("%s is outside the files directory %s (files.dir)", name, s.dir)
}

// wrap gives an error from an os.Root operation the setting's name when
// it is about a path escaping the directory.
func (s *sandbox) wrap(name string, err error) error {
	if err != nil && strings.Contains(err.Error(), "escapes from parent") {
		return fmt.Errorf("%w: %w", s.outside(name), err)
	}
	return err
}

// abs is the absolute path of a name under the files directory.
func (s *sandbox) abs(rel string) string { return filepath.Join(s.dir, rel) }
