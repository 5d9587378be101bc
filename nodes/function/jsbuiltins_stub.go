package function

// STUB: the lead deletes this file at merge. The real Buffer, console and
// util.format come from jsbuiltins.go, written in parallel; these stand-ins
// only let the function node build and run without them.

import (
	"log/slog"
	"strings"

	"github.com/dop251/goja"
)

// installBuffer is a stand-in: no Buffer global. Byte payloads reach
// JavaScript as a Uint8Array while it is missing (see fnVM.bytesToJS).
func installBuffer(rt *goja.Runtime) {}

// installConsole is a stand-in: console.log and friends write util.format's
// text to log.
func installConsole(rt *goja.Runtime, log func(level slog.Level, msg string)) {
	c := rt.NewObject()
	for name, lvl := range map[string]slog.Level{"log": slog.LevelInfo, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError, "debug": slog.LevelDebug} {
		lvl := lvl
		_ = c.Set(name, func(call goja.FunctionCall) goja.Value {
			log(lvl, jsFormat(rt, call.Arguments))
			return goja.Undefined()
		})
	}
	_ = rt.Set("console", c)
}

// jsFormat is a stand-in for util.format: the arguments' String forms
// joined by spaces.
func jsFormat(rt *goja.Runtime, args []goja.Value) string {
	parts := make([]string, len(args))
	for i, a := range args {
		parts[i] = a.String()
	}
	return strings.Join(parts, " ")
}
