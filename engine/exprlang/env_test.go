package exprlang

import (
	"strings"
)

// testEnv is an Env over a message held as a map, with flow, global and
// environment maps.
type testEnv struct {
	msg          map[string]any
	flow, global map[string]any
	env          map[string]any
}

func (e *testEnv) Prop(name string) (any, bool) {
	v, ok := e.msg[name]
	return v, ok
}

func (e *testEnv) Message() map[string]any { return e.msg }

func (e *testEnv) Flow(key, store string) (any, bool) {
	v, ok := e.flow[store+key]
	return v, ok
}

func (e *testEnv) Global(key, store string) (any, bool) {
	v, ok := e.global[strings.TrimPrefix(store+":", ":")+key]
	return v, ok
}

func (e *testEnv) Env(name string) (any, bool) {
	v, ok := e.env[name]
	return v, ok
}
