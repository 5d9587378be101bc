package flows

import (
	"crypto/sha256"
	"encoding/hex"
)

// Rev returns the document's revision string, as Node-RED's "rev": a hash
// of its content. It is the hex encoding of the first 16 bytes of the
// SHA-256 of the compact Runnel-format Marshal, so two documents with the
// same nodes and properties in the same order have the same rev whatever
// their whitespace. It is empty if the document does not marshal.
func (d *Document) Rev() string {
	b, err := d.Marshal(FormatRunnel, false)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16])
}
