package cli

import "path/filepath"

// filesDir is the directory the file nodes are confined to: files.dir, or
// the data directory when it is not set (none without one), made
// absolute so that a later change of working directory does not move it.
func (c *common) filesDir(dataDir string) string {
	d := dataDir
	if c.cfg != nil && c.cfg.Files.Dir != "" {
		d = c.cfg.Files.Dir
	}
	if d == "" {
		return ""
	}
	if abs, err := filepath.Abs(d); err == nil {
		d = abs
	}
	return d
}
