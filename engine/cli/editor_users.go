package cli

import (
	"fmt"

	"github.com/runnel-io/runnel/editor"
)

// newAPI makes the admin API with the editor users, tokens and session
// lifetime of the configuration's [editor] section (whose empty roles the
// configuration has already made full).
func (c *common) newAPI(opts editor.Options) (*editor.API, error) {
	if c.cfg != nil {
		e := &c.cfg.Editor
		for _, u := range e.Users {
			opts.Users = append(opts.Users, editor.User{Name: u.Name, PasswordHash: u.PasswordHash, Role: editor.Role(u.Role)})
		}
		for _, t := range e.Tokens {
			opts.Tokens = append(opts.Tokens, editor.Token{Name: t.Name, Hash: t.TokenHash, Role: editor.Role(t.Role)})
		}
		opts.SessionTTL = e.SessionTTL.Duration
		opts.AllowedHosts = e.AllowedHosts
	}
	api, err := editor.New(opts)
	if err != nil {
		return nil, fmt.Errorf("editor: %w", err)
	}
	return api, nil
}
