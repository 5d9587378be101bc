// Package storage holds the node types of Node-RED's storage palette:
// file (write, append, delete), file in (read whole, by line or in
// chunks) and watch (file system changes).
//
// Unlike Node-RED's, these nodes are confined to one directory
// (engine.Host.FilesDir: the [files] dir setting, by default the data
// directory): a path that leads outside it, through ".." or a symbolic
// link, is an error against the message. A flow that can write any file
// is a way into the machine.
package storage
