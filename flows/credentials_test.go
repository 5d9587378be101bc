package flows_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/flows"
)

// The fixture testdata/flows_cred.json was made outside Go, the way
// Node-RED's runtime encrypts credentials (key = SHA-256 of the secret,
// AES-256-CTR, IV as 32 hex digits, ciphertext as base64), with node:
//
//	const key = crypto.createHash('sha256').update('runnel-test-secret').digest();
//	const iv = Buffer.from('000102030405060708090a0b0c0d0e0f', 'hex');
//	const c = crypto.createCipheriv('aes-256-ctr', key, iv);
//	iv.toString('hex') + c.update(JSON.stringify(creds), 'utf8', 'base64') + c.final('base64')
//
// and checked against openssl:
//
//	printf %s '{"b1":{"user":"alice","password":"s3cret-pa55"}}' |
//	  openssl enc -aes-256-ctr -K f28aa4fe6b4055a844328a06077ad9b0aecb4e453ce31918fa19a82197ed0c02 \
//	    -iv 000102030405060708090a0b0c0d0e0f | base64 -w0
//
// where the key is printf %s runnel-test-secret | sha256sum.
const (
	fixtureSecret = "runnel-test-secret"
	fixtureSealed = `{"$":"000102030405060708090a0b0c0d0e0fbOSXm0YalLJGYCE26iswL9jocv+IsodEeN3Fzxz6T8vhHOlcsuD5yyvEwAVlI0Ed"}`
)

var fixtureCreds = flows.Credentials{"b1": {"user": "alice", "password": "s3cret-pa55"}}

func TestDecryptNodeREDFixture(t *testing.T) {
	c, err := flows.ReadCredentialsFile(filepath.Join("testdata", "flows_cred.json"), fixtureSecret)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, fixtureCreds) {
		t.Fatalf("decrypted %v, want %v", c, fixtureCreds)
	}
}

func TestEncryptMatchesVector(t *testing.T) {
	iv := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	got, err := flows.EncryptWithIV([]byte(`{"b1":{"user":"alice","password":"s3cret-pa55"}}`), fixtureSecret, iv)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != fixtureSealed {
		t.Fatalf("sealed\n%s\nwant\n%s", got, fixtureSealed)
	}
}

func TestCredentialsRoundTrip(t *testing.T) {
	in := flows.Credentials{
		"b1": {"user": "alice", "password": "pä$$ wörd \"quoted\" </script>"},
		"b2": {"password": strings.Repeat("x", 1000)},
	}
	sealed, err := flows.EncryptCredentials(in, "another secret")
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"pä$$ wörd", "s3cret-pa55", "alice"} {
		if bytes.Contains(sealed, []byte(secret)) {
			t.Fatalf("sealed form contains %q: %s", secret, sealed)
		}
	}
	if !bytes.HasPrefix(sealed, []byte(`{"$":"`)) {
		t.Fatalf("sealed form %s is not Node-RED's {\"$\": ...}", sealed)
	}
	again, err := flows.EncryptCredentials(in, "another secret")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed, again) {
		t.Fatal("two encryptions gave the same bytes: the IV is not random")
	}
	out, err := flows.DecryptCredentials(sealed, "another secret")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out, in) {
		t.Fatalf("round trip gave %v, want %v", out, in)
	}
}

func TestDecryptWrongSecret(t *testing.T) {
	for _, secret := range []string{"runnel-test-secreT", "x", strings.Repeat("runnel-test-secret", 3)} {
		_, err := flows.DecryptCredentials([]byte(fixtureSealed), secret)
		if !errors.Is(err, flows.ErrCredentialSecret) {
			t.Fatalf("secret %q: error %v, want ErrCredentialSecret", secret, err)
		}
		if !strings.Contains(err.Error(), "credential secret is not the one") {
			t.Fatalf("error %q does not say what is wrong", err)
		}
	}
	_, err := flows.ReadCredentialsFile(filepath.Join("testdata", "flows_cred.json"), "wrong")
	if err == nil || !strings.Contains(err.Error(), "flows_cred.json") {
		t.Fatalf("error %v does not name the file", err)
	}
	if _, err := flows.DecryptCredentials([]byte(fixtureSealed), ""); err == nil || !strings.Contains(err.Error(), "no credential secret") {
		t.Fatalf("no secret: error %v", err)
	}
}

func TestDecryptMalformed(t *testing.T) {
	for in, want := range map[string]string{
		`[1]`:           "not a JSON object",
		`{"$": 3}`:      `"$" must be a string`,
		`{"$": "0011"}`: "too short",
		`{"$": "zz0102030405060708090a0b0c0d0e0fAAAA"}`: "not hex",
		`{"$": "000102030405060708090a0b0c0d0e0f!!!"}`:  "not base64",
		`{"n1": "oops"}`: `node "n1": credentials must be an object`,
	} {
		_, err := flows.DecryptCredentials([]byte(in), fixtureSecret)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to say %q", in, err, want)
		}
	}
}

