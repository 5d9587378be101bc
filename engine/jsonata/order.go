package jsonata

import "github.com/blues/jsonata-go/jparse"

// KeyOrder is the order in which an object constructor with literal keys
// writes its keys, as JavaScript objects keep them: the library returns
// objects as Go maps, which have no order, so the engine writes a result
// in this order instead. Nested holds the order of values that are object
// constructors themselves, by key.
type KeyOrder struct {
	Keys   []string
	Nested map[string]*KeyOrder
}

// KeyOrder returns the key order of the expression's result when the
// expression is an object constructor whose keys are all string literals
// ({"t": payload.t, "topic": topic}), possibly in parentheses; nil
// otherwise, and for the legacy msg form.
func (e *Expr) KeyOrder() *KeyOrder { return e.order }

// orderOf derives the key order of an AST node.
func orderOf(n jparse.Node) *KeyOrder {
	for {
		b, ok := n.(*jparse.BlockNode)
		if !ok || len(b.Exprs) != 1 {
			break
		}
		n = b.Exprs[0]
	}
	obj, ok := n.(*jparse.ObjectNode)
	if !ok || len(obj.Pairs) == 0 {
		return nil
	}
	o := &KeyOrder{}
	seen := make(map[string]bool, len(obj.Pairs))
	for _, p := range obj.Pairs {
		k, ok := p[0].(*jparse.StringNode)
		if !ok {
			return nil
		}
		if seen[k.Value] {
			continue // a repeated key stays at its first place
		}
		seen[k.Value] = true
		o.Keys = append(o.Keys, k.Value)
		if sub := orderOf(p[1]); sub != nil {
			if o.Nested == nil {
				o.Nested = make(map[string]*KeyOrder)
			}
			o.Nested[k.Value] = sub
		}
	}
	return o
}
