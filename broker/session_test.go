package broker

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// The users and rules of issue 12's reproduction: the dashboard reads
// sensors/#, each sensor writes below its own name, root1 reads and
// writes everything, and everyone reads common/#.
func ownerAuth(t *testing.T, denyB bool) AuthOptions {
	acl := []ACLRule{
		{Topic: "sensors/%u/#", Access: AccessWrite},
		{Topic: "common/#", Access: AccessRead},
		{User: "root1", Topic: "#", Access: AccessReadWrite},
	}
	if denyB {
		acl = append(acl, ACLRule{User: "dashboard", Topic: "sensors/b", Access: AccessDeny})
	}
	acl = append(acl, ACLRule{User: "dashboard", Topic: "sensors/#", Access: AccessRead})
	return AuthOptions{
		Users: []User{
			{Name: "dashboard", PasswordHash: mustHash(t, "dbpw")},
			{Name: "sensor1", PasswordHash: mustHash(t, "s1pw")},
			{Name: "root1", PasswordHash: mustHash(t, "r1pw")},
		},
		ACL: acl,
	}
}

// startOwnerBroker starts a broker with ownerAuth, persisting in file if
// it is not "", logging at warn level into the returned buffer.
func startOwnerBroker(t *testing.T, file string, denyB bool) (*Broker, *syncBuffer) {
	t.Helper()
	logs := new(syncBuffer)
	b, err := Start(Options{
		Addr:    "127.0.0.1:0",
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Auth:    ownerAuth(t, denyB),
		Persist: file,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, logs
}

// TestSessionOwnerMosquitto is issue 12's reproduction with Debian's
// mosquitto clients (MQTT 3.1.1): sensor1, taking over the dashboard's
// client id, must not be sent the dashboard's queued message.
func TestSessionOwnerMosquitto(t *testing.T) {
	b, logs := startOwnerBroker(t, "", false)
	addr := b.Addr()
	mosquittoAt(t, addr, "mosquitto_sub", "-u", "dashboard", "-P", "dbpw", "-i", "victim-id", "-c", "-q", "1", "-t", "sensors/#", "-W", "1")
	if out, code := mosquittoAt(t, addr, "mosquitto_pub", "-u", "root1", "-P", "r1pw", "-q", "1", "-t", "sensors/public", "-m", "for-dashboard-only"); code != 0 {
		t.Fatalf("mosquitto_pub: exit %d: %s", code, out)
	}
	out, code := mosquittoAt(t, addr, "mosquitto_sub", "-u", "sensor1", "-P", "s1pw", "-i", "victim-id", "-c", "-q", "1", "-t", "sensors/sensor1/x", "-W", "2", "-v")
	// Runnel refuses the subscription (sensor1 may only write), so
	// mosquitto_sub stops at the SUBACK; the queue would have come first.
	if out != "All subscription requests were denied.\n" {
		t.Errorf("sensor1 with the dashboard's client id: exit %d, %q; want only the refused subscription", code, out)
	}
	logs.waitLog(t, "mqtt client id in use by another user", "client=victim-id", "user=sensor1", "previous_user=dashboard")
}

// TestSessionOwner: a client that connects with the client id of another
// user's persistent session starts a fresh session (CONNACK session
// present 0): it gets neither the session's queued messages, even those
// its own rules let it read, nor its subscriptions. The session the
// dashboard left is gone for it too.
func TestSessionOwner(t *testing.T) {
	b, logs := startOwnerBroker(t, "", false)
	addr := b.Addr()
	dash := connectAs(t, addr, "victim-id", "dashboard", "dbpw", true, 300)
	dash.subscribe(t, "sensors/#", 1)
	dash.subscribe(t, "common/#", 1)
	dash.disconnect(t)
	waitClientGone(t, b, "victim-id")

	root := connectAs(t, addr, "root", "root1", "r1pw", true, 0)
	root.publish(t, "sensors/public", "for-dashboard-only", 1, false)
	root.publish(t, "common/x", "queued for the dashboard", 1, false)

	s1 := connectAs(t, addr, "victim-id", "sensor1", "s1pw", false, 300)
	if s1.connack.SessionPresent {
		t.Error("sensor1 was told the dashboard's session is present")
	}
	s1.subscribe(t, "common/mark", 1)
	root.publish(t, "common/y", "after the take-over", 1, false)
	root.publish(t, "common/mark", "1", 1, false)
	if got := s1.waitUntil(t, "common/mark 1"); !slices.Equal(got, []string{"common/mark 1"}) {
		t.Errorf("sensor1 received %q, want only the marker", got)
	}
	logs.waitLog(t, "mqtt client id in use by another user", "client=victim-id", "user=sensor1", "previous_user=dashboard")
	s1.disconnect(t)
	waitClientGone(t, b, "victim-id")

	// The session is sensor1's now: the dashboard does not get it back,
	// nor what was queued for sensor1 meanwhile.
	root.publish(t, "common/mark", "2", 1, false)
	dash = connectAs(t, addr, "victim-id", "dashboard", "dbpw", false, 300)
	if dash.connack.SessionPresent {
		t.Error("the dashboard was told sensor1's session is present")
	}
	dash.subscribe(t, "common/end", 1)
	root.publish(t, "common/end", "e", 1, false)
	if got := dash.waitUntil(t, "common/end e"); !slices.Equal(got, []string{"common/end e"}) {
		t.Errorf("the dashboard received %q, want only the marker", got)
	}

	// The same user resumes its own session, with its queue. (Its
	// acknowledgement of the marker must reach the broker first, or the
	// marker is rightly sent again.)
	waitAcked(t, b, "victim-id")
	dash.disconnect(t)
	waitClientGone(t, b, "victim-id")
	root.publish(t, "common/end", "queued", 1, false)
	dash = connectAs(t, addr, "victim-id", "dashboard", "dbpw", false, 300)
	if !dash.connack.SessionPresent {
		t.Error("the dashboard's own session is not present")
	}
	if got := dash.waitUntil(t, "common/end queued"); !slices.Equal(got, []string{"common/end queued"}) {
		t.Errorf("the dashboard received %q, want its queued message", got)
	}
}

// TestSessionACLAcrossRestart: messages queued for a persistent session
// are checked against the ACL when they are delivered after a restart, so
// a rule added meanwhile applies to them; and a session restored from the
// database belongs to its user as a live one does.
func TestSessionACLAcrossRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "runnel.db")
	b, _ := startOwnerBroker(t, file, false)
	dash := connectAs(t, b.Addr(), "victim-id", "dashboard", "dbpw", true, 3600)
	dash.subscribe(t, "sensors/#", 1)
	dash.disconnect(t)
	waitClientGone(t, b, "victim-id")
	root := connectAs(t, b.Addr(), "root", "root1", "r1pw", true, 0)
	root.publish(t, "sensors/a", "A", 1, false)
	root.publish(t, "sensors/b", "B", 1, false)
	root.disconnect(t)
	b.Close()
	if n := count(t, file, "broker_inflight"); n != 2 {
		t.Fatalf("%d messages stored, want 2", n)
	}

	// Restarted with a rule that denies the dashboard sensors/b.
	b, logs := startOwnerBroker(t, file, true)
	dash = connectAs(t, b.Addr(), "victim-id", "dashboard", "dbpw", false, 3600)
	if !dash.connack.SessionPresent {
		t.Fatal("session not present after the restart")
	}
	root = connectAs(t, b.Addr(), "root", "root1", "r1pw", true, 0)
	root.publish(t, "sensors/end", "E", 1, false)
	if got := dash.waitUntil(t, "sensors/end E"); !slices.Equal(got, []string{"sensors/a A", "sensors/end E"}) {
		t.Errorf("after the restart the dashboard received %q, want sensors/a and the marker", got)
	}
	logs.waitLog(t, "mqtt queued message dropped: the ACL does not allow the client to read it", "client=victim-id", "topic=sensors/b")
	waitAcked(t, b, "victim-id")
	dash.disconnect(t)
	waitClientGone(t, b, "victim-id")
	root.publish(t, "sensors/a", "A2", 1, false)
	root.disconnect(t)
	b.Close()
	if n := count(t, file, "broker_inflight"); n != 1 {
		t.Fatalf("%d messages stored, want 1 (sensors/a A2)", n)
	}

	// Restarted again: sensor1 takes the restored session's client id.
	b, logs = startOwnerBroker(t, file, true)
	s1 := connectAs(t, b.Addr(), "victim-id", "sensor1", "s1pw", false, 3600)
	if s1.connack.SessionPresent {
		t.Error("sensor1 was told the dashboard's restored session is present")
	}
	s1.subscribe(t, "common/#", 1)
	root = connectAs(t, b.Addr(), "root", "root1", "r1pw", true, 0)
	root.publish(t, "sensors/a", "A3", 1, false)
	root.publish(t, "common/end", "E", 1, false)
	if got := s1.waitUntil(t, "common/end E"); !slices.Equal(got, []string{"common/end E"}) {
		t.Errorf("sensor1 received %q, want only the marker", got)
	}
	logs.waitLog(t, "mqtt client id in use by another user", "client=victim-id", "user=sensor1", "previous_user=dashboard")
	waitAcked(t, b, "victim-id")
	s1.disconnect(t)
	root.disconnect(t)
	b.Close()
	noneStored(t, file)
	if n := count(t, file, "broker_subscriptions"); n != 1 {
		t.Errorf("%d subscriptions stored, want 1 (sensor1's common/#)", n)
	}
}

