// Package topic checks and matches MQTT topic names and topic filters
// (MQTT 3.1.1 section 4.7, MQTT 5 section 4.7). It imports nothing from
// Runnel, so that config checking, flow nodes and the broker share one
// copy of the rules without depending on one another.
package topic

import (
	"errors"
	"fmt"
	"strings"
)

// MaxLen is the longest topic name or filter MQTT can carry, in bytes.
const MaxLen = 65535

// ValidFilter checks a topic filter, as SUBSCRIBE carries it: not empty,
// at most MaxLen bytes, '#' only as the last level on its own, '+' only as
// a whole level, no NUL.
func ValidFilter(filter string) error {
	if filter == "" {
		return errors.New("empty topic filter")
	}
	if len(filter) > MaxLen {
		return errors.New("topic filter is too long")
	}
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("invalid topic filter %q: '#' must be the last level on its own", filter)
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("invalid topic filter %q: '+' must be a whole level", filter)
		}
	}
	if strings.ContainsRune(filter, 0) {
		return fmt.Errorf("invalid topic filter %q: contains NUL", filter)
	}
	return nil
}

// ValidName checks a topic name, as PUBLISH carries it: not empty, at most
// MaxLen bytes, no wildcard ('+' or '#'), no NUL.
func ValidName(name string) error {
	if name == "" {
		return errors.New("empty topic")
	}
	if len(name) > MaxLen {
		return errors.New("topic is too long")
	}
	if strings.ContainsAny(name, "+#") {
		return fmt.Errorf("invalid topic %q: + and # are for subscriptions", name)
	}
	if strings.ContainsRune(name, 0) {
		return fmt.Errorf("invalid topic %q: contains NUL", name)
	}
	return nil
}

// Levels splits a filter into its levels for Match, without the
// $share/group/ prefix of a shared subscription.
func Levels(filter string) []string {
	if rest, ok := strings.CutPrefix(filter, "$share/"); ok {
		if _, f, found := strings.Cut(rest, "/"); found {
			filter = f
		}
	}
	return strings.Split(filter, "/")
}

// Match reports whether topic matches a filter split into levels (Levels,
// or strings.Split(filter, "/")), without allocating. Wildcards at the
// first level do not match topics that start with '$' (MQTT 3.1.1 section
// 4.7.2).
func Match(levels []string, topic string) bool {
	if len(topic) > 0 && topic[0] == '$' && len(levels) > 0 && (levels[0] == "+" || levels[0] == "#") {
		return false
	}
	rest := topic
	for i, l := range levels {
		if l == "#" {
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
		if l != "+" && l != level {
			return false
		}
		if last {
			// The topic ends here: the filter must end too, or go on
			// with only "#" ("a/#" matches "a").
			return i == len(levels)-1 || (i == len(levels)-2 && levels[i+1] == "#")
		}
		rest = rest[j+1:]
	}
	return false
}
