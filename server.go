// Command runnel is a flow-based MQTT stream processor with an embedded
// broker, in the spirit of Node-RED. See README.md.
package main

import (
	"os"

	"github.com/runnel-io/runnel/engine/cli"
	_ "github.com/runnel-io/runnel/nodes"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