// waitAcked waits until a connected client has acknowledged every message
// sent to it.
func waitAcked(t *testing.T, b *Broker, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		cl, ok := b.srv.Clients.Get(id)
		if !ok {
			t.Fatalf("client %s gone", id)
		}
		if cl.State.Inflight.Len() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d messages unacknowledged", id, cl.State.Inflight.Len())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestQueuedAliasOnlyMessages (issue 12, item 5): an MQTT 5 client that
// takes topic aliases is sent a second message on a topic with the alias
// only, and mochi queues it so, without its topic. Resuming the session
// (under ACL rules), the client gets both messages again, each with its
// topic: the alias-only one used to be dropped as if the ACL denied it,
// its empty topic being checked.
func TestQueuedAliasOnlyMessages(t *testing.T) {
	b, logs := startOwnerBroker(t, "", false)
	props := packets.Properties{TopicAliasMaximum: 10, SessionExpiryInterval: 300, SessionExpiryIntervalFlag: true}
	o := fastDialOpts{props: props, user: "dashboard", pass: "dbpw"}
	dash := fastDial(t, b.Addr(), 5, "aliased-dash", o)
	dash.subscribe(t, 1, packets.Subscription{Filter: "sensors/#", Qos: 1})
	for _, m := range []string{"one", "two"} {
		if err := b.Publish("sensors/x", []byte(m), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range []string{"sensors/x", ""} { // read, not acknowledged
		pk := dash.expect(t, packets.Publish)
		if pk.TopicName != want || pk.Properties.TopicAlias == 0 {
			t.Fatalf("message %d: topic %q alias %d, want topic %q with an alias", i, pk.TopicName, pk.Properties.TopicAlias, want)
		}
	}
	dash.Close()
	o.resume = true
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cl, ok := b.srv.Clients.Get("aliased-dash"); ok && cl.Closed() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first connection is not closed")
		}
	}
	again := fastDial(t, b.Addr(), 5, "aliased-dash", o)
	var got []string
	for range 2 {
		pk := again.expect(t, packets.Publish)
		got = append(got, fmt.Sprintf("%s|%s|alias=%d|dup=%v", pk.TopicName, pk.Payload, pk.Properties.TopicAlias, pk.FixedHeader.Dup))
	}
	if want := []string{"sensors/x|one|alias=1|dup=true", "sensors/x|two|alias=0|dup=true"}; !slices.Equal(got, want) {
		t.Fatalf("resent %q, want %q", got, want)
	}
	if strings.Contains(logs.String(), "queued message dropped") {
		t.Fatalf("a queued message was dropped:\n%s", logs.String())
	}
}

// TestQueuedMessagesResentInOrder: the messages queued for a session while
// its client was away are resent, when it comes back, in the order they
// were queued. mochi sorts the queue by the second each message was
// queued in, with an unstable sort, so messages of the same second came
// out in random order (seen as a flaky TestQueuedAliasOnlyMessages).
func TestQueuedMessagesResentInOrder(t *testing.T) {
	b := startFast(t, Options{Addr: "127.0.0.1:0"})
	o := fastDialOpts{props: packets.Properties{SessionExpiryInterval: 300, SessionExpiryIntervalFlag: true}}
	c := fastDial(t, b.Addr(), 5, "away", o)
	c.subscribe(t, 1, packets.Subscription{Filter: "q/#", Qos: 1})
	c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if cl, ok := b.srv.Clients.Get("away"); ok && cl.Closed() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first connection is not closed")
		}
	}
	const n = 60
	var want []string
	for i := range n {
		m := fmt.Sprintf("m%02d", i)
		want = append(want, m)
		if err := b.Publish("q/x", []byte(m), 1, false); err != nil {
			t.Fatal(err)
		}
	}
	o.resume = true
	again := fastDial(t, b.Addr(), 5, "away", o)
	var got []string
	for range n {
		got = append(got, string(again.expect(t, packets.Publish).Payload))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("resent %q,\nwant %q", got, want)
	}
}
