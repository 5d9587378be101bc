package cli

// The credential secret and the credentials file beside a flow file.

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/runnel-io/runnel/flows"
)

// EnvCredentialSecret is the environment variable that holds the secret
// encrypting node credentials at rest ([edge] credential_secret in the
// configuration file).
const EnvCredentialSecret = "RUNNEL_CREDENTIAL_SECRET"

// credentialSecretFile is the file in the data directory where runnel
// serve keeps the secret it generated when none was set, as Node-RED keeps
// _credentialSecret in .config.runtime.json.
const credentialSecretFile = "credential_secret"

// credentialSecret returns the secret that encrypts credentials at rest:
// the environment variable first, then the configured one ([edge]
// credential_secret), then a systemd credential named credential_secret
// (LoadCredential=, in $CREDENTIALS_DIRECTORY), then the one in
// DATA/credential_secret. With none of them and generate set, it generates
// a random one, writes it there with mode 0600 and logs that once; without
// generate it returns "".
func credentialSecret(configured, dataDir string, generate bool, log *slog.Logger) (string, error) {
	if s := os.Getenv(EnvCredentialSecret); s != "" {
		return s, nil
	}
	if configured != "" {
		return configured, nil
	}
	if dir := os.Getenv("CREDENTIALS_DIRECTORY"); dir != "" {
		b, err := os.ReadFile(filepath.Join(dir, credentialSecretFile))
		if err == nil && strings.TrimSpace(string(b)) != "" {
			return strings.TrimSpace(string(b)), nil
		}
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("credential secret: systemd credential: %w", err)
		}
	}
	if dataDir == "" {
		return "", nil
	}
	path := filepath.Join(dataDir, credentialSecretFile)
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		s := strings.TrimSpace(string(b))
		if s == "" {
			return "", fmt.Errorf("%s is empty: delete it to have a new secret generated (stored credentials are then lost) or write the secret into it", path)
		}
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("credential secret: %w", err)
	case !generate:
		return "", nil
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", fmt.Errorf("credential secret: %w", err)
	}
	secret := hex.EncodeToString(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", fmt.Errorf("credential secret: %w", err)
	}
	_, err = f.WriteString(secret + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", fmt.Errorf("credential secret: write %s: %w", path, err)
	}
	log.Info("no credential secret set: generated one to encrypt node credentials at rest; back it up with the data directory, or set "+
		EnvCredentialSecret+" or [edge] credential_secret", "file", path)
	return secret, nil
}

// readFlows reads a flow file and the credentials file beside it
// (flows.CredentialsFile: flows.json → flows_cred.json), decrypted with
// secret. Credentials written in the flow file itself (a Node-RED export
// that includes them) win over the credentials file's, field by field.
// plain lists the nodes that had credentials in the flow file.
func readFlows(file, secret string) (doc *flows.Document, plain []string, err error) {
	doc, err = flows.ReadFile(file)
	if err != nil {
		return nil, nil, err
	}
	plain = doc.Credentials.IDs()
	credFile := flows.CredentialsFile(file)
	stored, err := flows.ReadCredentialsFile(credFile, secret)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		stored = nil
	case err != nil:
		if secret == "" || errors.Is(err, flows.ErrCredentialSecret) {
			err = fmt.Errorf("%w: set %s (or [edge] credential_secret) to the secret %s was encrypted with", err, EnvCredentialSecret, credFile)
		}
		return nil, nil, err
	}
	doc.MergeCredentials(stored)
	return doc, plain, nil
}

// warnPlainCredentials logs that a flow file holds credentials in the clear.
func warnPlainCredentials(log *slog.Logger, file string, ids []string) {
	if len(ids) == 0 {
		return
	}
	log.Warn("the flow file holds node credentials in plain text; they are used, but keep them in the encrypted credentials file instead",
		"file", file, "nodes", strings.Join(ids, ","), "credentials_file", flows.CredentialsFile(file))
}
