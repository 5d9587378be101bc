// Package function holds the node types of Node-RED's function palette:
// change, switch, range, template, filter-on-change (Node-RED's rbe), delay
// and trigger.
// Importing package nodes registers them.
package function
