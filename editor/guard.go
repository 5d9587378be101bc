package editor

// Protection against web pages. The admin API changes what runs, and with
// no editor users (the default) it needs no login, so a page open in a
// browser on the same machine must not be able to use it:
//
//   - DNS rebinding: a page on attacker.example whose name is made to
//     point at 127.0.0.1 talks to the editor as its own origin, reading
//     answers too. Every request's Host must therefore be a name of this
//     editor: the address the connection reached (its local IP and port),
//     localhost, 127.0.0.1 or [::1] with that port, or a configured name
//     (Options.AllowedHosts). Others are answered 421.
//   - Cross-site requests: a page on another origin can send a POST
//     without CORS (a form, or fetch with text/plain or no-cors) and can
//     open websockets. A state-changing request (POST, PUT, PATCH, DELETE,
//     and the /comms websocket upgrade) that a browser made from another
//     origin is answered 403: its Sec-Fetch-Site is cross-site or
//     same-site, or its Origin is neither the request's own (scheme, host
//     and port of Host) nor a configured one. Requests without Origin and
//     Sec-Fetch-Site, which browsers always send on such requests, come
//     from curl and scripts and pass.
//   - A request with a body must say Content-Type: application/json
//     (415 otherwise), so that no form or text/plain body is taken as
//     flows; /auth/token and /auth/revoke also take forms, as Node-RED's.

import (
	"context"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// allowEntry is one Options.AllowedHosts entry: a host name or address
// (any port), host:port, or an origin scheme://host[:port].
type allowEntry struct {
	any    bool   // "*": every host and origin
	scheme string // set for an origin entry
	host   string // lower case, no brackets
	port   string // "" for any port
}

// parseAllowed checks the AllowedHosts entries.
func parseAllowed(list []string) ([]allowEntry, error) {
	var out []allowEntry
	for _, s := range list {
		e, err := parseAllowEntry(s)
		if err != nil {
			return nil, fmt.Errorf("editor allowed_hosts %q: %w", s, err)
		}
		out = append(out, e)
	}
	return out, nil
}

func parseAllowEntry(s string) (allowEntry, error) {
	s = strings.TrimSpace(s)
	if s == "*" {
		return allowEntry{any: true}, nil
	}
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" {
			return allowEntry{}, fmt.Errorf("an origin must be http://HOST[:PORT] or https://HOST[:PORT]")
		}
		host, port := splitHost(u.Host, defaultPort(u.Scheme))
		return allowEntry{scheme: u.Scheme, host: host, port: port}, nil
	}
	if s == "" || strings.ContainsAny(s, "/?#@ ") {
		return allowEntry{}, fmt.Errorf("must be a host name, host:port, or an origin such as https://runnel.example")
	}
	host, port := splitHost(s, "")
	if host == "" {
		return allowEntry{}, fmt.Errorf("no host name")
	}
	return allowEntry{host: host, port: port}, nil
}

func defaultPort(scheme string) string {
	if scheme == "https" {
		return "443"
	}
	return "80"
}

// splitHost splits a Host header or an origin's host into a lower-case
// host (without brackets or a trailing dot) and a port, def when it has
// none.
func splitHost(hp, def string) (host, port string) {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		host, port = strings.TrimSuffix(strings.TrimPrefix(hp, "["), "]"), def
	}
	return strings.TrimSuffix(strings.ToLower(host), "."), port
}

// hostAllowed reports whether r's Host names this editor. An origin
// entry allows its host name on any port: behind a proxy that terminates
// TLS, a browser's https://runnel.example reaches the editor as plain HTTP
// with Host runnel.example (port 80 here, 443 in the Origin).
func (a *API) hostAllowed(r *http.Request) bool {
	host, port := splitHost(r.Host, defaultPort(scheme(r)))
	for _, e := range a.allowed {
		if e.any || e.host == host && (e.port == "" || e.scheme != "" || e.port == port) {
			return true
		}
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	tcp, ok := local.(*net.TCPAddr)
	if !ok {
		return false
	}
	if port != fmt.Sprint(tcp.Port) {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.Equal(tcp.IP))
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// crossOrigin returns why a state-changing request r comes from a page
// on another origin, or "" if it does not; allowed are the configured
// hosts and origins.
func crossOrigin(r *http.Request, allowed []allowEntry) string {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none": // the browser vouches for it
		return ""
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
			return "a browser sent it from a page on another site (Sec-Fetch-Site: " + site + ")"
		}
		return "" // not from a browser: curl, scripts
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Sprintf("its Origin %q is not this editor", origin)
	}
	oh, op := splitHost(u.Host, defaultPort(u.Scheme))
	rh, rp := splitHost(r.Host, defaultPort(scheme(r)))
	if u.Scheme == scheme(r) && oh == rh && op == rp {
		return ""
	}
	for _, e := range allowed {
		if e.any || e.host == oh && (e.scheme == "" || e.scheme == u.Scheme) && (e.port == "" || e.port == op) {
			return ""
		}
	}
	return fmt.Sprintf("its Origin %s is not this editor (%s://%s)", origin, scheme(r), r.Host)
}

// formPaths take form-encoded bodies as well as JSON, as Node-RED's do.
var formPaths = map[string]bool{"/auth/token": true, "/auth/revoke": true}

// originCheckedKey marks a request whose origin the API has checked, so
// that the hub's websocket upgrader need not check it again.
type originCheckedKey struct{}

// guard applies the checks above before h.
func (a *API) guard(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.hostAllowed(r) {
			a.log.Warn("editor request refused: unknown Host", "host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path)
			writeAuthError(w, http.StatusMisdirectedRequest, "unknown_host",
				fmt.Sprintf("Host %q is not a name of this editor (DNS rebinding protection): use its address, localhost, or add the name to [editor] allowed_hosts", r.Host))
			return
		}
		changes := r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != http.MethodOptions
		upgrade := strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
		if changes || upgrade {
			if why := crossOrigin(r, a.allowed); why != "" {
				a.log.Warn("editor request refused: cross-origin", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "method", r.Method, "path", r.URL.Path)
				writeAuthError(w, http.StatusForbidden, "cross_origin",
					fmt.Sprintf("%s %s refused: %s; add the origin to [editor] allowed_hosts if it should be allowed", r.Method, r.URL.Path, why))
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), originCheckedKey{}, true))
		}
		if changes && r.ContentLength != 0 {
			ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
			json := ct == "application/json"
			if !json && !(formPaths[r.URL.Path] && (ct == "application/x-www-form-urlencoded")) {
				want := "application/json"
				if formPaths[r.URL.Path] {
					want += " or application/x-www-form-urlencoded"
				}
				writeAuthError(w, http.StatusUnsupportedMediaType, "unsupported_media_type",
					fmt.Sprintf("%s %s: Content-Type %q: the body must be %s", r.Method, r.URL.Path, r.Header.Get("Content-Type"), want))
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}
