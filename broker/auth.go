package broker

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/engine"
)

// User is a broker user: a name and a bcrypt hash of the password, as
// `runnel passwd` prints it.
type User struct {
	Name         string
	PasswordHash string
}

// AuthOptions say who may connect to the broker and what they may do.
//
// With no users, clients need no password, and anonymous clients are
// accepted only from loopback addresses unless AllowAnonymous is set
// (as mosquitto 2 does); a username they send is not checked but is used
// for the ACL. With users, a client that sends a username must send that
// user's password, and clients without a username are accepted only if
// AllowAnonymous is set.
//
// With no ACL rules every connected client may publish and subscribe to
// anything; once there is a rule, everything no rule allows is denied
// (see ACLRule).
type AuthOptions struct {
	Users []User
	ACL   []ACLRule
	// AllowAnonymous accepts clients without a username from any address.
	AllowAnonymous bool
	// FlowsUser, when set, is the identity the flows' own mqtt-in and
	// mqtt-out (Broker.Subscribe and Broker.Publish) are checked as
	// against the ACL: the username FlowsUser, no client id (rules by
	// client id and filters with %c do not apply to them). Unset, the
	// flows may publish and subscribe to anything.
	FlowsUser string
}

// Validate checks the users and ACL rules, naming the first bad entry
// and field, such as "broker.acl[2].access".
func (o AuthOptions) Validate() error {
	_, err := compileAuth(o)
	return err
}

// compiledAuth is AuthOptions checked and ready to use.
type compiledAuth struct {
	users     map[string][]byte // name -> bcrypt hash
	allowAnon bool
	cost      int  // the highest bcrypt cost of the users' hashes
	acl       *acl // nil: allow all
	flows     *flowsACL
	notes     []string // likely mistakes, logged at start
}

func compileAuth(o AuthOptions) (*compiledAuth, error) {
	c := &compiledAuth{users: make(map[string][]byte, len(o.Users)), allowAnon: o.AllowAnonymous}
	for i, u := range o.Users {
		if u.Name == "" {
			return nil, fmt.Errorf("broker.users[%d].name: missing", i)
		}
		if _, dup := c.users[u.Name]; dup {
			return nil, fmt.Errorf("broker.users[%d].name: user %q is listed twice", i, u.Name)
		}
		if u.PasswordHash == "" {
			return nil, fmt.Errorf("broker.users[%d].password_hash: missing (make one with runnel passwd)", i)
		}
		cost, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("broker.users[%d].password_hash: not a bcrypt hash (make one with runnel passwd): %w", i, err)
		}
		c.cost = max(c.cost, cost)
		c.users[u.Name] = []byte(u.PasswordHash)
	}
	var err error
	if c.acl, err = compileACL(o.ACL); err != nil {
		return nil, err
	}
	for i, r := range o.ACL {
		if _, ok := c.users[r.User]; r.User != "" && len(c.users) > 0 && !ok && r.User != o.FlowsUser {
			c.notes = append(c.notes, fmt.Sprintf("broker.acl[%d].user: %q is neither a broker user nor the flows user, so the rule never applies", i, r.User))
		}
	}
	if o.FlowsUser != "" && c.acl != nil {
		c.flows = &flowsACL{acl: c.acl, user: o.FlowsUser}
	}
	return c, nil
}

// maxVerified bounds the cache of successful password checks; it starts
// over when full.
const maxVerified = 4096

// authHook authenticates clients and applies the ACL.
type authHook struct {
	mqtt.HookBase
	*compiledAuth
	srv *mqtt.Server
	log *slog.Logger

	cacheKey []byte // random per broker: the cache keys reveal nothing
	mu       sync.Mutex
	verified map[[sha256.Size]byte]struct{}
	compares atomic.Int64 // bcrypt comparisons made, for tests

	dummyOnce sync.Once
	dummy     []byte // hash to compare against for unknown users

	limit logLimiter

	// dropped, if set, is told of each queued message checkQueued drops
	// (the persistence hook deletes its row).
	dropped func(cl *mqtt.Client, pk packets.Packet)
}

func newAuthHook(c *compiledAuth, srv *mqtt.Server, log *slog.Logger) *authHook {
	key := make([]byte, 32)
	rand.Read(key)
	return &authHook{
		compiledAuth: c,
		srv:          srv,
		log:          log,
		cacheKey:     key,
		verified:     make(map[[sha256.Size]byte]struct{}),
	}
}

