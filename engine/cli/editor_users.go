package cli

// A stopgap until the configuration file carries [[editor.users]],
// [[editor.tokens]] and session_ttl: RUNNEL_EDITOR_AUTH_FILE names a JSON
// file with the same fields, which the browser tests use. Not documented
// for users; it goes away when the configuration file exists.

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/runnel-io/runnel/editor"
)

// editorAuthEnv names the JSON file of editor users and tokens.
const editorAuthEnv = "RUNNEL_EDITOR_AUTH_FILE"

// editorAuthFile is its shape.
type editorAuthFile struct {
	Users []struct {
		Name         string `json:"name"`
		PasswordHash string `json:"password_hash"`
		Role         string `json:"role"`
	} `json:"users"`
	Tokens []struct {
		Name      string `json:"name"`
		TokenHash string `json:"token_hash"`
		Role      string `json:"role"`
	} `json:"tokens"`
	SessionTTL string `json:"session_ttl"`
}

// editorAuth sets opts' Users, Tokens and SessionTTL from the file that
// RUNNEL_EDITOR_AUTH_FILE names, if it is set.
func editorAuth(opts *editor.Options) error {
	name := os.Getenv(editorAuthEnv)
	if name == "" {
		return nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("%s: %w", editorAuthEnv, err)
	}
	var f editorAuthFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	for _, u := range f.Users {
		opts.Users = append(opts.Users, editor.User{Name: u.Name, PasswordHash: u.PasswordHash, Role: editor.Role(u.Role)})
	}
	for _, t := range f.Tokens {
		opts.Tokens = append(opts.Tokens, editor.Token{Name: t.Name, Hash: t.TokenHash, Role: editor.Role(t.Role)})
	}
	if f.SessionTTL != "" {
		if opts.SessionTTL, err = time.ParseDuration(f.SessionTTL); err != nil {
			return fmt.Errorf("%s: session_ttl: %w", name, err)
		}
	}
	return nil
}

// newAPI makes the admin API with the editor users and tokens of
// RUNNEL_EDITOR_AUTH_FILE.
func newAPI(opts editor.Options) (*editor.API, error) {
	if err := editorAuth(&opts); err != nil {
		return nil, err
	}
	api, err := editor.New(opts)
	if err != nil {
		return nil, fmt.Errorf("editor: %w", err)
	}
	return api, nil
}
