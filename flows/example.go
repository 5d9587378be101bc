package flows

import (
	_ "embed" // for the example flow
	"fmt"
)

// Example is the example flow document, in Runnel's type names: one tab,
// "Sensor alerts", whose flow subscribes to sensors/+/data, parses the
// readings as JSON, lets a reading through only when its temperature
// changed, renders an alert text and publishes it to alerts/temperature.
//
//go:embed example.json
var Example []byte

// ExampleDocument returns a fresh parsed copy of Example.
func ExampleDocument() *Document {
	d, err := Parse(Example)
	if err != nil {
		// Example is fixed at build time and covered by tests.
		panic(fmt.Sprintf("flows: the embedded example flow does not parse: %v", err))
	}
	return d
}
