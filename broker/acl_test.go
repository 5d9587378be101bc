package broker

import (
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"
)

func TestACLAllowed(t *testing.T) {
	a, err := compileACL([]ACLRule{
		{Topic: "secret/#", Access: AccessDeny},                       // 0
		{User: "admin", Topic: "#", Access: AccessReadWrite},          // 1
		{User: "admin", Topic: "$SYS/#", Access: AccessRead},          // 2
		{Topic: "sensors/%u/#", Access: AccessWrite},                  // 3
		{Topic: "sensors/+/temp", Access: AccessRead},                 // 4
		{Client: "gw-1", Topic: "devices/%c/cmd", Access: AccessRead}, // 5
		{Topic: "devices/dev-%c-%u/state", Access: AccessReadWrite},   // 6
		{Topic: "public/#", Access: AccessRead},                       // 7
		{Topic: "public/news", Access: AccessDeny},                    // 8: after 7, so it never applies to reads
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		user, client, topic string
		write, want         bool
	}{
		// First applicable rule decides: the deny before admin's # wins.
		{"admin", "a", "secret/x", false, false},
		{"admin", "a", "secret/x", true, false},
		{"admin", "a", "other/x", true, true},
		{"admin", "a", "other/#", false, true},
		// # does not cover $ topics; an explicit $SYS rule does.
		{"admin", "a", "$SYS/broker/uptime", false, true},
		{"admin", "a", "$SYS/broker/uptime", true, false},
		{"bob", "b", "$SYS/broker/uptime", false, false},
		// %u: bob writes below his own name only.
		{"bob", "b", "sensors/bob/temp", true, true},
		{"bob", "b", "sensors/bob", true, true},
		{"bob", "b", "sensors/alice/temp", true, false},
		// A read rule does not apply to writes and the other way round.
		{"bob", "b", "sensors/alice/temp", false, true},
		{"bob", "b", "sensors/bob/hum", false, false},
		// Anonymous clients: %u never matches.
		{"", "b", "sensors//temp", true, false},
		{"", "b", "sensors/x/temp", false, true},
		// Subscriptions must lie within the rule's filter.
		{"bob", "b", "sensors/+/temp", false, true},
		{"bob", "b", "sensors/#", false, false},
		{"bob", "b", "sensors/+/+", false, false},
		{"bob", "b", "$share/g/sensors/+/temp", false, true},
		{"bob", "b", "$share/g/sensors/#", false, false},
		// %c, and a rule for one client id.
		{"bob", "gw-1", "devices/gw-1/cmd", false, true},
		{"bob", "gw-2", "devices/gw-2/cmd", false, false},
		// Several substitutions in one level.
		{"bob", "x1", "devices/dev-x1-bob/state", true, true},
		{"bob", "x1", "devices/dev-x1-alice/state", true, false},
		{"bob", "x1", "devices/dev-x1-bob-/state", true, false},
		// Values that are not one plain level never substitute.
		{"bob", "x/y", "devices/dev-x/y-bob/state", true, false},
		{"a+", "c", "sensors/a+/t", true, false},
		{"bob", "$SYS", "devices/dev-$SYS-bob/state", true, false},
		// A later deny cannot take back what an earlier rule granted...
		{"bob", "b", "public/news", false, true},
		// ...but it applies to access no earlier rule grants.
		{"bob", "b", "public/news", true, false},
		// Nothing applies: denied.
		{"bob", "b", "other", true, false},
		{"bob", "b", "other", false, false},
	}
	for _, c := range cases {
		if got := a.allowed(c.user, c.client, c.topic, c.write); got != c.want {
			t.Errorf("allowed(user %q, client %q, %q, write=%v) = %v, want %v", c.user, c.client, c.topic, c.write, got, c.want)
		}
	}
}

func TestACLCovers(t *testing.T) {
	cases := []struct {
		rule, s string
		want    bool
	}{
		{"a/#", "a", true},
		{"a/#", "a/#", true},
		{"a/#", "a/+/b", true},
		{"a/+/#", "a/#", false},
		{"a/+", "a/+", true},
		{"a/+", "a/#", false},
		{"a/b", "a/+", false},
		{"+/b", "a/b", true},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"#", "$SYS/x", false},
		{"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true},
		{"#", "#", true},
		{"a//b", "a//b", true},
		{"a/+/b", "a//b", true},
	}
	for _, c := range cases {
		a, err := compileACL([]ACLRule{{Topic: c.rule, Access: AccessRead}})
		if err != nil {
			t.Fatal(err)
		}
		if got := a.rules[0].covers(c.s, "", ""); got != c.want {
			t.Errorf("rule %q covers %q = %v, want %v", c.rule, c.s, got, c.want)
		}
	}
}

func TestAuthOptionsValidate(t *testing.T) {
	good, err := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		opts AuthOptions
		want string
	}{
		{AuthOptions{Users: []User{{Name: "a", PasswordHash: string(good)}, {Name: "b", PasswordHash: "secret"}}},
			"broker.users[1].password_hash: not a bcrypt hash"},
		{AuthOptions{Users: []User{{Name: "a", PasswordHash: string(good)}, {Name: "a", PasswordHash: string(good)}}},
			`broker.users[1].name: user "a" is listed twice`},
		{AuthOptions{Users: []User{{PasswordHash: string(good)}}}, "broker.users[0].name: missing"},
		{AuthOptions{Users: []User{{Name: "a"}}}, "broker.users[0].password_hash: missing"},
		{AuthOptions{ACL: []ACLRule{{Topic: "a", Access: AccessRead}, {Topic: "a", Access: "rw"}}},
			`broker.acl[1].access: unknown access "rw" (want read, write, readwrite or deny)`},
		{AuthOptions{ACL: []ACLRule{{Topic: "a"}}}, "broker.acl[0].access: missing"},
		{AuthOptions{ACL: []ACLRule{{Access: AccessRead}}}, "broker.acl[0].topic: missing"},
		{AuthOptions{ACL: []ACLRule{{Topic: "a/#/b", Access: AccessRead}}},
			`broker.acl[0].topic: invalid topic filter "a/#/b": '#' must be the last level on its own`},
		{AuthOptions{ACL: []ACLRule{{Topic: "a/b+", Access: AccessRead}}},
			`broker.acl[0].topic: invalid topic filter "a/b+": '+' must be a whole level`},
	}
	for _, c := range cases {
		err := c.opts.Validate()
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want %q", c.opts, err, c.want)
		}
	}
	if err := (AuthOptions{Users: []User{{Name: "a", PasswordHash: string(good)}},
		ACL: []ACLRule{{User: "a", Topic: "x/%u/#", Access: AccessReadWrite}}}).Validate(); err != nil {
		t.Errorf("good options: %v", err)
	}
	// Start refuses bad options with the same message.
	if _, err := Start(Options{Auth: AuthOptions{ACL: []ACLRule{{Topic: "a", Access: "all"}}}}); err == nil ||
		err.Error() != `broker: broker.acl[0].access: unknown access "all" (want read, write, readwrite or deny)` {
		t.Errorf("Start with a bad rule: %v", err)
	}
}

