package engine

import "errors"

// compileJSONata compiles a JSONata expression into an evaluator.
func compileJSONata(src string) (func(h *Host, m *Message) (any, error), error) {
	return nil, errors.New("JSONata is not available yet")
}

// compileExpr compiles an expr-lang expression into an evaluator.
func compileExpr(src string) (func(h *Host, m *Message) (any, error), error) {
	return nil, errors.New("expr is not available yet")
}
