// Package examples holds the example flows Runnel ships (one per node
// family, besides the seed flow in package flows), embedded so that the
// editor's Import → Examples works from the single binary.
package examples

import "embed"

// FS holds the example flows: NAME.json, each a flow document in
// Node-RED's or Runnel's type names.
//
//go:embed *.json
var FS embed.FS
