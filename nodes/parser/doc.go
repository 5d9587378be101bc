// Package parser holds the node types of Node-RED's parser palette: json.
// Importing package nodes registers it.
package parser
