package editor

// Observability on the HTTP server:
//
//	GET /metrics  Prometheus text format: broker counters, per-node message
//	              counters, deploys, Go runtime and process figures. Needs a
//	              token (any role) when authentication is on, as the node ids
//	              and types it lists are part of the flows.
//	GET /healthz  200 {"status":"ok",...} while the broker and the flows
//	              run, 503 otherwise; never needs a token.

import (
	"encoding/json"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/mochi-mqtt/server/v2/system"

	"github.com/runnel-io/runnel/engine"
)

// BrokerInfo is the broker as GET /metrics and GET /healthz see it;
// *broker.Broker implements it.
type BrokerInfo interface {
	// Info returns a snapshot of the broker's counters, or nil once the
	// broker is closed.
	Info() *system.Info
}

// apiMetrics are the figures the API itself keeps.
type apiMetrics struct {
	set      *metrics.Set
	deploys  *metrics.Counter
	failed   *metrics.Counter
	duration *metrics.PrometheusHistogram
}

func newAPIMetrics() *apiMetrics {
	s := metrics.NewSet()
	return &apiMetrics{
		set:      s,
		deploys:  s.NewCounter(`runnel_deploys_total{result="ok"}`),
		failed:   s.NewCounter(`runnel_deploys_total{result="error"}`),
		duration: s.NewPrometheusHistogram("runnel_deploy_duration_seconds"),
	}
}

// deployed counts a deploy through the API (POST /flows or a rollback)
// that took d; err is its outcome.
func (m *apiMetrics) deployed(d time.Duration, err error) {
	if err != nil {
		m.failed.Inc()
		return
	}
	m.deploys.Inc()
	m.duration.Update(d.Seconds())
}

// deployer is the name of who makes a request, for the revision log.
func deployer(r *http.Request) string {
	p, _ := userFrom(r.Context())
	return p.name
}

func (a *API) mountObservability() {
	a.handle("GET /metrics", RoleRead, a.getMetrics)
	a.mux.HandleFunc("GET /healthz", a.getHealth)
}

func (a *API) getMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if a.opts.Broker != nil {
		if info := a.opts.Broker.Info(); info != nil {
			writeBrokerMetrics(w, info)
		}
	}
	a.writeNodeMetrics(w)
	if a.opts.Live != nil {
		metrics.WriteGaugeUint64(w, "runnel_editor_clients", uint64(a.opts.Live.Clients()))
	}
	a.met.set.WritePrometheus(w)
	metrics.WriteGoMetrics(w)
	metrics.WriteProcMetrics(w)
}

func writeBrokerMetrics(w io.Writer, i *system.Info) {
	g := func(name string, v int64) { metrics.WriteGaugeUint64(w, name, uint64(max(v, 0))) }
	c := func(name string, v int64) { metrics.WriteCounterUint64(w, name, uint64(max(v, 0))) }
	g("runnel_broker_uptime_seconds", i.Uptime)
	g("runnel_broker_clients_connected", i.ClientsConnected)
	g("runnel_broker_clients_disconnected", i.ClientsDisconnected)
	g("runnel_broker_clients_maximum", i.ClientsMaximum)
	g("runnel_broker_clients_total", i.ClientsTotal)
	c("runnel_broker_messages_received_total", i.MessagesReceived)
	c("runnel_broker_messages_sent_total", i.MessagesSent)
	c("runnel_broker_messages_dropped_total", i.MessagesDropped)
	c("runnel_broker_packets_received_total", i.PacketsReceived)
	c("runnel_broker_packets_sent_total", i.PacketsSent)
	c("runnel_broker_bytes_received_total", i.BytesReceived)
	c("runnel_broker_bytes_sent_total", i.BytesSent)
	g("runnel_broker_retained_messages", i.Retained)
	g("runnel_broker_subscriptions", i.Subscriptions)
	g("runnel_broker_inflight_messages", i.Inflight)
	c("runnel_broker_inflight_dropped_total", i.InflightDropped)
}

// writeNodeMetrics writes the message counters of every flow node of the
// running graph. They count since the node was built: a deploy that
// replaces a node starts its counters again, which Prometheus's rate()
// takes as a counter reset.
func (a *API) writeNodeMetrics(w io.Writer) {
	g := a.opts.Runtime.Graph()
	if g == nil {
		return
	}
	type row struct {
		labels        string
		in, out, errs uint64
	}
	var rows []row
	type measured struct {
		labels string
		m      engine.Metric
	}
	var extra []measured
	for _, n := range g.Document().Nodes { // ids are unique: parse rejects duplicates
		if n == nil {
			continue
		}
		labels := `{id="` + labelValue(n.ID) + `",type="` + labelValue(n.Type) + `",flow="` + labelValue(n.Z) + `"}`
		if m, ok := g.Node(n.ID).(engine.Measurer); ok {
			for _, x := range m.Metrics() {
				extra = append(extra, measured{labels, x})
			}
		}
		if t, ok := a.opts.Registry.Lookup(n.Type); !ok || t.Config {
			continue
		}
		st, ok := g.Stats(n.ID)
		if !ok {
			continue
		}
		rows = append(rows, row{labels: labels, in: st.In, out: st.Out, errs: st.Errors})
	}
	for _, r := range rows {
		metrics.WriteCounterUint64(w, "runnel_node_messages_in_total"+r.labels, r.in)
	}
	for _, r := range rows {
		metrics.WriteCounterUint64(w, "runnel_node_messages_out_total"+r.labels, r.out)
	}
	for _, r := range rows {
		metrics.WriteCounterUint64(w, "runnel_node_errors_total"+r.labels, r.errs)
	}
	// Figures of the nodes' own (Measurer), grouped by name as the text
	// format wants.
	sort.SliceStable(extra, func(i, j int) bool { return extra[i].m.Name < extra[j].m.Name })
	for _, x := range extra {
		if x.m.Counter {
			metrics.WriteCounterFloat64(w, x.m.Name+x.labels, x.m.Value)
		} else {
			metrics.WriteGaugeFloat64(w, x.m.Name+x.labels, x.m.Value)
		}
	}
}

// labelValue escapes a Prometheus label value.
var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func labelValue(s string) string { return labelEscaper.Replace(s) }

// health is the body of GET /healthz.
type health struct {
	Status string `json:"status"` // "ok" or "unavailable"
	Broker string `json:"broker"` // "up", "down" or "" when the API has no Broker
	Flows  string `json:"flows"`  // "running" or "stopped"
	Nodes  int    `json:"nodes"`  // objects in the running flows
	Uptime int64  `json:"uptime"` // the broker's, in seconds
	// Problem is why the flows are stopped in safe mode.
	Problem string `json:"problem,omitempty"`
}

func (a *API) getHealth(w http.ResponseWriter, r *http.Request) {
	h := health{Status: "ok", Flows: "stopped"}
	code := http.StatusOK
	if a.opts.Broker != nil {
		h.Broker = "down"
		if info := a.opts.Broker.Info(); info != nil {
			h.Broker = "up"
			h.Uptime = info.Uptime
		} else {
			code = http.StatusServiceUnavailable
		}
	}
	if g := a.opts.Runtime.Graph(); g != nil {
		h.Flows = "running"
		h.Nodes = len(g.Document().Nodes)
	} else {
		code = http.StatusServiceUnavailable
		if _, why := a.opts.Runtime.Stopped(); why != nil {
			h.Problem = why.Error()
		}
	}
	if code != http.StatusOK {
		h.Status = "unavailable"
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(h)
}
