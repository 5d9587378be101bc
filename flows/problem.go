package flows

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a flow document, located as precisely as
// possible: the node (id and type), the field, and the line in the file.
type Problem struct {
	NodeID string `json:"id,omitempty"`
	Type   string `json:"type,omitempty"`
	Field  string `json:"field,omitempty"`
	Line   int    `json:"line,omitempty"`
	Msg    string `json:"error"`
}

// Error formats the problem on one line, for example
//
//	line 12: node "a1b2" (template) field "template": unclosed section "items"
func (p Problem) Error() string {
	return locate(p.Line, p.NodeID, p.Type, p.Field, p.Msg)
}

// Warning is something in a flow document that Runnel accepts, as Node-RED
// does, but that does not work as written: a wire to a node that is not in
// the document (dropped), a certificate file that is not on this machine.
// A document with warnings deploys; the warnings are reported beside it
// (runnel validate, the runtime's log, the answer to POST /flows). It is
// located as a Problem is.
type Warning struct {
	NodeID string `json:"id,omitempty"`
	Type   string `json:"type,omitempty"`
	Field  string `json:"field,omitempty"`
	Line   int    `json:"line,omitempty"`
	Msg    string `json:"warning"`
}

// String formats the warning on one line, as Problem.Error does.
func (w Warning) String() string {
	return locate(w.Line, w.NodeID, w.Type, w.Field, w.Msg)
}

// locate writes "line L: node "id" (type) field "f": msg", leaving out
// what is not known.
func locate(line int, id, typ, field, msg string) string {
	var b strings.Builder
	if line > 0 {
		fmt.Fprintf(&b, "line %d: ", line)
	}
	if id != "" {
		fmt.Fprintf(&b, "node %q", id)
		if typ != "" {
			fmt.Fprintf(&b, " (%s)", typ)
		}
		b.WriteString(" ")
	}
	if field != "" {
		fmt.Fprintf(&b, "field %q: ", field)
	} else if id != "" {
		b.WriteString(": ")
	}
	b.WriteString(msg)
	return strings.TrimSpace(strings.Replace(b.String(), " : ", ": ", 1))
}

// Problems is a list of problems that is itself an error: a document that
// has any is rejected as a whole.
type Problems []Problem

// Error lists every problem, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.Error()
	}
	return strings.Join(lines, "\n")
}
