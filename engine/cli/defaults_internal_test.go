package cli

import (
	"testing"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine/config"
)

// The configuration's defaults, passed on as the CLI passes them, are the
// broker's and the editor's own: a runnel.toml that sets nothing changes
// nothing.
func TestConfigDefaultsAreTheServers(t *testing.T) {
	c := &common{cfg: config.Default()}
	var o broker.Options
	c.brokerOptions(&o)
	if want := broker.DefaultLimits(); o.Limits == nil || *o.Limits != want {
		t.Errorf("limits from config.Default():\n got  %+v\n want %+v", o.Limits, want)
	}
	if got := c.cfg.Editor.SessionTTL.Duration; got != editor.DefaultSessionTTL {
		t.Errorf("session TTL from config.Default() = %v, want %v", got, editor.DefaultSessionTTL)
	}
}
