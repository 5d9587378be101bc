package topic

import (
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	cases := []struct {
		filter, topic string
		want          bool
	}{
		{"sensors/+/data", "sensors/dev1/data", true},
		{"sensors/+/data", "sensors/dev1/data/x", false},
		{"sensors/+/data", "sensors/data", false},
		{"sensors/#", "sensors", true},
		{"sensors/#", "sensors/a/b/c", true},
		{"#", "a/b", true},
		{"#", "$SYS/broker/uptime", false},
		{"+/broker/uptime", "$SYS/broker/uptime", false},
		{"$SYS/#", "$SYS/broker/uptime", true},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"+", "", true},
		{"a/b", "a/b", true},
		{"a/b", "a/bc", false},
		{"/a", "/a", true},
		{"+/a", "/a", true},
		{"a/b/c", "a/b", false},
		{"a//b", "a//b", true},
		{"a/+", "a/b/c", false},
	}
	for _, c := range cases {
		if got := Match(strings.Split(c.filter, "/"), c.topic); got != c.want {
			t.Errorf("Match(%q, %q) = %v, want %v", c.filter, c.topic, got, c.want)
		}
	}
}

func TestLevels(t *testing.T) {
	cases := []struct {
		filter string
		want   string // levels joined by |
	}{
		{"a/+/c", "a|+|c"},
		{"$share/g/a/#", "a|#"},
		{"$share/g", "$share|g"}, // no filter after the group: kept as it is
		{"#", "#"},
		{"", ""},
	}
	for _, c := range cases {
		if got := strings.Join(Levels(c.filter), "|"); got != c.want {
			t.Errorf("Levels(%q) = %q, want %q", c.filter, got, c.want)
		}
	}
	if !Match(Levels("$share/g/s/+"), "s/1") {
		t.Error("a shared subscription's levels do not match its topics")
	}
}

func TestValidFilter(t *testing.T) {
	cases := []struct {
		filter, err string
	}{
		{"a/b", ""},
		{"#", ""},
		{"+", ""},
		{"a/+/#", ""},
		{"/", ""},
		{"$share/g/a/#", ""},
		{"", "empty topic filter"},
		{"a/#/b", `invalid topic filter "a/#/b": '#' must be the last level on its own`},
		{"a#", `invalid topic filter "a#": '#' must be the last level on its own`},
		{"a/b+", `invalid topic filter "a/b+": '+' must be a whole level`},
		{"a\x00", `invalid topic filter "a\x00": contains NUL`},
		{strings.Repeat("a", MaxLen+1), "topic filter is too long"},
	}
	for _, c := range cases {
		got := ""
		if err := ValidFilter(c.filter); err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("ValidFilter(%.20q) = %q, want %q", c.filter, got, c.err)
		}
	}
}

func TestValidName(t *testing.T) {
	cases := []struct {
		name, err string
	}{
		{"a/b", ""},
		{"/", ""},
		{"$SYS/x", ""},
		{strings.Repeat("a", MaxLen), ""},
		{"", "empty topic"},
		{"a/+", `invalid topic "a/+": + and # are for subscriptions`},
		{"a/#", `invalid topic "a/#": + and # are for subscriptions`},
		{"a\x00", `invalid topic "a\x00": contains NUL`},
		{strings.Repeat("a", MaxLen+1), "topic is too long"},
	}
	for _, c := range cases {
		got := ""
		if err := ValidName(c.name); err != nil {
			got = err.Error()
		}
		if got != c.err {
			t.Errorf("ValidName(%.20q) = %q, want %q", c.name, got, c.err)
		}
	}
}
