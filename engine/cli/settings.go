package cli

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine/config"
)

// configFile is the name of the configuration file in the data directory.
const configFile = "runnel.toml"

// flagSettings ties command-line flags to the settings they override.
var flagSettings = map[string]string{
	"mqtt":      "broker.tcp",
	"http":      "editor.http",
	"log-level": "log_level",
}

// resolve reads the configuration, in increasing precedence: defaults,
// the file (--config, else RUNNEL_CONFIG, else DATA/runnel.toml if
// dataDir is set and it exists), RUNNEL_* variables, flags given on the
// command line. It sets --data from RUNNEL_DATA unless the flag was given,
// checks the safe defaults (withEditor: the editor's address as well), and
// copies the settings the command line uses back into c.
func (c *common) resolve(fs *flag.FlagSet, dataDir *string, withEditor bool) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["data"] && dataDir != nil {
		if v := os.Getenv("RUNNEL_DATA"); v != "" {
			*dataDir = v
		}
	}
	cfg := config.Default()
	path := c.configPath
	if path == "" {
		path = os.Getenv("RUNNEL_CONFIG")
	}
	if path == "" && withEditor && dataDir != nil && *dataDir != "" {
		if p := filepath.Join(*dataDir, configFile); fileExists(p) {
			path = p
		}
	}
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return err
		}
	}
	var errs []error
	if err := cfg.ApplyEnv(os.Getenv); err != nil {
		errs = append(errs, err)
	}
	fs.Visit(func(f *flag.Flag) {
		if setting, ok := flagSettings[f.Name]; ok {
			if err := cfg.Set("--"+f.Name, setting, f.Value.String()); err != nil {
				errs = append(errs, err)
			}
		}
	})
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if withEditor && cfg.Editor.HTTP == "" {
		return errors.New("editor.http: the editor needs an address (runnel run has no HTTP)")
	}
	if err := cfg.CheckExposure(withEditor); err != nil {
		return err
	}
	c.cfg = cfg
	c.mqtt = string(cfg.Broker.TCP)
	c.logLevel = string(cfg.LogLevel)
	c.credentialSecret = cfg.Edge.CredentialSecret
	return nil
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// brokerOptions completes the broker's options from the configuration:
// listeners, certificates and limits.
func (c *common) brokerOptions(o *broker.Options) {
	if c.cfg == nil {
		return
	}
	b := &c.cfg.Broker
	o.Addr = string(b.TCP)
	o.TLSAddr, o.WSAddr, o.WSSAddr = string(b.TLS), string(b.WS), string(b.WSS)
	o.TLS = broker.TLSFiles{Cert: b.TLSCert, Key: b.TLSKey, ClientCA: b.TLSClientCA}
	o.Limits = &broker.Limits{
		MaxPacketSize:    uint32(b.MaxPacketSize),
		MaxConnections:   b.MaxConnections,
		MaxInflight:      uint16(b.MaxInflight),
		MaxQueued:        int32(b.MaxQueued),
		MaxQueuedBytes:   int64(b.MaxQueuedBytes),
		KeepaliveMin:     uint16(b.KeepaliveMin),
		KeepaliveMax:     uint16(b.KeepaliveMax),
		ConnectTimeout:   b.ConnectTimeout.Duration,
		MessageExpiryMax: b.MessageExpiryMax.Duration,
		SessionExpiryMax: b.SessionExpiryMax.Duration,
	}
	o.Auth = broker.AuthOptions{AllowAnonymous: b.AllowAnonymous, FlowsUser: b.FlowsUser}
	for _, u := range b.Users {
		o.Auth.Users = append(o.Auth.Users, broker.User{Name: u.Name, PasswordHash: u.PasswordHash})
	}
	for _, r := range b.ACL {
		o.Auth.ACL = append(o.Auth.ACL, broker.ACLRule{User: r.User, Client: r.Client, Topic: r.Topic, Access: broker.Access(r.Access)})
	}
}

// accessAttrs say in the start-up log line whether clients and editors
// must log in.
func (c *common) accessAttrs(withEditor bool) []any {
	if c.cfg == nil {
		return nil
	}
	mode := func(users int, anon bool) string {
		switch {
		case users > 0:
			return fmt.Sprintf("%d users", users)
		case anon:
			return "off: anonymous allowed on every listener"
		default:
			return "off: no users, loopback only"
		}
	}
	attrs := []any{slog.String("config", c.cfg.File),
		slog.String("broker_auth", mode(len(c.cfg.Broker.Users), c.cfg.Broker.AllowAnonymous))}
	if withEditor {
		attrs = append(attrs, slog.String("editor_auth", mode(len(c.cfg.Editor.Users)+len(c.cfg.Editor.Tokens), c.cfg.Editor.AllowAnonymous)))
	}
	return attrs
}
