package editor

import "net/http"

// SessionHeader names the browser editor session that sends a request: a
// random id each editor page makes when it loads. The deploy event echoes
// it (Hub.DeployedBy), so that an editor can tell its own deploys from
// those of other sessions, even when the event arrives before the answer to
// its POST /flows.
const SessionHeader = "Runnel-Session"

// SessionOf returns the editor session of r: its Runnel-Session header
// when that is 1 to 64 letters, digits, '-' or '_', else "" (a request
// from another client, or a header not worth echoing to every editor).
func SessionOf(r *http.Request) string {
	s := r.Header.Get(SessionHeader)
	if len(s) == 0 || len(s) > 64 {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return ""
		}
	}
	return s
}
