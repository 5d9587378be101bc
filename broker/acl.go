package broker

import (
	"fmt"
	"strings"

	"github.com/runnel-io/runnel/broker/topic"
)

// Access is what an ACL rule grants on the topics its filter matches.
type Access string

// The access values of an ACL rule.
const (
	// AccessRead lets clients subscribe and receive messages.
	AccessRead Access = "read"
	// AccessWrite lets clients publish.
	AccessWrite Access = "write"
	// AccessReadWrite is read and write.
	AccessReadWrite Access = "readwrite"
	// AccessDeny refuses both; it is useful before a broader rule.
	AccessDeny Access = "deny"
)

// ACLRule grants or denies access to the topics a filter matches, to one
// user, one client id, both (both must match) or, with neither set, every
// client. The filter may use + and #, and %u and %c, which stand for the
// client's username and client id: a rule whose filter uses %u does not
// apply to anonymous clients, and a substitution applies only when the
// value is a valid single topic level (no '/', '+' or '#').
//
// Rules are checked in order and the first rule that applies decides: a
// rule applies when its user and client match, its filter matches the
// topic, and its access is deny or includes the access asked for (a read
// rule does not apply to a publish). When no rule applies, access is
// denied. Put narrow rules, and deny rules, before broad ones.
//
// A subscription is checked as a whole: its filter must lie within the
// rule's filter (a read rule on "a/+" allows subscribing to "a/b" and
// "a/+", but not to "a/#"). Every message is checked again when it is
// delivered, so a deny rule on "a/secret" before a read rule on "a/#"
// lets a client subscribe to "a/#" without receiving "a/secret".
type ACLRule struct {
	User   string // username; empty: any
	Client string // client id; empty: any
	Topic  string // topic filter, with + # %u %c
	Access Access
}

// access bits of a compiled rule.
const (
	bitRead  = 1
	bitWrite = 2
)

// aclRule is an ACLRule ready to match.
type aclRule struct {
	user, client string
	levels       []aclLevel
	bits         uint8 // 0 for deny
}

// aclLevel is one level of a rule's filter.
type aclLevel struct {
	kind  uint8      // levelLiteral, levelPlus, levelHash or levelTemplate
	lit   string     // levelLiteral
	parts []aclPiece // levelTemplate
}

const (
	levelLiteral = iota
	levelPlus
	levelHash
	levelTemplate
)

// aclPiece is a piece of a level with %u or %c: a literal or a variable.
type aclPiece struct {
	lit string
	v   byte // 0: lit; 'u': username; 'c': client id
}

// acl is a compiled rule list; nil allows everything.
type acl struct {
	rules     []aclRule
	templates bool // some rule uses %u or %c
}

// compileACL validates and compiles rules. It returns nil for no rules.
func compileACL(rules []ACLRule) (*acl, error) {
	if len(rules) == 0 {
		return nil, nil
	}
	a := &acl{rules: make([]aclRule, 0, len(rules))}
	for i, r := range rules {
		var bits uint8
		switch r.Access {
		case AccessRead:
			bits = bitRead
		case AccessWrite:
			bits = bitWrite
		case AccessReadWrite:
			bits = bitRead | bitWrite
		case AccessDeny:
		case "":
			return nil, fmt.Errorf("broker.acl[%d].access: missing (read, write, readwrite or deny)", i)
		default:
			return nil, fmt.Errorf("broker.acl[%d].access: unknown access %q (want read, write, readwrite or deny)", i, r.Access)
		}
		if r.Topic == "" {
			return nil, fmt.Errorf("broker.acl[%d].topic: missing", i)
		}
		if err := topic.ValidFilter(r.Topic); err != nil {
			return nil, fmt.Errorf("broker.acl[%d].topic: %w", i, err)
		}
		c := aclRule{user: r.User, client: r.Client, bits: bits}
		for _, l := range strings.Split(r.Topic, "/") {
			c.levels = append(c.levels, compileLevel(l))
			a.templates = a.templates || c.levels[len(c.levels)-1].kind == levelTemplate
		}
		a.rules = append(a.rules, c)
	}
	return a, nil
}

