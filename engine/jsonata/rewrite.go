package jsonata

import (
	"strings"

	"github.com/blues/jsonata-go/jparse"
)

// preprocess does what the library's lexer and parser cannot, keeping every
// byte position so that syntax errors point into the user's text:
//
//   - /* ... */ comments, which jsonata-js accepts, become spaces;
//   - a quoted path step ("Product Name" in a."Product Name", or a string
//     followed by a dot) becomes a backquoted name, as jsonata-js reads it.
//
// Strings, backquoted names and regular expressions are otherwise left alone.
func preprocess(src string) (string, error) {
	if !strings.Contains(src, "/*") && !strings.ContainsAny(src, "\"'") {
		return src, nil
	}
	b := []byte(src)
	prefix := true    // a '/' here would start a regular expression
	afterDot := false // the previous token is a single '.'
	for i := 0; i < len(b); i++ {
		c := b[i]
		dot := false
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			escaped := false
			for j < len(b) && b[j] != c {
				if b[j] == '\\' && c != '`' {
					escaped = true
					j++
				}
				j++
			}
			if c != '`' && j < len(b) && !escaped && !strings.Contains(src[i+1:j], "`") && (afterDot || nextIsDot(b, j+1)) {
				b[i], b[j] = '`', '`'
			}
			i = j
			prefix = false
		case c == '/' && i+1 < len(b) && b[i+1] == '*':
			j := strings.Index(src[i+2:], "*/")
			if j < 0 {
				return "", &SyntaxError{Position: i, Message: "comment has no closing tag"}
			}
			end := i + 2 + j + 2
			for k := i; k < end; k++ {
				if b[k] != '\n' {
					b[k] = ' '
				}
			}
			i = end - 1
			continue
		case c == '/' && prefix:
			j := i + 1
			for j < len(b) && b[j] != '/' {
				if b[j] == '\\' {
					j++
				}
				j++
			}
			i = j
			prefix = false
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case c == '.' && i+1 < len(b) && b[i+1] == '.':
			i++
			prefix = true
		case c == '.':
			dot = true
			prefix = true
		case c == ')' || c == ']' || c == '}' || c == '_' || c == '$' ||
			c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
			prefix = false
		default:
			prefix = true
		}
		afterDot = dot
	}
	return string(b), nil
}

// nextIsDot reports whether the next token from b[i] is a single '.'.
func nextIsDot(b []byte, i int) bool {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i < len(b) && b[i] == '.' && !(i+1 < len(b) && (b[i+1] == '.' || b[i+1] >= '0' && b[i+1] <= '9'))
}

// Names of the extension functions the rewritten program calls. They cannot
// clash with a user's variables: JSONata names cannot start with two
// underscores by accident in practice, and these are documented as reserved.
const (
	fnEnter  = "__rnEnter"
	fnLeave  = "__rnLeave"
	fnLo     = "__rnLo"
	fnHi     = "__rnHi"
	fnConcat = "__rnConcat"
)

// rewriter rewrites the parsed program once, after parsing:
//
//   - a ~> f(args) becomes f(a, args): the library does this itself on every
//     evaluation by prepending a to the call's arguments in the shared tree,
//     so a second evaluation calls f(a, a, args) ("takes 1 argument, got 2");
//   - a & b calls our concatenation, which formats numbers as jsonata-js does;
//   - a quoted path step ("Product Name" in a."Product Name") becomes a name,
//     as in jsonata-js;
//   - every lambda body is wrapped in enter/leave calls that count the call
//     depth and check the deadline;
//   - both ends of every range are passed through calls that count the
//     items the range will make.
//
// It records which variables the program names (vars) and which of our
// extensions it calls (exts).
type rewriter struct {
	vars map[string]bool
	exts map[string]bool
}

func call(name string, args ...jparse.Node) *jparse.FunctionCallNode {
	return &jparse.FunctionCallNode{Func: &jparse.VariableNode{Name: name}, Args: args}
}

