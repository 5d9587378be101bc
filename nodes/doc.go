// Package nodes holds Runnel's built-in node types. Importing it (for its
// side effects) registers them with engine.DefaultRegistry:
//
//	import _ "github.com/runnel-io/runnel/nodes"
//
// Each node keeps Node-RED's property names and behaviour, so a flow from
// Node-RED converts by renaming the types only.
package nodes
