package broker

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
)

// pclient is a paho MQTT 5 client over TCP that records what it receives.
type pclient struct {
	c       *paho.Client
	connack *paho.Connack
	mu      sync.Mutex
	got     []string
	arrived chan struct{} // signalled on every message
}

// connect connects an MQTT 5 client; expiry is its session expiry
// interval in seconds (0: the session ends with the connection).
func connectPersist(t *testing.T, addr, id string, clean bool, expiry uint32) *pclient {
	t.Helper()
	return connectAs(t, addr, id, "", "", clean, expiry)
}

// connectAs is connectPersist for a user ("": anonymous).
func connectAs(t *testing.T, addr, id, user, pass string, clean bool, expiry uint32) *pclient {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	p := &pclient{arrived: make(chan struct{}, 1)}
	p.c = paho.NewClient(paho.ClientConfig{
		Conn: conn,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(r paho.PublishReceived) (bool, error) {
			p.mu.Lock()
			p.got = append(p.got, r.Packet.Topic+" "+string(r.Packet.Payload))
			p.mu.Unlock()
			select {
			case p.arrived <- struct{}{}:
			default:
			}
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: id, CleanStart: clean, KeepAlive: 30,
		Properties: &paho.ConnectProperties{SessionExpiryInterval: &expiry}}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	ca, err := p.c.Connect(ctx, cp)
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	p.connack = ca
	t.Cleanup(func() { p.c.Disconnect(&paho.Disconnect{}) })
	return p
}

func (p *pclient) subscribe(t *testing.T, filter string, qos byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sa, err := p.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: filter, QoS: qos}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(sa.Reasons) != 1 || sa.Reasons[0] != qos {
		t.Fatalf("subscribe %s: reasons %v", filter, sa.Reasons)
	}
}

// publish publishes and, for QoS 1 and 2, waits for the acknowledgement.
func (p *pclient) publish(t *testing.T, topic, payload string, qos byte, retain bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.c.Publish(ctx, &paho.Publish{Topic: topic, Payload: []byte(payload), QoS: qos, Retain: retain}); err != nil {
		t.Fatalf("publish %s: %v", topic, err)
	}
}

// waitUntil waits until the client has received a message equal to last,
// and returns everything it received.
func (p *pclient) waitUntil(t *testing.T, last string) []string {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		p.mu.Lock()
		got := slices.Clone(p.got)
		p.mu.Unlock()
		if slices.Contains(got, last) {
			return got
		}
		select {
		case <-p.arrived:
		case <-deadline:
			t.Fatalf("%q did not arrive; got %q", last, got)
		}
	}
}