func (r *rewriter) nodes(ns []jparse.Node) {
	for i := range ns {
		ns[i] = r.node(ns[i])
	}
}

func (r *rewriter) node(n jparse.Node) jparse.Node {
	switch n := n.(type) {
	case nil:
		return nil
	case *jparse.VariableNode:
		r.vars[n.Name] = true
	case *jparse.PathNode:
		for i, s := range n.Steps {
			if str, ok := s.(*jparse.StringNode); ok {
				n.Steps[i] = &jparse.NameNode{Value: str.Value}
			}
		}
		r.nodes(n.Steps)
	case *jparse.NegationNode:
		n.RHS = r.node(n.RHS)
	case *jparse.RangeNode:
		r.exts[fnLo], r.exts[fnHi] = true, true
		n.LHS = call(fnLo, r.node(n.LHS))
		n.RHS = call(fnHi, r.node(n.RHS))
	case *jparse.ArrayNode:
		r.nodes(n.Items)
	case *jparse.ObjectNode:
		r.pairs(n.Pairs)
	case *jparse.BlockNode:
		r.nodes(n.Exprs)
	case *jparse.ObjectTransformationNode:
		n.Pattern = r.node(n.Pattern)
		n.Updates = r.node(n.Updates)
		n.Deletes = r.node(n.Deletes)
	case *jparse.LambdaNode:
		r.lambda(n)
	case *jparse.TypedLambdaNode:
		r.lambda(n.LambdaNode)
	case *jparse.PartialNode:
		n.Func = r.node(n.Func)
		r.nodes(n.Args)
	case *jparse.FunctionCallNode:
		n.Func = r.node(n.Func)
		r.nodes(n.Args)
	case *jparse.PredicateNode:
		n.Expr = r.node(n.Expr)
		r.nodes(n.Filters)
	case *jparse.GroupNode:
		n.Expr = r.node(n.Expr)
		if n.ObjectNode != nil {
			r.pairs(n.ObjectNode.Pairs)
		}
	case *jparse.ConditionalNode:
		n.If = r.node(n.If)
		n.Then = r.node(n.Then)
		n.Else = r.node(n.Else)
	case *jparse.AssignmentNode:
		n.Value = r.node(n.Value)
	case *jparse.NumericOperatorNode:
		n.LHS = r.node(n.LHS)
		n.RHS = r.node(n.RHS)
	case *jparse.ComparisonOperatorNode:
		n.LHS = r.node(n.LHS)
		n.RHS = r.node(n.RHS)
	case *jparse.BooleanOperatorNode:
		n.LHS = r.node(n.LHS)
		n.RHS = r.node(n.RHS)
	case *jparse.StringConcatenationNode:
		r.exts[fnConcat] = true
		return call(fnConcat, r.node(n.LHS), r.node(n.RHS))
	case *jparse.SortNode:
		n.Expr = r.node(n.Expr)
		for i := range n.Terms {
			n.Terms[i].Expr = r.node(n.Terms[i].Expr)
		}
	case *jparse.FunctionApplicationNode:
		lhs := r.node(n.LHS)
		if f, ok := n.RHS.(*jparse.FunctionCallNode); ok {
			f.Func = r.node(f.Func)
			r.nodes(f.Args)
			return &jparse.FunctionCallNode{Func: f.Func, Args: append([]jparse.Node{lhs}, f.Args...)}
		}
		n.LHS = lhs
		n.RHS = r.node(n.RHS)
	}
	return n
}

func (r *rewriter) pairs(ps [][2]jparse.Node) {
	for i := range ps {
		ps[i][0] = r.node(ps[i][0])
		ps[i][1] = r.node(ps[i][1])
	}
}

func (r *rewriter) lambda(n *jparse.LambdaNode) {
	r.exts[fnEnter], r.exts[fnLeave] = true, true
	n.Body = call(fnLeave, call(fnEnter), r.node(n.Body))
}
