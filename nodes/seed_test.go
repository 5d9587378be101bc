package nodes_test

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
	_ "github.com/runnel-io/runnel/nodes"
)

// BenchmarkSeedFlow measures the example flow in process: a reading is
// published to the embedded broker, runs through mqtt-in, json,
// filter-on-change, template and mqtt-out, and the alert is published back
// to the broker, where an in-process subscriber counts it. No TCP. Every
// reading changes its topic's temperature, so each produces one alert.
//
//	go test -run '^$' -bench SeedFlow -benchmem -cpu 1,2 ./nodes/
func BenchmarkSeedFlow(b *testing.B) { benchFlow(b, flows.ExampleDocument()) }

// BenchmarkMixedFlow is BenchmarkSeedFlow on the mixed reference flow
// (runnel bench's testdata): the seed flow with a switch, a function
// computing a Fahrenheit reading and a device name, and a change node.
//
//	go test -run '^$' -bench MixedFlow -benchmem -cpu 1 ./nodes/
func BenchmarkMixedFlow(b *testing.B) {
	text, err := os.ReadFile("../engine/cli/bench/testdata/mixed-flow.json")
	if err != nil {
		b.Fatal(err)
	}
	doc, err := flows.Parse(text)
	if err != nil {
		b.Fatal(err)
	}
	benchFlow(b, doc)
}

// benchFlow publishes readings to the embedded broker for doc, whose
// mqtt-in reads sensors/+/data and whose mqtt-out publishes one alert
// per reading under alerts/.
func benchFlow(b *testing.B, doc *flows.Document) {
	br, err := broker.Start(broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	rt := engine.New(engine.Options{Broker: br, BrokerAddr: "127.0.0.1:1883"})
	if err := rt.Deploy(context.Background(), doc); err != nil {
		b.Fatal(err)
	}
	defer rt.Stop(context.Background())

	// The flows' own publishes are not slowed down by a full mqtt-in
	// queue (they are dropped instead), so keep fewer than a queue's
	// worth in flight, as a TCP publisher's back-pressure would.
	window := make(chan struct{}, 512)
	done := make(chan struct{})
	n := b.N
	got := 0
	cancel, err := br.Subscribe("alerts/#", 0, func(engine.Delivery) {
		<-window
		got++
		if got == n {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer cancel()

	const devices = 10
	topics := make([]string, devices)
	for i := range topics {
		topics[i] = "sensors/dev" + strconv.Itoa(i) + "/data"
	}
	b.ReportAllocs()
	b.ResetTimer()
	buf := make([]byte, 0, 64)
	for i := 1; i <= n; i++ {
		window <- struct{}{}
		buf = append(buf[:0], `{"temperature":`...)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, `,"humidity":40}`...)
		payload := make([]byte, len(buf)) // the broker keeps it
		copy(payload, buf)
		if err := br.Publish(topics[i%devices], payload, 0, false); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}
