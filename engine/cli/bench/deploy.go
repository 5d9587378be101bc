package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"time"
)

// deployDriver deploys the running flows again and again during a load
// run, each time with the template of the example flow's template node
// changed (so that one node is replaced), to measure what a hot swap costs
// the messages flowing through.
type deployDriver struct {
	base  string // http://host:port
	every time.Duration
	typ   string // Node-RED-Deployment-Type

	mu    sync.Mutex
	took  []time.Duration
	fails int
	last  error
}

// deployStats are the figures of a deploy driver's run.
type deployStats struct {
	Deploys int     `json:"deploys"`
	Failed  int     `json:"failed,omitempty"`
	P50ms   float64 `json:"p50_ms"`
	MaxMs   float64 `json:"max_ms"`
	Type    string  `json:"type"`
	Error   string  `json:"error,omitempty"`
}

// run deploys every d.every until ctx ends.
func (d *deployDriver) run(ctx context.Context) {
	t := time.NewTicker(d.every)
	defer t.Stop()
	client := &http.Client{Timeout: 10 * time.Second}
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		err := d.deployOnce(ctx, client, i)
		d.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				d.fails++
				d.last = err
			}
		} else {
			d.took = append(d.took, time.Since(start))
		}
		d.mu.Unlock()
	}
}

// deployOnce fetches the flows, changes every template node's text and
// posts them back.
func (d *deployDriver) deployOnce(ctx context.Context, client *http.Client, i int) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", d.base+"/flows", nil)
	req.Header.Set("Node-RED-API-Version", "v2")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	var doc struct {
		Rev   string           `json:"rev"`
		Flows []map[string]any `json:"flows"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fmt.Errorf("GET /flows: %w", err)
	}
	changed := false
	for _, n := range doc.Flows {
		if n["type"] == "template" {
			// The bench reads the number after "changed to", so keep it.
			n["template"] = fmt.Sprintf("{{{topic}}}: temperature changed to {{payload.temperature}} °C (deploy %d)", i)
			changed = true
		}
	}
	if !changed {
		return fmt.Errorf("the running flows have no template node to change")
	}
	out, _ := json.Marshal(doc)
	req, _ = http.NewRequestWithContext(ctx, "POST", d.base+"/flows", bytes.NewReader(out))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Node-RED-API-Version", "v2")
	req.Header.Set("Node-RED-Deployment-Type", d.typ)
	resp, err = client.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST /flows: %s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// stats summarises the deploys made so far.
func (d *deployDriver) stats() *deployStats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := &deployStats{Deploys: len(d.took), Failed: d.fails, Type: d.typ}
	if d.last != nil {
		s.Error = d.last.Error()
	}
	if len(d.took) > 0 {
		v := append([]time.Duration(nil), d.took...)
		sort.Slice(v, func(i, j int) bool { return v[i] < v[j] })
		s.P50ms = float64(v[len(v)/2]) / 1e6
		s.MaxMs = float64(v[len(v)-1]) / 1e6
	}
	return s
}
