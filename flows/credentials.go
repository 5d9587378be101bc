package flows

// Node credentials, as Node-RED keeps them: secret settings of nodes (an
// mqtt-broker's user and password) never stay in the flow document. Parse
// moves every node's "credentials" object into Document.Credentials, which
// Marshal never writes; at rest they are encrypted in Node-RED's
// flows_cred.json format, so that a Node-RED user can bring their
// flows_cred.json and secret, and take Runnel's back.
//
// The format: a JSON object {"$": "<IV><ciphertext>"} where IV is 16 random
// bytes written as 32 hex digits and ciphertext is the base64 (standard,
// padded) of the JSON object {node id: {field: value}} encrypted with
// AES-256 in CTR mode, the key being the SHA-256 of the credential secret.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Credentials are nodes' secret settings by node id and field name, such
// as {"b1": {"user": "alice", "password": "s3cret"}}.
type Credentials map[string]map[string]string

// KeepPassword is the value Node-RED's editor sends for a password it did
// not change: the stored password stays.
const KeepPassword = "__PWRD__"

// ErrCredentialSecret is returned, wrapped, when credentials do not decrypt
// with the secret given: it is not the one they were encrypted with.
var ErrCredentialSecret = errors.New("the credential secret is not the one the credentials were encrypted with")

// CredentialsFile returns the name of the credentials file that belongs to
// a flow file, as Node-RED names it: flows.json → flows_cred.json,
// /data/my.flows.json → /data/my.flows_cred.json.
func CredentialsFile(flowFile string) string {
	ext := filepath.Ext(flowFile)
	return strings.TrimSuffix(flowFile, ext) + "_cred" + ext
}

// Clone returns a deep copy of c (nil for nil).
func (c Credentials) Clone() Credentials {
	if c == nil {
		return nil
	}
	out := make(Credentials, len(c))
	for id, fields := range c {
		out[id] = maps.Clone(fields)
	}
	return out
}

