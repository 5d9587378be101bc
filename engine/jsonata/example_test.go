package jsonata_test

import (
	"fmt"

	"github.com/runnel-io/runnel/engine/jsonata"
)

// env is the smallest Env: no context, one environment variable.
type env struct{}

func (env) FlowContext(key, store string) (any, error)   { return nil, nil }
func (env) GlobalContext(key, store string) (any, error) { return nil, nil }
func (env) EnvVar(name string) (any, bool)               { return "box1", name == "HOST" }
func (env) Bindings() map[string]any                     { return nil }

func Example() {
	e, err := jsonata.Compile(`{"f": payload.temperature * 9 / 5 + 32, "host": $env("HOST")}`)
	if err != nil {
		fmt.Println(err)
		return
	}
	msg := map[string]any{"payload": map[string]any{"temperature": 21.5}}
	v, err := e.Eval(msg, env{})
	fmt.Println(v, err)

	_, err = jsonata.Compile(`payload.(`)
	fmt.Println(err)
	// Output:
	// map[f:70.7 host:box1] <nil>
	// JSONata syntax error at position 9: unexpected end of expression
}
