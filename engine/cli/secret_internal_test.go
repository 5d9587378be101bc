package cli

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
)

// The secret's sources, in order: RUNNEL_CREDENTIAL_SECRET, the
// configuration, a systemd credential, the data directory's file, and a
// generated one.
func TestCredentialSecretSources(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	data, creds := t.TempDir(), t.TempDir()
	t.Setenv(EnvCredentialSecret, "")
	t.Setenv("CREDENTIALS_DIRECTORY", "")

	if s, err := credentialSecret("", data, false, log); err != nil || s != "" {
		t.Fatalf("nothing set, no generation: %q %v", s, err)
	}
	gen, err := credentialSecret("", data, true, log)
	if err != nil || len(gen) != 64 {
		t.Fatalf("generated %q %v", gen, err)
	}
	if fi, err := os.Stat(filepath.Join(data, credentialSecretFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("generated file: %v %v", fi, err)
	}
	if s, _ := credentialSecret("", data, true, log); s != gen {
		t.Fatalf("the generated secret is not kept: %q then %q", gen, s)
	}
	os.WriteFile(filepath.Join(creds, credentialSecretFile), []byte("from-systemd\n"), 0o600)
	t.Setenv("CREDENTIALS_DIRECTORY", creds)
	if s, _ := credentialSecret("", data, true, log); s != "from-systemd" {
		t.Fatalf("systemd credential: %q", s)
	}
	if s, _ := credentialSecret("from-config", data, true, log); s != "from-config" {
		t.Fatalf("configured: %q", s)
	}
	t.Setenv(EnvCredentialSecret, "from-env")
	if s, _ := credentialSecret("from-config", data, true, log); s != "from-env" {
		t.Fatalf("environment: %q", s)
	}
}