// Node-RED with credentialSecret: false writes the credentials in the clear.
func TestDecryptPlainFile(t *testing.T) {
	c, err := flows.DecryptCredentials([]byte(`{"b1":{"user":"u","password":"p"}}`), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (flows.Credentials{"b1": {"user": "u", "password": "p"}}); !reflect.DeepEqual(c, want) {
		t.Fatalf("got %v, want %v", c, want)
	}
}

func TestCredentialsFileName(t *testing.T) {
	for in, want := range map[string]string{
		"flows.json":             "flows_cred.json",
		"/data/my.flows.json":    "/data/my.flows_cred.json",
		"flows":                  "flows_cred",
		"runnel-data/flows.json": "runnel-data/flows_cred.json",
	} {
		if got := flows.CredentialsFile(in); got != want {
			t.Errorf("CredentialsFile(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestWriteCredentialsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "flows_cred.json")
	if err := flows.WriteCredentialsFile(path, fixtureCreds, fixtureSecret); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	data, _ := os.ReadFile(path)
	if bytes.Contains(data, []byte("s3cret")) {
		t.Fatal("the file holds the password in the clear")
	}
	c, err := flows.ReadCredentialsFile(path, fixtureSecret)
	if err != nil || !reflect.DeepEqual(c, fixtureCreds) {
		t.Fatalf("read back %v, %v", c, err)
	}
	if _, err := flows.ReadCredentialsFile(filepath.Join(t.TempDir(), "none.json"), "s"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing file: %v, want fs.ErrNotExist", err)
	}
}

const credDoc = `[
  {"id":"t1","type":"tab","label":"Flow 1"},
  {"id":"b1","type":"mqtt-broker","broker":"cloud.example","port":"8883",
   "credentials":{"user":"alice","password":"s3cret-pa55","has_password":true}},
  {"id":"in1","type":"mqtt in","z":"t1","topic":"a","broker":"b1","wires":[["out1"]]},
  {"id":"out1","type":"mqtt out","z":"t1","topic":"b","broker":"b1","wires":[]}
]`

func TestParseMovesCredentialsOut(t *testing.T) {
	doc, err := flows.Parse([]byte(credDoc))
	if err != nil {
		t.Fatal(err)
	}
	if want := (flows.Credentials{"b1": {"user": "alice", "password": "s3cret-pa55"}}); !reflect.DeepEqual(doc.Credentials, want) {
		t.Fatalf("credentials %v, want %v", doc.Credentials, want)
	}
	if _, ok := doc.Node("b1").Get("credentials"); ok {
		t.Fatal("the node still has its credentials property")
	}
	for _, f := range []flows.Format{flows.FormatRunnel, flows.FormatNodeRED} {
		b, err := doc.Marshal(f, true)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("s3cret")) || bytes.Contains(b, []byte("credentials")) {
			t.Fatalf("%v marshal holds the credentials:\n%s", f, b)
		}
	}
	c := doc.Clone()
	c.Credentials["b1"]["password"] = "changed"
	if doc.Credentials["b1"]["password"] != "s3cret-pa55" {
		t.Fatal("Clone shares the credentials")
	}

	_, err = flows.Parse([]byte(`[{"id":"b1","type":"mqtt-broker","credentials":"pw"}]`))
	var probs flows.Problems
	if !errors.As(err, &probs) || len(probs) != 1 || probs[0].Field != "credentials" || probs[0].NodeID != "b1" {
		t.Fatalf("malformed credentials: %v", err)
	}
}

func TestMergeCredentials(t *testing.T) {
	stored := flows.Credentials{
		"b1":   {"user": "alice", "password": "old"},
		"b2":   {"user": "bob", "password": "bobpw"},
		"gone": {"password": "x"},
	}
	doc, err := flows.Parse([]byte(`[
	  {"id":"b1","type":"mqtt-broker","credentials":{"user":"alice2","password":"__PWRD__"}},
	  {"id":"b2","type":"mqtt-broker","credentials":{"user":""}},
	  {"id":"b3","type":"mqtt-broker","credentials":{"password":"new"}},
	  {"id":"b4","type":"mqtt-broker"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	doc.MergeCredentials(stored)
	want := flows.Credentials{
		"b1": {"user": "alice2", "password": "old"}, // __PWRD__ keeps the stored password
		"b2": {"password": "bobpw"},                 // missing keeps, empty deletes
		"b3": {"password": "new"},
	}
	if !reflect.DeepEqual(doc.Credentials, want) {
		t.Fatalf("merged %v, want %v", doc.Credentials, want)
	}
	if stored["b1"]["user"] != "alice" {
		t.Fatal("MergeCredentials changed the stored credentials")
	}
}

func TestCompareCredentials(t *testing.T) {
	prev, err := flows.Parse([]byte(credDoc))
	if err != nil {
		t.Fatal(err)
	}
	next := prev.Clone()
	if d := flows.Compare(prev, next); !d.Empty() {
		t.Fatalf("same credentials: diff %+v", d)
	}
	next.Credentials["b1"]["password"] = "rotated"
	d := flows.Compare(prev, next)
	// The config node changed, and so did the nodes that use it.
	if want := []string{"b1", "in1", "out1"}; !reflect.DeepEqual(d.Changed, want) {
		t.Fatalf("changed %v, want %v", d.Changed, want)
	}
}
