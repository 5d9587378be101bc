package flows

// nodeREDNames maps Node-RED type names to Runnel's, for the node types whose
// names differ. It is the only place the two vocabularies are related; every
// other type keeps its name in both (json, template, inject, debug,
// mqtt-broker, tab, ...).
var nodeREDNames = map[string]string{
	"mqtt in":  "mqtt-in",
	"mqtt out": "mqtt-out",
	"rbe":      "filter-on-change",
	"file in":  "file-in",

	"http in":       "http-in",
	"http response": "http-response",
	"http request":  "http-request",
	"http proxy":    "http-proxy",

	"tcp in":        "tcp-in",
	"tcp out":       "tcp-out",
	"tcp request":   "tcp-request",
	"udp in":        "udp-in",
	"udp out":       "udp-out",
	"websocket in":  "websocket-in",
	"websocket out": "websocket-out",
}

// runnelNames is nodeREDNames inverted.
var runnelNames = func() map[string]string {
	m := make(map[string]string, len(nodeREDNames))
	for nr, rn := range nodeREDNames {
		m[rn] = nr
	}
	return m
}()

// RunnelType returns Runnel's name for a Node-RED node type, for example
// "mqtt-in" for "mqtt in" and "filter-on-change" for "rbe". Types whose names
// are the same in both, and types Runnel does not know, are returned
// unchanged, so RunnelType is safe to apply to a name that is already
// Runnel's.
func RunnelType(nodeRedType string) string {
	if t, ok := nodeREDNames[nodeRedType]; ok {
		return t
	}
	return nodeRedType
}

// NodeREDType returns Node-RED's name for a Runnel node type, for example
// "mqtt in" for "mqtt-in" and "rbe" for "filter-on-change". Other types are
// returned unchanged.
func NodeREDType(runnelType string) string {
	if t, ok := runnelNames[runnelType]; ok {
		return t
	}
	return runnelType
}
