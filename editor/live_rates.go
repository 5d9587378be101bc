package editor

// The live channel's message rates, sampled from the running graph's node
// counters every RateInterval, with the number of messages a node holds
// (a delay's queue, a join's partial groups) where it reports one.

import (
	"math"
	"strconv"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// rater computes live message rates from the graph's counters.
type rater struct {
	reg  *engine.Registry
	at   time.Time
	prev map[string]engine.NodeStats
	next map[string]engine.NodeStats
}

func newRater(reg *engine.Registry, now time.Time) *rater {
	return &rater{reg: reg, at: now, prev: map[string]engine.NodeStats{}, next: map[string]engine.NodeStats{}}
}

// sample reads every flow node's counters and, when encode is set,
// returns the rates frame (nil without a graph). Rates are per second over
// the real time since the previous sample. A counter that went down was
// reset (its node was rebuilt by a deploy): its rate counts from zero.
func (r *rater) sample(g *engine.Graph, now time.Time, encode bool) []byte {
	secs := now.Sub(r.at).Seconds()
	r.at = now
	clear(r.next)
	if g == nil {
		r.prev, r.next = r.next, r.prev
		return nil
	}
	var b []byte
	if encode {
		b = append(b, `[{"topic":"rates","data":{`...)
	}
	sep := false
	for _, n := range g.Document().Nodes {
		if n == nil {
			continue
		}
		if t, ok := r.reg.Lookup(n.Type); !ok || t.Config {
			continue
		}
		st, ok := g.Stats(n.ID)
		if !ok {
			continue // tabs, disabled nodes
		}
		if _, dup := r.next[n.ID]; dup {
			continue
		}
		r.next[n.ID] = st
		if !encode {
			continue
		}
		old := r.prev[n.ID]
		if sep {
			b = append(b, ',')
		}
		sep = true
		b = engine.AppendJSON(b, n.ID)
		b = append(b, `:{"in":`...)
		b = engine.AppendNumber(b, rate(st.In, old.In, secs))
		b = append(b, `,"out":`...)
		b = engine.AppendNumber(b, rate(st.Out, old.Out, secs))
		b = append(b, `,"err":`...)
		b = engine.AppendNumber(b, rate(st.Errors, old.Errors, secs))
		b = append(b, `,"inTotal":`...)
		b = strconv.AppendUint(b, st.In, 10)
		b = append(b, `,"outTotal":`...)
		b = strconv.AppendUint(b, st.Out, 10)
		b = append(b, `,"errTotal":`...)
		b = strconv.AppendUint(b, st.Errors, 10)
		if q, ok := queued(g.Node(n.ID)); ok {
			b = append(b, `,"queued":`...)
			b = engine.AppendNumber(b, q)
		}
		b = append(b, '}')
	}
	r.prev, r.next = r.next, r.prev
	if !encode {
		return nil
	}
	return append(b, "}}]"...)
}

// rate is the per-second rate of a counter that went from prev to cur in
// secs seconds, rounded to hundredths; never negative.
func rate(cur, prev uint64, secs float64) float64 {
	d := cur - prev
	if cur < prev {
		d = cur // reset
	}
	if secs <= 0 || d == 0 {
		return 0
	}
	return math.Round(float64(d)/secs*100) / 100
}

// queued is what a node that holds messages (delay, join, batch...)
// reports as runnel_node_queued_messages, shown beside its rates.
func queued(n engine.Node) (float64, bool) {
	m, ok := n.(engine.Measurer)
	if !ok {
		return 0, false
	}
	for _, x := range m.Metrics() {
		if x.Name == "runnel_node_queued_messages" {
			return x.Value, true
		}
	}
	return 0, false
}
