package cli

import (
	"path/filepath"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/config"
)

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

// nodeOptions completes the settings of the nodes that open listeners or
// run commands: [nodes] listen_all and exec, and the addresses of
// Runnel's own listeners, which no flow may listen on.
func (c *common) nodeOptions(o *engine.NodeOptions) {
	if c.cfg == nil {
		return
	}
	o.ListenAll, o.Exec = c.cfg.Nodes.ListenAll, c.cfg.Nodes.Exec
	for _, a := range []config.Addr{c.cfg.Editor.HTTP, c.cfg.Broker.TCP, c.cfg.Broker.TLS, c.cfg.Broker.WS, c.cfg.Broker.WSS} {
		if a != "" {
			o.Reserved = append(o.Reserved, string(a))
		}
	}
}
