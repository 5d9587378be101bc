// Package common holds the node types of Node-RED's common palette:
// inject, debug, comment, junction, catch, status, complete and the link
// nodes. Importing package nodes registers them.
package common
