package editor

// Authentication of the live websocket. When the admin API needs a login,
// GET /comms is served through API.comms, which puts a wsAuth in the
// request's context. A client that sent a valid "Authorization: Bearer"
// header is in at once; a browser, which cannot set headers on a
// websocket, sends Node-RED's first frame {"auth":"TOKEN"} within
// authTimeout and is answered {"auth":"ok"}, or {"auth":"fail"} and a
// policy-violation close. No event reaches a client before that.

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
)

// authTimeout bounds the wait for a browser's first frame.
const authTimeout = 10 * time.Second

type wsAuthKey struct{}

// wsAuth is how a websocket request is authenticated.
type wsAuth struct {
	check func(token string) (principal, bool)
	// header is the principal of a valid Authorization header, if any.
	header *principal
}

// comms serves GET /comms: the hub, with the caller's authentication.
func (a *API) comms(w http.ResponseWriter, r *http.Request) {
	if a.auth == nil {
		a.opts.Live.ServeHTTP(w, r)
		return
	}
	remote := remoteHost(r)
	wa := wsAuth{check: func(token string) (principal, bool) { return a.auth.check(token, remote) }}
	if t := bearer(r); t != "" {
		p, ok := a.auth.check(t, remote)
		if !ok {
			writeAuthError(w, http.StatusUnauthorized, "unauthorized", "invalid or expired token")
			return
		}
		wa.header = &p
	}
	a.opts.Live.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), wsAuthKey{}, wa)))
}

// authenticate runs the first-frame handshake of a connection whose
// request needs one; it returns the session the connection belongs to
// (zero for an admin API token or no authentication).
func authenticate(ctx context.Context, conn *websocket.Conn) ([32]byte, error) {
	wa, ok := ctx.Value(wsAuthKey{}).(wsAuth)
	if !ok {
		return [32]byte{}, nil
	}
	if wa.header != nil {
		return wa.header.session, nil
	}
	conn.SetReadLimit(maxClientFrame)
	conn.SetReadDeadline(time.Now().Add(authTimeout))
	var first struct {
		Auth string `json:"auth"`
	}
	typ, b, err := conn.ReadMessage()
	if err == nil && typ == websocket.TextMessage {
		err = json.Unmarshal(b, &first)
	}
	p, ok := wa.check(first.Auth)
	conn.SetWriteDeadline(time.Now().Add(authTimeout))
	if err != nil || !ok {
		conn.WriteMessage(websocket.TextMessage, []byte(`{"auth":"fail"}`))
		conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "authentication failed"), time.Now().Add(goodbyeTimeout))
		return [32]byte{}, errors.New("websocket authentication failed")
	}
	if err := conn.WriteMessage(websocket.TextMessage, []byte(`{"auth":"ok"}`)); err != nil {
		return [32]byte{}, err
	}
	conn.SetWriteDeadline(time.Time{})
	return p.session, nil
}

// revoked disconnects the clients of a session that was logged out.
func (h *Hub) revoked(session [32]byte) {
	if session == ([32]byte{}) {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		if c.session == session {
			go c.goodbye()
		}
	}
}
