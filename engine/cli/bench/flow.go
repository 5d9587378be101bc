package bench

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
)

// The workload's templates: {k} in a publish topic is the device number,
// {seq} in the payload the message's sequence number.
const (
	deviceVar = "{k}"
	seqVar    = "{seq}"

	defaultPubTopic = "sensors/dev{k}/data"
	defaultPayload  = `{"temperature":{seq},"humidity":40}`
	defaultOutTopic = "alerts/#"
)

// benchFlow is a flow file given with --flow: its nodes as raw JSON, so
// that rewriting the broker config nodes keeps everything else as it is.
type benchFlow struct {
	file  string
	nodes []map[string]json.RawMessage
}

// readBenchFlow reads and parses a flow file: a JSON array of nodes, or
// an object with a "flows" array (the admin API's v2 format).
func readBenchFlow(file string) (*benchFlow, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("--flow: %w", err)
	}
	f, err := parseBenchFlow(b)
	if err != nil {
		return nil, fmt.Errorf("--flow %s: %w", file, err)
	}
	f.file = file
	return f, nil
}

func parseBenchFlow(b []byte) (*benchFlow, error) {
	f := &benchFlow{}
	if err := json.Unmarshal(b, &f.nodes); err != nil {
		var doc struct {
			Flows []map[string]json.RawMessage `json:"flows"`
		}
		if err2 := json.Unmarshal(b, &doc); err2 != nil || doc.Flows == nil {
			return nil, fmt.Errorf("not a flow file (a JSON array of nodes, or {\"flows\": [...]}): %w", err)
		}
		f.nodes = doc.Flows
	}
	return f, nil
}

// str returns node property key as a string ("" if absent or not a
// string).
func str(n map[string]json.RawMessage, key string) string {
	var s string
	if json.Unmarshal(n[key], &s) != nil {
		return ""
	}
	return s
}

// truthy says whether node property key is true.
func truthy(n map[string]json.RawMessage, key string) bool {
	var v bool
	return json.Unmarshal(n[key], &v) == nil && v
}

// mqttNodes returns the enabled nodes of type typ (Node-RED's name, as
// "mqtt in"; Runnel's "mqtt-in" too), not on a disabled tab.
func (f *benchFlow) mqttNodes(typ string) []map[string]json.RawMessage {
	off := map[string]bool{}
	for _, n := range f.nodes {
		if t := str(n, "type"); (t == "tab" || t == "subflow") && truthy(n, "disabled") {
			off[str(n, "id")] = true
		}
	}
	var out []map[string]json.RawMessage
	for _, n := range f.nodes {
		t := str(n, "type")
		if (t == typ || t == strings.ReplaceAll(typ, " ", "-")) && !truthy(n, "d") && !off[str(n, "z")] {
			out = append(out, n)
		}
	}
	return out
}

// topics finds the workload's topics in the flow: the publish topics
// from the filters of its mqtt in nodes (each + and # level a device,
// dev{k}), the subscription filters from the topics of its mqtt out
// nodes, and the mqtt in filters themselves. Duplicates are dropped.
// inErr and outErr say why the input or the output topics could not be
// found (all of them: an mqtt out node that publishes to msg.topic is
// an output the bench would miss).
func (f *benchFlow) topics() (pub, out, in []string, inErr, outErr error) {
	for _, n := range f.mqttNodes("mqtt in") {
		filter := strings.TrimSpace(str(n, "topic"))
		if filter == "" { // a dynamic subscription (inputs: 1): nothing to detect
			continue
		}
		if !slices.Contains(in, filter) {
			in = append(in, filter)
			pub = append(pub, pubTopicOf(filter))
		}
	}
	var dynamic []string
	for _, n := range f.mqttNodes("mqtt out") {
		topic := strings.TrimSpace(str(n, "topic"))
		if topic == "" {
			dynamic = append(dynamic, nodeName(n))
			continue
		}
		if !slices.Contains(out, topic) {
			out = append(out, topic)
		}
	}
	if len(pub) == 0 {
		inErr = errors.New("it has no enabled mqtt in node with a topic: give --in-topic")
	}
	if len(dynamic) > 0 {
		outErr = fmt.Errorf("mqtt out node %s has no topic (it publishes to msg.topic): give --out-topic", strings.Join(dynamic, ", "))
	} else if len(out) == 0 {
		outErr = errors.New("it has no enabled mqtt out node: give --out-topic")
	}
	return pub, out, in, inErr, outErr
}

