// Package nodes holds Runnel's built-in node types, in sub-packages named
// after Node-RED's palette categories:
//
//	common    inject, debug, comment, junction, catch, status, complete,
//	          link in, link out, link call
//	function  function, change, switch, range, template,
//	          filter-on-change (rbe), delay, trigger
//	network   mqtt-in, mqtt-out, mqtt-broker, tls-config, http-in,
//	          http-response, http-request, tcp-in, tcp-out, tcp-request,
//	          udp-in, udp-out
//	system    exec (disabled unless [nodes] exec = true)
//	parser    json, csv, xml, yaml, html
//	storage   file, file-in (file in), watch
//	sequence  split, join, sort, batch
//
// Importing nodes (for its side effects) registers them all with
// engine.DefaultRegistry:
//
//	import _ "github.com/runnel-io/runnel/nodes"
//
// Each node keeps Node-RED's property names and behaviour, so a flow from
// Node-RED converts by renaming the types only.
package nodes

import (
	// The palette categories register their types when imported.
	_ "github.com/runnel-io/runnel/nodes/common"
	_ "github.com/runnel-io/runnel/nodes/function"
	_ "github.com/runnel-io/runnel/nodes/network"
	_ "github.com/runnel-io/runnel/nodes/parser"
	_ "github.com/runnel-io/runnel/nodes/sequence"
	_ "github.com/runnel-io/runnel/nodes/storage"
	_ "github.com/runnel-io/runnel/nodes/system"
)