// TestPasswordCache: a password checked once is not checked with bcrypt
// again, and neither a wrong password nor a changed hash hits the cache.
func TestPasswordCache(t *testing.T) {
	h1, _ := bcrypt.GenerateFromPassword([]byte("one"), bcrypt.MinCost)
	h2, _ := bcrypt.GenerateFromPassword([]byte("two"), bcrypt.MinCost)
	c, err := compileAuth(AuthOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h := newAuthHook(c, nil, nil)
	steps := []struct {
		hash     []byte
		pass     string
		want     bool
		compares int64
	}{
		{h1, "one", true, 1},
		{h1, "one", true, 1}, // cached
		{h1, "two", false, 2},
		{h1, "two", false, 3}, // failures are not cached
		{h2, "one", false, 4}, // the password changed: the old entry does not apply
		{h2, "two", true, 5},
		{h2, "two", true, 5},
		{h1, "one", true, 5},
	}
	for i, s := range steps {
		if got := h.verify("u", s.hash, []byte(s.pass)); got != s.want {
			t.Errorf("step %d: verify = %v, want %v", i, got, s.want)
		}
		if n := h.compares.Load(); n != s.compares {
			t.Errorf("step %d: %d bcrypt comparisons, want %d", i, n, s.compares)
		}
	}
}

// TestAnonymousRemote: with no users, anonymous clients are accepted from
// loopback only, unless AllowAnonymous; with users, never unless
// AllowAnonymous. (The TCP tests connect from loopback only.)
func TestAnonymousRemote(t *testing.T) {
	hash, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	users := []User{{Name: "u", PasswordHash: string(hash)}}
	cases := []struct {
		opts         AuthOptions
		remote, user string
		pass         string
		want         bool
	}{
		{AuthOptions{}, "127.0.0.1:5000", "", "", true},
		{AuthOptions{}, "[::1]:5000", "", "", true},
		{AuthOptions{}, "[::ffff:127.0.0.1]:5000", "", "", true},
		{AuthOptions{}, "192.168.1.20:5000", "", "", false},
		{AuthOptions{}, "192.168.1.20:5000", "someone", "x", false}, // nobody to check against
		{AuthOptions{}, "127.0.0.1:5000", "someone", "x", true},
		{AuthOptions{AllowAnonymous: true}, "192.168.1.20:5000", "", "", true},
		{AuthOptions{Users: users}, "127.0.0.1:5000", "", "", false},
		{AuthOptions{Users: users, AllowAnonymous: true}, "192.168.1.20:5000", "", "", true},
		{AuthOptions{Users: users, AllowAnonymous: true}, "192.168.1.20:5000", "u", "pw", true},
		{AuthOptions{Users: users, AllowAnonymous: true}, "192.168.1.20:5000", "u", "bad", false},
		{AuthOptions{Users: users, AllowAnonymous: true}, "127.0.0.1:5000", "nobody", "pw", false},
	}
	for _, c := range cases {
		comp, err := compileAuth(c.opts)
		if err != nil {
			t.Fatal(err)
		}
		h := newAuthHook(comp, nil, discardLog)
		cl := &mqtt.Client{Net: mqtt.ClientConnection{Remote: c.remote}}
		cl.Properties.Username = []byte(c.user)
		pk := packets.Packet{Connect: packets.ConnectParams{Password: []byte(c.pass)}}
		if got := h.OnConnectAuthenticate(cl, pk); got != c.want {
			t.Errorf("%+v from %s as %q: accepted = %v, want %v", c.opts, c.remote, c.user, got, c.want)
		}
	}
}