// nodeName names a node in messages: its id, and its name if it has one.
func nodeName(n map[string]json.RawMessage) string {
	if name := str(n, "name"); name != "" {
		return strconv.Quote(str(n, "id")) + " (" + name + ")"
	}
	return strconv.Quote(str(n, "id"))
}

// pubTopicOf is a publish topic that filter matches, one per device: each
// wildcard level (+ or #) becomes dev{k}.
func pubTopicOf(filter string) string {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if l == "+" || l == "#" {
			levels[i] = "dev" + deviceVar
		}
	}
	return strings.Join(levels, "/")
}

// filterOf is the subscription filter that matches every topic of the
// publish topic template t: a level with {k} becomes +.
func filterOf(t string) string {
	levels := strings.Split(t, "/")
	for i, l := range levels {
		if strings.Contains(l, deviceVar) {
			levels[i] = "+"
		}
	}
	return strings.Join(levels, "/")
}

// withBroker returns the flow as JSON with every mqtt-broker config node
// pointed at 127.0.0.1:port, without TLS; the other nodes and properties
// are kept as they are. With no mqtt-broker node, it says so: Node-RED's
// mqtt nodes cannot run without one.
func (f *benchFlow) withBroker(port string) ([]byte, int, error) {
	p, err := strconv.Atoi(port)
	if err != nil {
		return nil, 0, fmt.Errorf("port %q: %w", port, err)
	}
	nodes := make([]map[string]json.RawMessage, len(f.nodes))
	n := 0
	for i, node := range f.nodes {
		if str(node, "type") != "mqtt-broker" {
			nodes[i] = node
			continue
		}
		c := make(map[string]json.RawMessage, len(node))
		for k, v := range node {
			c[k] = v
		}
		c["broker"] = json.RawMessage(`"127.0.0.1"`)
		c["port"] = json.RawMessage(strconv.Quote(strconv.Itoa(p)))
		c["usetls"] = json.RawMessage(`false`)
		delete(c, "tls")
		nodes[i] = c
		n++
	}
	b, err := json.MarshalIndent(nodes, "", " ")
	return b, n, err
}

// seqMarker is the text after which the sequence number is read in a
// message whose payload is the template payload (or an output that keeps
// its key): the text before {seq} back to the start of its JSON key or
// item (after the last '{', '[', ',' or space before it; that delimiter
// itself when nothing is between it and {seq}), without the spaces that
// end it (the reader skips spaces), such as "temperature": for the
// default payload.
func seqMarker(payload string) string {
	before, _, _ := strings.Cut(payload, seqVar)
	before = strings.TrimRight(before, " ")
	if i := strings.LastIndexAny(before, "{[, "); i >= 0 && i < len(before)-1 {
		before = before[i+1:]
	} else if i >= 0 { // an array item, say: the delimiter itself
		before = before[i:]
	}
	return before
}

// payloadTemplate is a parsed --payload: the text around each {seq}.
type payloadTemplate []string

// defaultPayloadTemplate is the parsed default payload.
var defaultPayloadTemplate = payloadTemplate(strings.Split(defaultPayload, seqVar))

func parsePayload(t string) (payloadTemplate, error) {
	if !strings.Contains(t, seqVar) {
		return nil, fmt.Errorf("--payload %q has no %s: every message must carry its sequence number", t, seqVar)
	}
	return strings.Split(t, seqVar), nil
}

// appendPayload appends the payload of message seq to b.
func (p payloadTemplate) appendPayload(b []byte, seq int64) []byte {
	for i, s := range p {
		if i > 0 {
			b = strconv.AppendInt(b, seq, 10)
		}
		b = append(b, s...)
	}
	return b
}
