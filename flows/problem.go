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
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.NodeID != "" {
		fmt.Fprintf(&b, "node %q", p.NodeID)
		if p.Type != "" {
			fmt.Fprintf(&b, " (%s)", p.Type)
		}
		b.WriteString(" ")
	}
	if p.Field != "" {
		fmt.Fprintf(&b, "field %q: ", p.Field)
	} else if p.NodeID != "" {
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
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
