// Package system holds the node types that reach the operating system:
// exec, which runs commands. It is disabled unless the configuration
// enables it (engine.NodeOptions.Exec, [nodes] exec = true), because
// running commands from a flow is the first thing an intruder looks for.
// Importing package nodes registers it.
package system
