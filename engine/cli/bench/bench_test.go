package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/engine"
)

func TestRunLoadRelay(t *testing.T) {
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		name string
		rate float64
		qos  byte
	}{
		{"saturation-qos0", 0, 0},
		{"saturation-qos1", 0, 1},
		{"rate-qos0", 20000, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			const n = 2000
			res, err := runLoad(ctx, loadConfig{
				Addr:       b.Addr(),
				SubFilters: []string{"sensors/+/data"},
				Extract:    extractJSON,
				Devices:    10,
				Count:      n,
				Rate:       tc.rate,
				Window:     200,
				QoS:        tc.qos,
				Stall:      15 * time.Second, // generous: CI machines are shared
				ClientID:   "bench-test-" + tc.name,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if res.Sent != n || res.Received != n || res.Lost != 0 || res.Duplicates != 0 || res.Stray != 0 || res.TimedOut {
				t.Errorf("sent %d, received %d, lost %d, duplicates %d, stray %d, timed out %v; want %d each and no loss",
					res.Sent, res.Received, res.Lost, res.Duplicates, res.Stray, res.TimedOut, n)
			}
			if res.MsgPerSec <= 0 || res.P50us <= 0 || res.P99us < res.P50us || res.MaxUs < res.P99us {
				t.Errorf("implausible figures: %+v", res)
			}
		})
	}
}

