package config_test

import (
	"fmt"

	"github.com/runnel-io/runnel/engine/config"
)

// A file's mistakes name the file, the line and the setting; flags and
// environment variables are set the same way and named in errors.
func Example() {
	c := config.Default()
	err := c.Read("runnel.toml", []byte(`
[broker]
tcp = "0.0.0.0:1883"
max_packet_size = "256KiB"
`))
	fmt.Println(err, c.Broker.MaxPacketSize)

	fmt.Println(c.Set("--mqtt", "broker.tcp", "127.0.0.1:1884"), c.Broker.TCP)
	fmt.Println(c.Set("RUNNEL_ALLOW_ANONYMOUS", "broker.allow_anonymous", "perhaps"))

	err = c.Read("runnel.toml", []byte("[broker]\n\nmax_packet_size = \"lots\"\n"))
	fmt.Println(err)
	// Output:
	// <nil> 256KiB
	// <nil> 127.0.0.1:1884
	// RUNNEL_ALLOW_ANONYMOUS: broker.allow_anonymous: must be true or false, got "perhaps"
	// runnel.toml:3: broker.max_packet_size: must be a size such as "1MiB", got "lots"
}