func (h *authHook) ID() string { return "runnel-auth" }

func (h *authHook) Provides(b byte) bool {
	switch b {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead, mqtt.OnSessionEstablish:
		return true
	case mqtt.OnSubscribe:
		return h.acl != nil
	}
	return false
}

// OnConnectAuthenticate checks a client's credentials, and its will
// topic against the ACL. A refused client gets CONNACK 0x86 "bad username
// or password" (MQTT 5) or 0x05 "not authorized" (3.1.1) from mochi; a
// will topic the client may not publish to gets 0x87 "not authorized"
// (MQTT 5) or 0x05 (3.1.1), as mosquitto does.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	user := string(cl.Properties.Username)
	if why := h.authenticate(cl, user, pk.Connect.Password); why != "" {
		h.warn("mqtt connection refused", cl, slog.String("reason", why))
		return false
	}
	will := &cl.Properties.Will
	if h.acl != nil && atomic.LoadUint32(&will.Flag) == 1 && !h.acl.allowed(user, cl.ID, will.TopicName, true) {
		h.warn("mqtt connection refused", cl,
			slog.String("reason", "the ACL does not allow publishing to the will topic"), slog.String("topic", will.TopicName))
		h.refuseNotAuthorized(cl)
		return false
	}
	return true
}

// authenticate returns why a client is refused, or "".
func (h *authHook) authenticate(cl *mqtt.Client, user string, pass []byte) string {
	if user == "" || len(h.users) == 0 {
		switch {
		case h.allowAnon:
			return ""
		case len(h.users) > 0:
			return "no username, and allow_anonymous is off"
		case isLoopback(cl.Net.Remote):
			return ""
		default:
			return "not a loopback address: with no broker users, anonymous clients may connect only from loopback unless allow_anonymous is on"
		}
	}
	hash, ok := h.users[user]
	if !ok {
		h.burnTime(pass)
		return "unknown user"
	}
	if !h.verify(user, hash, pass) {
		return "wrong password"
	}
	return ""
}

// verify checks a password against a user's bcrypt hash. Successes are
// cached, keyed by a keyed hash of name, bcrypt hash and password, so
// that a reconnecting client does not cost a bcrypt comparison (some
// 50 ms of CPU at the default cost) each time, and a changed password or
// hash never hits an old entry.
func (h *authHook) verify(name string, hash, pass []byte) bool {
	m := hmac.New(sha256.New, h.cacheKey)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write(hash)
	m.Write([]byte{0})
	m.Write(pass)
	var key [sha256.Size]byte
	m.Sum(key[:0])
	h.mu.Lock()
	_, ok := h.verified[key]
	h.mu.Unlock()
	if ok {
		return true
	}
	h.compares.Add(1)
	if bcrypt.CompareHashAndPassword(hash, pass) != nil {
		return false
	}
	h.mu.Lock()
	if len(h.verified) >= maxVerified {
		clear(h.verified)
	}
	h.verified[key] = struct{}{}
	h.mu.Unlock()
	return true
}

// burnTime spends as long as a password check (at the users' highest
// cost), so that answer times do not tell which usernames exist.
func (h *authHook) burnTime(pass []byte) {
	h.dummyOnce.Do(func() {
		h.dummy, _ = bcrypt.GenerateFromPassword([]byte("runnel"), max(h.cost, bcrypt.MinCost))
	})
	h.compares.Add(1)
	_ = bcrypt.CompareHashAndPassword(h.dummy, pass)
}

// refuseNotAuthorized answers CONNECT with "not authorized" and closes the
// connection; mochi's own CONNACK that follows finds it closed and is not
// sent.
func (h *authHook) refuseNotAuthorized(cl *mqtt.Client) {
	code := packets.Err3NotAuthorized
	if cl.Properties.ProtocolVersion >= 5 {
		code = packets.ErrNotAuthorized
	}
	_ = cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connack},
		ReasonCode:  code.Code,
		Properties:  packets.Properties{ReasonString: code.Reason},
	})
	cl.Stop(packets.ErrNotAuthorized)
}