// IDs returns the ids of the nodes that have credentials, sorted.
func (c Credentials) IDs() []string {
	ids := make([]string, 0, len(c))
	for id, f := range c {
		if len(f) > 0 {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// sameCredentials reports whether node id has the same credentials in a
// and b (no credentials and an empty set are the same).
func sameCredentials(a, b Credentials, id string) bool {
	return maps.Equal(a[id], b[id])
}

// MergeCredentials makes d.Credentials, the credentials that came with d
// (from Node-RED's editor or an export that includes them), complete by
// merging them over stored, the credentials saved before, as Node-RED
// does on deploy: a field that is missing, or holds KeepPassword, keeps
// its stored value; an empty (or blank) field deletes it; any other value
// replaces it. Nodes that d does not have lose their credentials.
func (d *Document) MergeCredentials(stored Credentials) {
	merged := make(Credentials)
	for _, n := range d.Nodes {
		if n == nil {
			continue
		}
		fields := maps.Clone(stored[n.ID])
		for k, v := range d.Credentials[n.ID] {
			switch {
			case v == KeepPassword:
			case strings.TrimSpace(v) == "":
				delete(fields, k)
			default:
				if fields == nil {
					fields = make(map[string]string)
				}
				fields[k] = v
			}
		}
		if len(fields) > 0 {
			merged[n.ID] = fields
		}
	}
	d.Credentials = merged
}

// extractCredentials moves the node's "credentials" property into creds.
// Values that are strings are kept as they are; Node-RED's has_<field>
// flags and null are dropped (they say nothing new); other values are kept
// as their JSON text. It returns what is wrong with a malformed property.
func (n *Node) extractCredentials(creds Credentials) string {
	v, ok := n.raw("credentials")
	if !ok {
		return ""
	}
	n.Delete("credentials")
	fields, msg := decodeCredentialFields(v)
	if msg != "" {
		return msg
	}
	if len(fields) > 0 && n.ID != "" {
		creds[n.ID] = fields
	}
	return ""
}

// decodeCredentialFields decodes one node's credentials object.
func decodeCredentialFields(v json.RawMessage) (map[string]string, string) {
	if firstByte(v) == 'n' {
		return nil, ""
	}
	if firstByte(v) != '{' {
		return nil, "credentials must be an object of fields, like {\"user\":\"u\",\"password\":\"p\"}, not " + kindOf(firstByte(v))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(v, &raw); err != nil {
		return nil, "credentials: " + err.Error()
	}
	fields := make(map[string]string, len(raw))
	for k, fv := range raw {
		switch c := firstByte(fv); {
		case c == 'n':
		case c == '"':
			s, _ := stringValue(fv)
			fields[k] = s
		case (c == 't' || c == 'f') && strings.HasPrefix(k, "has_"):
		default:
			fields[k] = string(compactJSON(fv))
		}
	}
	return fields, ""
}

// decodeCredentials decodes the plaintext of a credentials file: a JSON
// object of node id → credentials object.
func decodeCredentials(plain []byte) (Credentials, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(plain, &raw); err != nil {
		return nil, err
	}
	out := make(Credentials, len(raw))
	for id, v := range raw {
		fields, msg := decodeCredentialFields(v)
		if msg != "" {
			return nil, fmt.Errorf("node %q: %s", id, msg)
		}
		if len(fields) > 0 {
			out[id] = fields
		}
	}
	return out, nil
}

// credentialKey is the AES-256 key for a secret: its SHA-256.
func credentialKey(secret string) []byte {
	k := sha256.Sum256([]byte(secret))
	return k[:]
}

// EncryptCredentials encrypts c with secret in Node-RED's flows_cred.json
// format, {"$":"<32 hex digits of IV><base64 ciphertext>"}, with a random
// IV. The secret must not be empty.
func EncryptCredentials(c Credentials, secret string) ([]byte, error) {
	if secret == "" {
		return nil, errors.New("credentials: encrypt: empty credential secret")
	}
	if c == nil {
		c = Credentials{}
	}
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("credentials: encrypt: %w", err)
	}
	iv := make([]byte, aes.BlockSize)
	if _, err := rand.Read(iv); err != nil {
		return nil, fmt.Errorf("credentials: encrypt: %w", err)
	}
	return encryptWithIV(plain, secret, iv)
}

// encryptWithIV is EncryptCredentials with a given IV, for tests.
func encryptWithIV(plain []byte, secret string, iv []byte) ([]byte, error) {
	block, err := aes.NewCipher(credentialKey(secret))
	if err != nil {
		return nil, fmt.Errorf("credentials: encrypt: %w", err)
	}
	ct := make([]byte, len(plain))
	cipher.NewCTR(block, iv).XORKeyStream(ct, plain)
	out, err := json.Marshal(map[string]string{"$": hex.EncodeToString(iv) + base64.StdEncoding.EncodeToString(ct)})
	if err != nil {
		return nil, fmt.Errorf("credentials: encrypt: %w", err)
	}
	return out, nil
}

// DecryptCredentials reads a credentials file's content: Node-RED's
// encrypted {"$": "..."} with secret, or, as Node-RED writes it with
// credentialSecret false, a plain object of node id → credentials. A
// secret that is not the one the credentials were encrypted with gives an
// error wrapping ErrCredentialSecret.
func DecryptCredentials(data []byte, secret string) (Credentials, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return Credentials{}, nil
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(data, &env); err != nil {
		return nil, fmt.Errorf("credentials: not a JSON object: %w", err)
	}
	sealed, ok := env["$"]
	if !ok {
		c, err := decodeCredentials(data)
		if err != nil {
			return nil, fmt.Errorf("credentials: %w", err)
		}
		return c, nil
	}
	var s string
	if err := json.Unmarshal(sealed, &s); err != nil {
		return nil, errors.New(`credentials: "$" must be a string of 32 hex digits (the IV) and base64 ciphertext`)
	}
	if len(s) < 32 {
		return nil, errors.New(`credentials: "$" is too short to hold the 32 hex digits of the IV`)
	}
	iv, err := hex.DecodeString(s[:32])
	if err != nil {
		return nil, fmt.Errorf(`credentials: "$": the IV (first 32 characters) is not hex: %w`, err)
	}
	b64 := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, s[32:])
	ct, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		if ct, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "=")); err != nil {
			return nil, fmt.Errorf(`credentials: "$": the ciphertext is not base64: %w`, err)
		}
	}
	if secret == "" {
		return nil, errors.New("credentials: they are encrypted and no credential secret is set")
	}
	block, err := aes.NewCipher(credentialKey(secret))
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	plain := make([]byte, len(ct))
	cipher.NewCTR(block, iv).XORKeyStream(plain, ct)
	// CTR carries no check of its own: a wrong key gives bytes that are
	// not a JSON object, as Node-RED finds out the same way.
	if firstByte(plain) != '{' || !json.Valid(plain) {
		return nil, fmt.Errorf("credentials: cannot decrypt: %w", ErrCredentialSecret)
	}
	c, err := decodeCredentials(plain)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return c, nil
}

// ReadCredentialsFile reads and decrypts the credentials file at path (see
// DecryptCredentials). A missing file is an error wrapping
// fs.ErrNotExist. Errors name the file.
func ReadCredentialsFile(path, secret string) (Credentials, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("flows: read: %w", err)
	}
	c, err := DecryptCredentials(data, secret)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// WriteCredentialsFile encrypts c with secret and writes it to path as
// WriteFile writes a flow file: atomically, keeping an existing file's
// permissions, 0600 for a new one.
func WriteCredentialsFile(path string, c Credentials, secret string) error {
	data, err := EncryptCredentials(c, secret)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return writeAtomic(path, append(data, '\n'))
}
