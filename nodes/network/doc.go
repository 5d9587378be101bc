// Package network holds the node types of Node-RED's network palette:
// mqtt-in and mqtt-out, with their mqtt-broker and tls-config config
// nodes. Importing package nodes registers them.
package network
