package remote

import "testing"

// TestWatchNeverEndsOnAnOlderState: Watch hands a new watcher the state
// it read, on its caller's goroutine, while a state change on another
// goroutine may reach the same watcher first. The watcher must end on the
// connection's state. Before, one registered as the connection came up
// could end on "connecting" after "connected", for good
// (TestStoreAndForwardBrokerRestart saw it on a loaded machine).
func TestWatchNeverEndsOnAnOlderState(t *testing.T) {
	c := &Conn{watchers: map[*watcher]struct{}{}}
	c.watchGap = func() { c.setState(Connected) } // the change slips in
	var got []State
	c.Watch(func(s State) { got = append(got, s) })
	if len(got) != 1 || got[0] != Connected {
		t.Fatalf("the watcher got %v, want only [Connected]", got)
	}
	c.watchGap = nil
	c.setState(Disconnected)
	if got[len(got)-1] != Disconnected || len(got) != 2 {
		t.Fatalf("after a later change: %v", got)
	}
}