func TestExtractSeq(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind extractKind
		want int64
		ok   bool
	}{
		{"sensors/dev3/data: temperature changed to 123 °C", extractAlert, 123, true},
		{"sensors/dev3/data: temperature changed to -7 °C", extractAlert, -7, true},
		{"sensors/dev3/data: temperature changed to 1e+06 °C", extractAlert, 1000000, true},
		{"sensors/dev3/data: temperature changed to  °C", extractAlert, 0, false},
		{`{"temperature":42,"humidity":40}`, extractJSON, 42, true},
		{`{"humidity":40}`, extractJSON, 0, false},
	} {
		got, ok := extractSeq([]byte(tc.in), tc.kind)
		if got != tc.want || ok != tc.ok {
			t.Errorf("extractSeq(%q) = %d, %v; want %d, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

// TestRunLoadAlerts drives the alert path with a stand-in for the example
// flow: an in-process subscriber that republishes each reading as the
// example flow's alert text.
func TestRunLoadAlerts(t *testing.T) {
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cancelSub, err := b.Subscribe("sensors/+/data", 0, func(d engine.Delivery) {
		v, ok := extractSeq(d.Payload, extractJSON)
		if !ok {
			return
		}
		b.Publish("alerts/temperature", fmt.Appendf(nil, "%s: temperature changed to %d °C", d.Topic, v), 0, false)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cancelSub()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// Probe first, as the bench does, then two runs with distinct bases.
	if _, err := probe(ctx, b.Addr(), defaultPubTopic, defaultPayloadTemplate, []string{"alerts/#"}, extractAlert, 20*time.Millisecond, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	for run := range 2 {
		res, err := runLoad(ctx, loadConfig{
			Addr: b.Addr(), PubTopics: []string{"sensors/dev{k}/data"}, SubFilters: []string{"alerts/#"},
			Extract: extractAlert, Devices: 10, Count: n, Window: 500, SeqBase: int64(run * n),
			Stall: 15 * time.Second, // generous: CI machines are shared
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Received != n || res.Lost != 0 || res.Duplicates != 0 || res.Stray != 0 {
			t.Errorf("run %d: %+v; want %d received, nothing lost", run, res, n)
		}
	}
}

func TestBenchFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--target", "nats"},
		{"--addr", "10.0.0.1:1883"},
		{"--qos", "2"},
		{"--runs", "0"},
		{"--count", "-5"},
		{"--rate", "-1"},
		{"--connections", "-1"},
		{"--connections", "1000000"},
	} {
		var out, errOut bytes.Buffer
		if err := Run(context.Background(), args, &out, &errOut); err == nil {
			t.Errorf("bench %q: no error", args)
		}
	}
}

func TestProcFigures(t *testing.T) {
	if hz := clockTicks(); hz <= 0 || hz > 10000 {
		t.Errorf("clockTicks() = %d", hz)
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Error(err)
	}
	rss, hwm, err := procMem(os.Getpid())
	if err != nil || rss <= 0 || hwm < rss {
		t.Errorf("procMem = %d, %d, %v", rss, hwm, err)
	}
}

// TestRunOrder checks the interleaving of the runs: round by round, with
// the order alternating so that no target always runs first.
func TestRunOrder(t *testing.T) {
	for _, tc := range []struct {
		n, runs int
		want    [][]int
	}{
		{2, 5, [][]int{{0, 1}, {1, 0}, {0, 1}, {1, 0}, {0, 1}}},
		{2, 1, [][]int{{0, 1}}},
		{1, 3, [][]int{{0}, {0}, {0}}},
		{3, 2, [][]int{{0, 1, 2}, {2, 1, 0}}},
	} {
		if got := runOrder(tc.n, tc.runs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("runOrder(%d, %d) = %v; want %v", tc.n, tc.runs, got, tc.want)
		}
	}
}

// TestPairRuns checks the paired ratios with figures whose ratios are
// exact in floating point.
func TestPairRuns(t *testing.T) {
	runnel := []loadResult{
		{MsgPerSec: 1000, P50us: 100, P99us: 300, ServerCPUus: 3},
		{MsgPerSec: 500, P50us: 200, P99us: 400, ServerCPUus: 0}, // less than one clock tick: no CPU ratio
		{MsgPerSec: 3000, P50us: 150, P99us: 100, ServerCPUus: 2},
	}
	mosquitto := []loadResult{
		{MsgPerSec: 500, P50us: 200, P99us: 200, ServerCPUus: 4},
		{MsgPerSec: 1000, P50us: 100, P99us: 400, ServerCPUus: 2},
		{MsgPerSec: 1000, P50us: 150, P99us: 400, ServerCPUus: 4},
		{MsgPerSec: 1, P50us: 1, P99us: 1, ServerCPUus: 1}, // runnel has no run 4: not paired
	}
	f := func(v float64) *float64 { return &v }
	want := &pairedRatios{
		Pairs: []runPair{
			{Run: 1, First: "runnel", Throughput: f(2), P50: f(0.5), P99: f(1.5), ServerCPUPerMsg: f(0.75)},
			{Run: 2, First: "mosquitto", Throughput: f(0.5), P50: f(2), P99: f(1), ServerCPUPerMsg: nil},
			{Run: 3, First: "runnel", Throughput: f(3), P50: f(1), P99: f(0.25), ServerCPUPerMsg: f(0.5)},
		},
		Throughput:      pairedSummary{Median: 2, AtOrBelow: 1, AtOrAbove: 2, Pairs: 3},
		P50:             pairedSummary{Median: 1, AtOrBelow: 2, AtOrAbove: 2, Pairs: 3},
		P99:             pairedSummary{Median: 1, AtOrBelow: 2, AtOrAbove: 2, Pairs: 3},
		ServerCPUPerMsg: pairedSummary{Median: 0.625, AtOrBelow: 2, AtOrAbove: 0, Pairs: 2},
	}
	got := pairRuns(runnel, mosquitto, []string{"runnel", "mosquitto", "runnel"})
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Errorf("pairRuns:\n got %s\nwant %s", gj, wj)
	}
	if got := pairRuns(nil, mosquitto, nil); got != nil {
		t.Errorf("pairRuns without runnel runs = %+v; want nil", got)
	}
}

// TestPairedLine checks the printed summary of the paired ratios.
func TestPairedLine(t *testing.T) {
	runnel := []loadResult{{MsgPerSec: 6000, P50us: 100, P99us: 300, ServerCPUus: 3}, {MsgPerSec: 100, P50us: 200, P99us: 400}, {MsgPerSec: 5000, P50us: 150, P99us: 100, ServerCPUus: 2}}
	nodered := []loadResult{{MsgPerSec: 1000, P50us: 200, P99us: 200, ServerCPUus: 4}, {MsgPerSec: 1000, P50us: 100, P99us: 400, ServerCPUus: 2}, {MsgPerSec: 1000, P50us: 150, P99us: 400, ServerCPUus: 4}}
	got := pairedLine("nodered", pairRuns(runnel, nodered, nil))
	want := "paired (runnel/nodered, same pair of runs, median of 3): throughput 5.00× (runnel at or above in 2 of 3), p50 1.00× (runnel at or below in 2 of 3), p99 1.00× (runnel at or below in 2 of 3), server CPU per message 0.62× (runnel at or below in 2 of 2)"
	if got != want {
		t.Errorf("pairedLine:\n got %s\nwant %s", got, want)
	}
}
