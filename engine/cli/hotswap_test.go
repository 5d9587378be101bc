package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// TestHotSwapUnderLoad is issue 4's proof: 10,000 msg/s of QoS 1 readings
// through the seed flow over TCP, and a nodes deploy that changes the
// template in the middle. Every reading that should give an alert gives
// exactly one; per device, alerts switch once from the old template to the
// new one; filter-on-change keeps its state through the deploy; no client
// is disconnected.
func TestHotSwapUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	r := startRunnel(t)
	const (
		devices   = 10
		perDevice = 2000 // at 1,000 msg/s each: 2 s
		rate      = 1000 // per device
	)
	var disconnects atomic.Int32
	// The subscriber: alerts per device, in arrival order.
	var mu sync.Mutex
	alerts := make(map[string][]string)
	subConn, err := net.Dial("tcp", r.mqtt)
	if err != nil {
		t.Fatal(err)
	}
	sub := paho.NewClient(paho.ClientConfig{
		Conn: subConn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(p paho.PublishReceived) (bool, error) {
			s := string(p.Packet.Payload)
			dev := s
			if i := strings.Index(s, "sensors/"); i >= 0 {
				dev = strings.SplitN(s[i+len("sensors/"):], "/", 2)[0]
			}
			mu.Lock()
			alerts[dev] = append(alerts[dev], s)
			mu.Unlock()
			return true, nil
		}},
		OnServerDisconnect: func(*paho.Disconnect) { disconnects.Add(1) },
		OnClientError:      func(error) { disconnects.Add(1) },
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := sub.Connect(ctx, &paho.Connect{ClientID: "hotswap-sub", CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatal(err)
	}
	defer sub.Disconnect(&paho.Disconnect{})
	if _, err := sub.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "alerts/#", QoS: 1}}}); err != nil {
		t.Fatal(err)
	}

	// Publishers: one QoS 1 client per device, paced to rate. Reading i of
	// device d has temperature (i+d)/2, so every second reading repeats the
	// one before and must be filtered out, and at any moment half of the
	// devices are about to send a repeat: a filter that forgot its state
	// in the deploy would let one through.
	var pubs []*paho.Client
	for d := range devices {
		conn, err := net.Dial("tcp", r.mqtt)
		if err != nil {
			t.Fatal(err)
		}
		c := paho.NewClient(paho.ClientConfig{
			Conn:               conn,
			OnServerDisconnect: func(*paho.Disconnect) { disconnects.Add(1) },
			OnClientError:      func(error) { disconnects.Add(1) },
		})
		if _, err := c.Connect(ctx, &paho.Connect{ClientID: fmt.Sprintf("hotswap-pub-%d", d), CleanStart: true, KeepAlive: 30}); err != nil {
			t.Fatal(err)
		}
		defer c.Disconnect(&paho.Disconnect{})
		pubs = append(pubs, c)
	}
	var sent atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for d, c := range pubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := fmt.Sprintf("sensors/d%d/data", d)
			for i := range perDevice {
				if due := start.Add(time.Duration(i) * time.Second / rate); time.Until(due) > 0 {
					time.Sleep(time.Until(due))
				}
				payload := fmt.Sprintf(`{"temperature":%d,"i":%d}`, (i+d)/2, i)
				if _, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)}); err != nil {
					t.Errorf("publish %s #%d: %v", topic, i, err)
					return
				}
				sent.Add(1)
			}
		}()
	}

	// In the middle, a nodes deploy that changes only the template.
	time.Sleep(time.Duration(perDevice/2) * time.Second / rate)
	atSwitch := sent.Load()
	deployStart := time.Now()
	deployNodes(t, "http://"+r.http, func(n map[string]any) {
		if n["type"] == "template" {
			n["template"] = "NEW {{{topic}}} {{payload.temperature}}"
		}
	})
	deployTook := time.Since(deployStart)
	wg.Wait()
	elapsed := time.Since(start)
	total := sent.Load()
	t.Logf("sent %d readings in %v (%.0f msg/s); nodes deploy after %d readings took %v",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), atSwitch, deployTook.Round(time.Microsecond))

	// Wait for the last alert of every device.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, a := range alerts {
			n += len(a)
		}
		mu.Unlock()
		if n >= devices*perDevice/2+devices/2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // catch extras

	mu.Lock()
	defer mu.Unlock()
	oldN, newN := 0, 0
	for d := range devices {
		dev := fmt.Sprintf("d%d", d)
		got := alerts[dev]
		first, last := d/2, (perDevice-1+d)/2
		if len(got) != last-first+1 {
			t.Errorf("device %s: %d alerts, want %d (one per distinct temperature)", dev, len(got), last-first+1)
		}
		switched := false
		for k, a := range got {
			v := first + k
			old := fmt.Sprintf("sensors/%s/data: temperature changed to %d °C", dev, v)
			nw := fmt.Sprintf("NEW sensors/%s/data %d", dev, v)
			switch {
			case a == old && !switched:
				oldN++
			case a == nw:
				switched = true
				newN++
			default:
				t.Fatalf("device %s alert %d = %q; want %q before the deploy or %q after it (switched: %v)", dev, v, a, old, nw, switched)
			}
		}
	}
	if oldN == 0 || newN == 0 {
		t.Errorf("the deploy was not in the middle: %d alerts with the old template, %d with the new", oldN, newN)
	}
	if n := disconnects.Load(); n != 0 {
		t.Errorf("%d client disconnects or errors during the deploy", n)
	}
	if strings.Contains(r.stderr.String(), "level=ERROR") {
		t.Errorf("errors logged:\n%s", r.stderr.String())
	}
}

// deployNodes fetches the running flows, lets change edit each node and
// deploys the result with Node-RED-Deployment-Type: nodes.
func deployNodes(t *testing.T, base string, change func(map[string]any)) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/flows", nil)
	req.Header.Set("Node-RED-API-Version", "v2")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rev   string           `json:"rev"`
		Flows []map[string]any `json:"flows"`
	}
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range doc.Flows {
		change(n)
	}
	body, _ := json.Marshal(doc)
	req, _ = http.NewRequest("POST", base+"/flows", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Node-RED-API-Version", "v2")
	req.Header.Set("Node-RED-Deployment-Type", "nodes")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("deploy: %s: %s", resp.Status, out)
	}
}
