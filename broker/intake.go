package broker

import "time"

// StopIntake is the first step of a graceful shutdown: from now on the
// broker refuses messages that network clients publish. A refused QoS 1 or
// 2 message is not acknowledged, so that a client with a session sends it
// again after it reconnects (to this broker after a restart); QoS 0
// messages are dropped, as QoS 0 allows. Messages the flows publish still
// go through, so that the messages already inside the flows finish and
// reach the subscribers that are still connected. Close stops the rest.
// With Options.HandOff, what was queued for the flows reaches them before
// StopIntake returns, or it gives up waiting after drainLimit.
func (b *Broker) StopIntake() {
	b.flows.closed.Store(true)
	if !waitAll(b.flows.handOffs(), drainLimit) {
		b.log.Warn("the flows did not take the messages queued for them in time", "limit", drainLimit)
	}
}

// drainLimit bounds how long StopIntake waits for the flows to take what
// was queued for them.
const drainLimit = 10 * time.Second
