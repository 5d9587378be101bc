// Package network holds the node types of Node-RED's network palette:
// mqtt-in and mqtt-out with their mqtt-broker and tls-config config
// nodes, http-in, http-response and http-request, tcp-in, tcp-out and
// tcp-request, udp-in and udp-out. Importing package nodes registers
// them.
//
// The listeners a flow opens (tcp in, tcp out as a server, udp in) bind
// loopback unless the configuration allows every interface
// (engine.NodeOptions.ListenAll, [nodes] listen_all), and may never take
// the address of Runnel's own broker or editor.
package network
