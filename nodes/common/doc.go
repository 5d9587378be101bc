// Package common holds the node types of Node-RED's common palette:
// inject, debug, comment and junction. Importing package nodes registers
// them.
package common
