package engine

import "testing"

// TestSetID: SetID takes only what ID writes, as SetProp("_msgid") does.
func TestSetID(t *testing.T) {
	m := NewMessage("", nil)
	for _, bad := range []string{"", "123", "zzzzzzzzzzzzzzzz", "0123456789abcdef0"} {
		before := m.ID()
		m.SetID(bad)
		if m.ID() != before {
			t.Errorf("SetID(%q) changed the id to %s", bad, m.ID())
		}
	}
	m.SetID("00000000000000ff")
	if m.ID() != "00000000000000ff" {
		t.Errorf("id %s", m.ID())
	}
	m.SetProp("_msgid", "0123456789abcdef")
	if m.ID() != "0123456789abcdef" {
		t.Errorf("SetProp: id %s", m.ID())
	}
}
