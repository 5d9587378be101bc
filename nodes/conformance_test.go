package nodes_test

import (
	"net"
	"testing"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/nodetest"
	_ "github.com/runnel-io/runnel/nodes"
)

// conformanceProps are what each type needs beyond its defaults to
// deploy; a type not listed builds from its defaults alone.
// The mqtt nodes use a broker config node pointing at the embedded
// broker (brokerJSON fills in its port).
func conformanceProps(brokerJSON string) map[string]nodetest.ConformanceOptions {
	return map[string]nodetest.ConformanceOptions{
		"mqtt-broker": {Props: brokerJSON},
		"mqtt-in":     {Props: `{"topic":"conformance/#","broker":"b1"}`, Extra: []string{`{"id":"b1","type":"mqtt-broker",` + brokerJSON[1:]}},
		"mqtt-out":    {Props: `{"broker":"b1"}`, Extra: []string{`{"id":"b1","type":"mqtt-broker",` + brokerJSON[1:]}},
		"http-in":     {Props: `{"url":"/conformance"}`},
		"http-proxy":  {Props: `{"url":"http://127.0.0.1:3128"}`},
		// Port 0: the listener takes any free port; udp out and tcp
		// request send nowhere, exec is disabled (the default).
		"tcp-in":      {Props: `{"port":0}`},
		"tcp-out":     {Props: `{"beserver":"reply"}`},
		"tcp-request": {Props: `{"server":"127.0.0.1","port":"9","out":"immed"}`},
		"udp-in":      {Props: `{"port":0}`},
		"exec":        {Props: `{"command":"true"}`},
		"watch":       {Props: `{"files":"conformance-watched"}`},

		"websocket-listener": {Props: `{"path":"/conformance-ws"}`},
		"websocket-client":   {Props: `{"path":"ws://127.0.0.1:9/conformance"}`},
		"websocket-in":       {Props: `{"server":"wl"}`, Extra: []string{`{"id":"wl","type":"websocket-listener","path":"/conformance-in"}`}},
		"websocket-out":      {Props: `{"client":"wc"}`, Extra: []string{`{"id":"wc","type":"websocket-client","path":"ws://127.0.0.1:9/conformance"}`}},
	}
}

// TestConformance builds every registered node type, runs messages
// through it and closes it twice (see nodetest.Conformance).
func TestConformance(t *testing.T) {
	br, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	_, port, _ := net.SplitHostPort(br.Addr())
	props := conformanceProps(`{"broker":"127.0.0.1","port":"` + port + `"}`)
	types := engine.DefaultRegistry.Types()
	if len(types) < 9 {
		t.Fatalf("only %d types registered", len(types))
	}
	for _, typ := range types {
		t.Run(typ.Type, func(t *testing.T) {
			o := props[typ.Type]
			for _, x := range types {
				if x.Config && x != typ {
					o.Types = append(o.Types, x)
				}
			}
			o.Runtime = func(opts *engine.Options) { opts.Broker, opts.BrokerAddr = br, br.Addr() }
			nodetest.Conformance(t, typ, o)
		})
	}
}