// OnACLCheck runs for every publish by a network client (write), every
// subscription and every delivery to a network client (read). It does
// not allocate unless it denies a publish, which it logs.
func (h *authHook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	if h.acl == nil {
		return true
	}
	if h.acl.allowed(username(cl), cl.ID, topic, write) {
		return true
	}
	if write {
		h.warn("mqtt publish denied by the ACL", cl, slog.String("topic", topic))
	}
	return false
}

// OnSubscribe logs the filters of a subscription that the ACL denies;
// mochi then answers them with SUBACK 0x87 (MQTT 5) or 0x80 (3.1.1).
func (h *authHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	for _, f := range pk.Filters {
		if mqtt.IsValidFilter(f.Filter, false) && !h.acl.allowed(username(cl), cl.ID, f.Filter, false) {
			h.warn("mqtt subscription denied by the ACL", cl, slog.String("topic", f.Filter))
		}
	}
	return pk
}

// OnPacketRead sees every packet before mochi processes it. For a PUBLISH
// from a network client it does what mochi does not:
//
//   - It keeps the client's inbound topic aliases, as mochi checks the ACL
//     before it records or resolves an alias: a PUBLISH with an alias and
//     a topic maps the alias to that topic even if it is then refused (as
//     in mosquitto; the client takes the mapping as made), and one with an
//     alias and no topic is given the mapped topic, which the ACL then
//     checks.
//   - It answers a QoS 1 or 2 publish to a $SYS topic, which mochi drops
//     without a word, as mosquitto does: MQTT 5 clients get PUBACK or
//     PUBREC 0x87 "not authorized", MQTT 3.1.1 clients an ordinary PUBACK
//     or PUBREC; the message is dropped. (QoS 0 ones are dropped.)
//   - It refuses a QoS 0 publish from an MQTT 5 client that the ACL
//     denies by disconnecting the client with reason 0x87 "not
//     authorized": there is no acknowledgement to carry the refusal, and
//     mochi would drop the message silently. (MQTT 3.1.1 clients'
//     denied QoS 0 messages are dropped and logged, as the protocol has
//     no way to refuse them.)
func (h *authHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish || cl.Net.Inline {
		return pk, nil
	}
	if a := pk.Properties.TopicAlias; a > 0 && h.srv != nil && a <= h.srv.Options.Capabilities.TopicAliasMaximum {
		// Set with an empty topic returns the registered one, and
		// registers the empty topic where there is none, as mochi would
		// itself.
		pk.TopicName = cl.State.TopicAliases.Inbound.Set(a, pk.TopicName)
	}
	if isSysTopic(pk.TopicName) {
		if pk.FixedHeader.Qos > 0 {
			h.refuseSys(cl, pk)
			// As QoS 0, mochi drops it as it drops any $SYS publish.
			pk.FixedHeader.Qos, pk.FixedHeader.Dup, pk.PacketID = 0, false, 0
		}
		return pk, nil
	}
	if h.acl == nil || pk.FixedHeader.Qos > 0 || cl.Properties.ProtocolVersion < 5 {
		return pk, nil // mochi's ACL check answers these
	}
	if h.acl.allowed(username(cl), cl.ID, pk.TopicName, true) {
		return pk, nil
	}
	h.warn("mqtt publish denied by the ACL; disconnecting (QoS 0 has no acknowledgement)", cl,
		slog.String("topic", pk.TopicName))
	if h.srv != nil {
		_ = h.srv.DisconnectClient(cl, packets.ErrNotAuthorized)
	}
	// Rejecting the packet ends the client's read loop, which closes the
	// connection and publishes the client's will, as for any other error.
	return pk, packets.ErrRejectPacket
}

// isSysTopic reports whether mochi reserves a topic for the broker's own
// figures: it ignores client publishes whose topic starts with $SYS, in
// any case.
func isSysTopic(topic string) bool {
	return len(topic) >= len(mqtt.SysPrefix) && strings.EqualFold(topic[:len(mqtt.SysPrefix)], mqtt.SysPrefix)
}