func (p *pclient) disconnect(t *testing.T) {
	t.Helper()
	if err := p.c.Disconnect(&paho.Disconnect{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("client did not stop")
	}
}

// startPersist starts a broker on a free port that persists in file.
func startPersist(t *testing.T, file string) *Broker {
	t.Helper()
	b, err := Start(Options{Addr: "127.0.0.1:0", Persist: file})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// count counts the rows of a table in the database file.
func count(t *testing.T, file, table string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+file)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// waitClientGone waits until the broker forgot a disconnected client, so
// that its state is final.
func waitClientGone(t testing.TB, b *Broker, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if cl, ok := b.srv.Clients.Get(id); !ok || cl.Closed() {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("client %s is still connected", id)
}

func TestPersistRetained(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runnel.db")
	b := startPersist(t, file)
	pub := connectPersist(t, b.Addr(), "pub", true, 0)
	pub.publish(t, "r/a", "A1", 1, true)
	pub.publish(t, "r/a", "A2", 0, true) // replaces A1
	pub.publish(t, "r/b", "B", 1, true)
	pub.publish(t, "r/c", "C", 1, true)
	pub.publish(t, "r/c", "", 1, true) // clears r/c
	pub.publish(t, "r/d", "not retained", 1, false)
	if err := b.Publish("r/flow", []byte("F"), 0, true); err != nil { // the flows' own client
		t.Fatal(err)
	}
	pub.disconnect(t)
	b.Close()

	b = startPersist(t, file)
	defer b.Close()
	sub := connectPersist(t, b.Addr(), "sub", true, 0)
	sub.subscribe(t, "r/#", 1)
	pub = connectPersist(t, b.Addr(), "pub", true, 0)
	pub.publish(t, "r/end", "end", 1, false)
	sub.waitUntil(t, "r/end end")
	// The retained messages may come after the marker (mochi sends them
	// behind the SUBACK, on their own): wait for them, then a moment for
	// any that should not be there.
	want := []string{"r/a A2", "r/b B", "r/end end", "r/flow F"}
	var got []string
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		sub.mu.Lock()
		got = slices.Clone(sub.got)
		sub.mu.Unlock()
		if len(got) >= len(want) || time.Now().After(end) {
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
	sub.mu.Lock()
	got = slices.Clone(sub.got)
	sub.mu.Unlock()
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("after restart got %q, want %q", got, want)
	}
}

// TestPersistSession: a persistent subscriber goes offline, QoS 1
// messages are published and acknowledged, the broker restarts, the
// subscriber comes back and gets every message, in order.
func TestPersistSession(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runnel.db")
	b := startPersist(t, file)
	sub := connectPersist(t, b.Addr(), "keeper", true, 3600)
	sub.subscribe(t, "q/#", 1)
	sub.disconnect(t)
	waitClientGone(t, b, "keeper")

	pub := connectPersist(t, b.Addr(), "pub", true, 0)
	var want []string
	for i := range 50 {
		m := fmt.Sprintf("m%02d", i)
		pub.publish(t, "q/"+fmt.Sprint(i%3), m, 1, false)
		want = append(want, "q/"+fmt.Sprint(i%3)+" "+m)
	}
	pub.disconnect(t)
	b.Close()
	if n := count(t, file, "broker_inflight"); n != 50 {
		t.Errorf("%d messages stored, want 50", n)
	}
	if n := count(t, file, "broker_journal"); n != 0 {
		t.Errorf("%d journal entries left after a clean stop", n)
	}

	b = startPersist(t, file)
	sub = connectPersist(t, b.Addr(), "keeper", false, 3600)
	if !sub.connack.SessionPresent {
		t.Fatal("session not present after restart")
	}
	// The queue first, then a marker published now: nothing else came.
	sub.waitUntil(t, want[len(want)-1])
	pub = connectPersist(t, b.Addr(), "pub", true, 0)
	pub.publish(t, "q/end", "end", 1, false)
	want = append(want, "q/end end")
	got := sub.waitUntil(t, "q/end end")
	if !slices.Equal(got, want) {
		t.Errorf("got %d messages:\n%q\nwant %d:\n%q", len(got), got, len(want), want)
	}
	// Every PUBACK processed: mochi's queue for the session is empty.
	deadline := time.Now().Add(5 * time.Second)
	for {
		cl, ok := b.srv.Clients.Get("keeper")
		if !ok {
			t.Fatal("session gone")
		}
		if cl.State.Inflight.Len() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages unacknowledged", cl.State.Inflight.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
	sub.disconnect(t)
	pub.disconnect(t)
	b.Close()
	noneStored(t, file)
	if n := count(t, file, "broker_subscriptions"); n != 1 {
		t.Errorf("%d subscriptions stored, want 1", n)
	}
}

// TestPersistCleanSessions: sessions that end with their connection leave
// nothing in the database.
func TestPersistCleanSessions(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runnel.db")
	b := startPersist(t, file)
	sub := connectPersist(t, b.Addr(), "passing", true, 0)
	sub.subscribe(t, "q/#", 1)
	pub := connectPersist(t, b.Addr(), "pub", true, 0)
	for i := range 20 {
		pub.publish(t, "q/x", fmt.Sprint(i), 1, false)
	}
	sub.waitUntil(t, "q/x 19")
	sub.disconnect(t)
	pub.disconnect(t)
	b.Close()
	for _, table := range []string{"broker_sessions", "broker_subscriptions", "broker_inflight", "broker_journal"} {
		if n := count(t, file, table); n != 0 {
			t.Errorf("%s has %d rows", table, n)
		}
	}
}

// TestPersistCleanStartDropsSession: reconnecting with a clean start drops
// the stored session and its queue.
func TestPersistCleanStartDropsSession(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runnel.db")
	b := startPersist(t, file)
	sub := connectPersist(t, b.Addr(), "keeper", true, 3600)
	sub.subscribe(t, "q/#", 1)
	sub.disconnect(t)
	waitClientGone(t, b, "keeper")
	pub := connectPersist(t, b.Addr(), "pub", true, 0)
	pub.publish(t, "q/1", "lost", 1, false)
	pub.disconnect(t)
	sub = connectPersist(t, b.Addr(), "keeper", true, 0)
	sub.disconnect(t)
	waitClientGone(t, b, "keeper")
	b.Close()
	for _, table := range []string{"broker_sessions", "broker_subscriptions", "broker_inflight"} {
		if n := count(t, file, table); n != 0 {
			t.Errorf("%s has %d rows", table, n)
		}
	}
}

// TestPersistSessionExpiry: an MQTT 5 session with an expiry of 1 s is
// gone once it has expired, whether the broker ran all along or was
// stopped meanwhile.
func TestPersistSessionExpiry(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runnel.db")
	b := startPersist(t, file)
	for _, id := range []string{"brief", "briefer"} {
		sub := connectPersist(t, b.Addr(), id, true, 1)
		sub.subscribe(t, "q/#", 1)
		sub.disconnect(t)
		waitClientGone(t, b, id)
	}
	pub := connectPersist(t, b.Addr(), "pub", true, 0)
	pub.publish(t, "q/1", "queued", 1, false)
	pub.disconnect(t)

	// Running: mochi's expiry loop drops the sessions and the hook
	// deletes them.
	deadline := time.Now().Add(10 * time.Second)
	for count(t, file, "broker_sessions") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("expired sessions are still stored")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sub := connectPersist(t, b.Addr(), "brief", false, 1)
	if sub.connack.SessionPresent {
		t.Error("an expired session is present")
	}
	sub.disconnect(t)
	b.Close()
	// What is left is the new, empty session of the reconnect.
	for _, table := range []string{"broker_subscriptions", "broker_inflight"} {
		if n := count(t, file, table); n != 0 {
			t.Errorf("%s has %d rows", table, n)
		}
	}

	// Stopped: the session expires while the broker is down.
	b = startPersist(t, file)
	sub = connectPersist(t, b.Addr(), "brief", true, 1)
	sub.subscribe(t, "q/#", 1)
	sub.disconnect(t)
	waitClientGone(t, b, "brief")
	b.Close()
	if n := count(t, file, "broker_sessions"); n != 1 {
		t.Fatalf("%d sessions stored, want 1", n)
	}
	time.Sleep(2100 * time.Millisecond) // the subject of the test: time passes
	b = startPersist(t, file)
	defer b.Close()
	sub = connectPersist(t, b.Addr(), "brief", false, 1)
	if sub.connack.SessionPresent {
		t.Error("a session that expired while the broker was stopped is present")
	}
	for _, table := range []string{"broker_subscriptions", "broker_inflight"} {
		if n := count(t, file, table); n != 0 {
			t.Errorf("%s has %d rows", table, n)
		}
	}
}

// noneStored fails the test if the database file holds unacknowledged
// (inflight) messages, naming one of them.
func noneStored(t *testing.T, file string) {
	t.Helper()
	if n := count(t, file, "broker_inflight"); n != 0 {
		db, _ := sql.Open("sqlite", "file:"+file)
		var c, topic, payload string
		var id int
		db.QueryRow("SELECT client_id, packet_id, topic, payload FROM broker_inflight").Scan(&c, &id, &topic, &payload)
		db.Close()
		t.Errorf("%d messages stored, want none, such as %s %d %s %s", n, c, id, topic, payload)
	}
}
