package flows

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDocumentRev(t *testing.T) {
	const compact = `[{"id":"t1","type":"tab","label":"Flow 1"},{"id":"n1","type":"filter-on-change","z":"t1","wires":[[]]}]`
	sum := sha256.Sum256([]byte(compact))
	want := hex.EncodeToString(sum[:16])

	// Whitespace and Node-RED's type names do not change the rev: it
	// hashes the compact Runnel-format document.
	d, err := Parse([]byte("[\n {\"id\": \"t1\", \"type\": \"tab\", \"label\": \"Flow 1\"},\n {\"id\": \"n1\", \"type\": \"rbe\", \"z\": \"t1\", \"wires\": [[]]}\n]"))
	if err != nil {
		t.Fatal(err)
	}
	if got := d.Rev(); got != want {
		t.Errorf("Rev() = %q, want %q", got, want)
	}
	if len(want) != 32 {
		t.Fatalf("rev %q is not 32 hex digits", want)
	}

	d.Node("n1").Set("name", []byte(`"changed"`))
	if got := d.Rev(); got == want {
		t.Errorf("Rev() did not change with a property")
	}
	if got := (&Document{}).Rev(); got != "4f53cda18c2baa0c0354bb5f9a3ecbe5" {
		t.Errorf("empty document Rev() = %q, want the hash of []", got)
	}
	d.Node("n1").Set("bad", []byte(`{`))
	if got := d.Rev(); got != "" {
		t.Errorf("Rev() of a document that does not marshal = %q, want empty", got)
	}
}