// refuseSys acknowledges a QoS 1 or 2 publish to a $SYS topic as
// mosquitto does: reason code 0x87 "not authorized" for MQTT 5 (no reason
// string: mosquitto sends none, and some strict clients accept no
// properties in acknowledgements), an ordinary acknowledgement for MQTT
// 3.1.1, which has no way to refuse a message. A QoS 2 exchange then ends
// for MQTT 5 (a reason code of 0x80 or above ends it); an MQTT 3.1.1
// client's PUBREL finds no message and is answered with PUBCOMP.
func (h *authHook) refuseSys(cl *mqtt.Client, pk packets.Packet) {
	h.warn("mqtt publish to a $SYS topic refused", cl, slog.String("topic", pk.TopicName))
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID}
	if pk.FixedHeader.Qos == 2 {
		ack.FixedHeader.Type = packets.Pubrec
	}
	if cl.Properties.ProtocolVersion >= 5 {
		ack.ReasonCode = packets.ErrNotAuthorized.Code
	}
	_ = cl.WritePacket(ack)
}

// warn logs a refusal, at most logBurst lines a second.
func (h *authHook) warn(msg string, cl *mqtt.Client, attrs ...slog.Attr) {
	ok, dropped := h.limit.take(time.Now())
	if !ok {
		return
	}
	if dropped > 0 {
		h.log.Warn("broker: refusal log lines suppressed", slog.Int("count", dropped))
	}
	args := make([]any, 0, len(attrs)+3)
	args = append(args, slog.String("client", cl.ID), slog.String("user", string(cl.Properties.Username)),
		slog.String("remote", cl.Net.Remote))
	for _, a := range attrs {
		args = append(args, a)
	}
	h.log.Warn(msg, args...)
}

// username returns the client's username without copying it. mochi sets
// Username once, from CONNECT, and never writes to it afterwards.
func username(cl *mqtt.Client) string {
	u := cl.Properties.Username
	return unsafe.String(unsafe.SliceData(u), len(u))
}

// isLoopback reports whether a remote address ("host:port") is a
// loopback address.
func isLoopback(remote string) bool {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// logBurst is how many refusals a broker logs a second; more are counted
// and the count is logged with the next line that is let through.
const logBurst = 10

// logLimiter lets logBurst log lines a second through.
type logLimiter struct {
	mu      sync.Mutex
	start   time.Time
	n       int
	dropped int
}

// take reports whether a line may be logged now, and how many lines were
// dropped in the window before, to be reported once.
func (l *logLimiter) take(now time.Time) (ok bool, dropped int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= time.Second {
		dropped, l.dropped = l.dropped, 0
		l.start, l.n = now, 0
	}
	if l.n >= logBurst {
		l.dropped++
		return false, 0
	}
	l.n++
	return true, dropped
}

// flowsACL checks the flows' own publishes and subscriptions as one user.
type flowsACL struct {
	acl  *acl
	user string
}

// checkPublish returns an error if the flows user may not publish to topic.
func (f *flowsACL) checkPublish(topic string) error {
	if f.acl.allowed(f.user, "", topic, true) {
		return nil
	}
	return fmt.Errorf("the broker ACL does not allow flows user %q to publish to %q", f.user, topic)
}

// subscribe checks a subscription of the flows and returns fn wrapped so
// that it receives only the messages the flows user may read (a deny rule
// may cut out part of an allowed filter).
func (f *flowsACL) subscribe(filter string, fn func(engine.Delivery)) (func(engine.Delivery), error) {
	if !f.acl.allowed(f.user, "", filter, false) {
		return nil, fmt.Errorf("the broker ACL does not allow flows user %q to subscribe to %q", f.user, filter)
	}
	if !strings.ContainsAny(filter, "+#") {
		return fn, nil // every delivery has the topic just checked
	}
	return func(d engine.Delivery) {
		if f.acl.allowed(f.user, "", d.Topic, false) {
			fn(d)
		}
	}, nil
}

// authNote logs, at start, likely mistakes in the rules, and who may
// connect when that may surprise: a listener on a non-loopback address
// that only loopback clients may use.
func authNote(log *slog.Logger, c *compiledAuth, addrs Addrs) {
	for _, n := range c.notes {
		log.Warn("broker: " + n)
	}
	if len(c.users) > 0 || c.allowAnon {
		return
	}
	for _, addr := range []string{addrs.TCP, addrs.TLS, addrs.WS, addrs.WSS} {
		if addr == "" || isLoopback(addr) {
			continue
		}
		log.Warn("broker: no broker users are configured, so only clients on this machine (loopback) may connect; "+
			"add users ([[broker.users]], see runnel passwd) or set allow_anonymous = true", slog.String("listen", addr))
	}
}
