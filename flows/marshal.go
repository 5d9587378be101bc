package flows

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Format is a vocabulary of node type names for writing a document.
type Format int

const (
	// FormatRunnel writes Runnel's type names (mqtt-in, mqtt-out,
	// filter-on-change, ...).
	FormatRunnel Format = iota
	// FormatNodeRED writes Node-RED's type names (mqtt in, mqtt out, rbe,
	// ...), for importing into Node-RED.
	FormatNodeRED
)

// String returns "runnel" or "node-red".
func (f Format) String() string {
	switch f {
	case FormatRunnel:
		return "runnel"
	case FormatNodeRED:
		return "node-red"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Marshal writes the document as a JSON array of node objects, each with
// its properties in their kept order and its type name in format f. With
// pretty it indents by 4 spaces, like Node-RED's flowFilePretty; otherwise
// the output is compact. It fails if a property holds invalid JSON (which
// only Set can put there).
func (d *Document) Marshal(f Format, pretty bool) ([]byte, error) {
	if f != FormatRunnel && f != FormatNodeRED {
		return nil, fmt.Errorf("flows: marshal: unknown format %v", f)
	}
	var b bytes.Buffer
	b.WriteByte('[')
	for i, n := range d.Nodes {
		if n == nil {
			return nil, fmt.Errorf("flows: marshal: flows[%d] is a nil node", i)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, p := range n.effectiveProps(f) {
			if j > 0 {
				b.WriteByte(',')
			}
			b.Write(encodeString(p.Key))
			b.WriteByte(':')
			if err := json.Compact(&b, p.Value); err != nil {
				return nil, fmt.Errorf("flows: marshal: node %q property %q: invalid JSON value: %w", n.ID, p.Key, err)
			}
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	if !pretty {
		return b.Bytes(), nil
	}
	var out bytes.Buffer
	out.Grow(b.Len() * 2)
	if err := json.Indent(&out, b.Bytes(), "", "    "); err != nil {
		return nil, fmt.Errorf("flows: marshal: indent: %w", err)
	}
	return out.Bytes(), nil
}