func compileLevel(l string) aclLevel {
	switch {
	case l == "+":
		return aclLevel{kind: levelPlus}
	case l == "#":
		return aclLevel{kind: levelHash}
	case !strings.Contains(l, "%u") && !strings.Contains(l, "%c"):
		return aclLevel{kind: levelLiteral, lit: l}
	}
	var parts []aclPiece
	lit := 0 // start of the pending literal
	for i := 0; i+1 < len(l); i++ {
		if l[i] == '%' && (l[i+1] == 'u' || l[i+1] == 'c') {
			if i > lit {
				parts = append(parts, aclPiece{lit: l[lit:i]})
			}
			parts = append(parts, aclPiece{v: l[i+1]})
			i++
			lit = i + 1
		}
	}
	if lit < len(l) {
		parts = append(parts, aclPiece{lit: l[lit:]})
	}
	return aclLevel{kind: levelTemplate, parts: parts}
}

// allowed reports whether a client with this username (empty when
// anonymous) and client id may read (subscribe to or receive) or write
// (publish to) topic. For reads, topic may be a filter, and a shared
// subscription's $share/group/ prefix is ignored. It does not allocate.
func (a *acl) allowed(user, client, topic string, write bool) bool {
	need := uint8(bitRead)
	if write {
		need = bitWrite
	} else if rest, ok := strings.CutPrefix(topic, "$share/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			topic = rest[i+1:]
		}
	}
	uv, cv := "", ""
	if a.templates {
		uv, cv = levelValue(user), levelValue(client)
	}
	for i := range a.rules {
		r := &a.rules[i]
		if r.bits != 0 && r.bits&need == 0 {
			continue
		}
		if (r.user != "" && r.user != user) || (r.client != "" && r.client != client) {
			continue
		}
		if r.covers(topic, uv, cv) {
			return r.bits != 0
		}
	}
	return false
}

// levelValue returns v if it may stand for %u or %c: a single topic
// level, not empty, not starting with '$' (a client picks its own id).
// Otherwise it returns "", which no template matches.
func levelValue(v string) string {
	if v == "" || v[0] == '$' {
		return ""
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c == '/' || c == '+' || c == '#' {
			return ""
		}
	}
	return v
}

// covers reports whether every topic that s matches also matches the
// rule's filter, with %u and %c standing for user and client (see
// levelValue). For a topic name (no wildcards) that is whether the
// filter matches it. Wildcards at the rule's first level do not cover
// topics that start with '$', as they do not match them (MQTT 4.7.2).
func (r *aclRule) covers(s, user, client string) bool {
	if len(s) > 0 && s[0] == '$' && len(r.levels) > 0 && r.levels[0].kind != levelLiteral && r.levels[0].kind != levelTemplate {
		return false
	}
	rest := s
	for i := range r.levels {
		l := &r.levels[i]
		if l.kind == levelHash {
			return true
		}
		var level string
		j := strings.IndexByte(rest, '/')
		last := j < 0
		if last {
			level = rest
		} else {
			level = rest[:j]
		}
		switch {
		case level == "#":
			return false // only a # in the rule covers it, handled above
		case level == "+":
			if l.kind != levelPlus {
				return false
			}
		case l.kind == levelLiteral:
			if l.lit != level {
				return false
			}
		case l.kind == levelTemplate:
			if !l.matchTemplate(level, user, client) {
				return false
			}
		}
		if last {
			return i == len(r.levels)-1 || (i == len(r.levels)-2 && r.levels[i+1].kind == levelHash)
		}
		rest = rest[j+1:]
	}
	return false
}

// matchTemplate reports whether level equals the template with %u and %c
// replaced by user and client. An empty value matches nothing.
func (l *aclLevel) matchTemplate(level, user, client string) bool {
	for _, p := range l.parts {
		piece := p.lit
		switch p.v {
		case 'u':
			piece = user
		case 'c':
			piece = client
		}
		if p.v != 0 && piece == "" {
			return false
		}
		if !strings.HasPrefix(level, piece) {
			return false
		}
		level = level[len(piece):]
	}
	return level == ""
}
