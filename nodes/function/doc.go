// Package function holds the node types of Node-RED's function palette:
// change, switch, range, template and filter-on-change (Node-RED's rbe).
// Importing package nodes registers them.
package function
