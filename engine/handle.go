package engine

// Handle is implemented by message values that stand for a live resource
// rather than data, such as http-in's msg.res (the request's response,
// which http-response answers). Copies of a message share the handle, as
// Node-RED's clones share msg.res. A handle is not part of the message's
// JSON (Message.AppendJSON leaves the property out); elsewhere, such as in
// the debug sidebar, it shows as what its MarshalJSON writes.
type Handle interface {
	// RunnelHandle marks the type; it does nothing.
	RunnelHandle()
}
