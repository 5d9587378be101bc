package editor

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

type testMeterConfig struct{}

// testMeter reports figures of its own, as a remote broker's queue does.
type testMeter struct{}

func (testMeter) Metrics() []engine.Metric {
	return []engine.Metric{
		{Name: "runnel_outbox_dropped_total", Counter: true, Value: 15},
		{Name: "runnel_outbox_messages", Value: 10},
	}
}

// TestMetricsFromMeasurers: a node that implements engine.Measurer, config
// nodes included, has its figures in GET /metrics, labelled with its id,
// type and flow.
func TestMetricsFromMeasurers(t *testing.T) {
	reg := testRegistry(t)
	reg.MustRegister(engine.NewType(engine.Meta{Type: "test-meter", Category: "config", Config: true},
		func(_ *testMeterConfig, _ *engine.Host) (engine.Node, error) { return testMeter{}, nil }))
	rt := engine.New(engine.Options{Registry: reg})
	doc, err := flows.Parse([]byte(`[{"id":"t1","type":"tab"},{"id":"m1","type":"test-meter","z":"t1"}]`))
	if err != nil {
		t.Fatal(err)
	}
	if err := rt.Deploy(context.Background(), doc); err != nil {
		t.Fatal(err)
	}
	defer rt.Stop(context.Background())
	srv := httptest.NewServer(NewAPI(Options{Runtime: rt, Registry: reg}))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		"runnel_outbox_dropped_total{id=\"m1\",type=\"test-meter\",flow=\"t1\"} 15\n",
		"runnel_outbox_messages{id=\"m1\",type=\"test-meter\",flow=\"t1\"} 10\n",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("GET /metrics lacks %q:\n%s", want, body)
		}
	}
}
