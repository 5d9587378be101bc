package editor

// Editor and admin API authentication, shaped like Node-RED's adminAuth so
// that Node-RED users and their scripts recognise it:
//
//	GET  /auth/login   {} when no login is needed, else the credential prompts
//	POST /auth/token   grant_type=password, username, password, client_id, scope
//	                   → {"access_token","expires_in","token_type":"Bearer"}
//	POST /auth/revoke  token=… (a session token): logs it out
//	GET  /auth/me      who the bearer token belongs to, and its role
//
// Every other admin API call carries "Authorization: Bearer TOKEN", where
// TOKEN is a session token from POST /auth/token or a configured admin API
// token. A role is full (everything) or read (every GET; changes answer
// 403). With no users and no tokens configured there is no authentication.

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/runnel-io/runnel/engine/config/defaults"
)

// Role is what an authenticated user or token may do.
type Role string

// The roles.
const (
	// RoleFull may read and change everything.
	RoleFull Role = "full"
	// RoleRead may read everything (every GET) and change nothing.
	RoleRead Role = "read"
)

// ParseRole checks a role name from configuration: "full" or "read".
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleFull, RoleRead:
		return r, nil
	}
	return "", fmt.Errorf("role %q: must be full or read", s)
}

// User is an editor user who logs in with a name and password.
type User struct {
	// Name is the login name.
	Name string
	// PasswordHash is the bcrypt hash of the password ($2a$, $2b$ or $2y$).
	PasswordHash string
	// Role is RoleFull or RoleRead.
	Role Role
}

// Token is an admin API token for automation: long-lived, sent as
// "Authorization: Bearer TOKEN" like a session token.
type Token struct {
	// Name identifies the token in logs and revisions ("ci").
	Name string
	// Hash is HashToken(token) ("sha256:" and 64 hex digits; cheap to check
	// on every call, and safe because tokens are long and random) or a
	// bcrypt hash of the token (checked once, then remembered while the
	// process runs).
	Hash string
	// Role is RoleFull or RoleRead.
	Role Role
}

// DefaultSessionTTL is how long a login lasts unless Options.SessionTTL
// says otherwise (defaults.EditorSessionTTL, which config starts from too).
const DefaultSessionTTL = defaults.EditorSessionTTL

// HashToken returns the hash of an admin API token to put in Token.Hash:
// "sha256:" followed by the hex SHA-256 of the token.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// NewToken returns a new random admin API token (256 bits, URL-safe
// base64) and its hash for Token.Hash.
func NewToken() (token, hash string, err error) {
	token, err = randomToken()
	if err != nil {
		return "", "", err
	}
	return token, HashToken(token), nil
}

func randomToken() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// Brute-force limits on POST /auth/token. Each user name and each remote
// address may fail freeAttempts times; after that each further attempt
// must wait 2^(failures-freeAttempts) seconds (at most maxLockout) after
// the last failure, and is answered 429 with Retry-After until then. A
// successful login clears its user's and address's record; records are
// forgotten failureMemory after their last failure.
const (
	freeAttempts  = 5
	maxLockout    = 5 * time.Minute
	failureMemory = 15 * time.Minute
	maxFailures   = 10000 // records kept at most; the oldest are swept first
	maxSessions   = 10000 // live sessions at most; logins beyond answer 503
)

// principal is who made an authenticated request.
type principal struct {
	name    string // user or token name
	role    Role
	session [32]byte // sha256 of the session token; zero for API tokens
}

type principalKey struct{}

// userFrom returns the authenticated principal of a request, if any.
func userFrom(ctx context.Context) (principal, bool) {
	p, ok := ctx.Value(principalKey{}).(principal)
	return p, ok
}

type session struct {
	user    string
	role    Role
	expires time.Time
}

type failure struct {
	count int
	last  time.Time
}

// authenticator checks logins and bearer tokens. The zero value is not
// used: see newAuthenticator.
type authenticator struct {
	users  map[string]User
	tokens []Token
	ttl    time.Duration
	log    *slog.Logger
	now    func() time.Time
	dummy  []byte // a bcrypt hash to compare against for unknown users

	mu       sync.Mutex
	sessions map[[32]byte]session
	failures map[string]failure
	bcrypted map[[32]byte]int // sha256 of a bcrypt-hashed API token → index in tokens

	hasBcryptTokens bool
}

// newAuthenticator checks the configured users and tokens; it returns nil
// when there are none (no authentication).
func newAuthenticator(users []User, tokens []Token, ttl time.Duration, log *slog.Logger) (*authenticator, error) {
	if len(users) == 0 && len(tokens) == 0 {
		return nil, nil
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	a := &authenticator{
		users:    make(map[string]User, len(users)),
		ttl:      ttl,
		log:      log,
		now:      time.Now,
		sessions: make(map[[32]byte]session),
		failures: make(map[string]failure),
		bcrypted: make(map[[32]byte]int),
	}
	// An unknown user costs a comparison with a dummy hash of the highest
	// cost in use, so that answer times do not tell which names exist.
	cost := bcrypt.DefaultCost
	for i, u := range users {
		if u.Name == "" {
			return nil, fmt.Errorf("editor user %d: empty name", i+1)
		}
		if _, dup := a.users[u.Name]; dup {
			return nil, fmt.Errorf("editor user %q: defined twice", u.Name)
		}
		c, err := bcrypt.Cost([]byte(u.PasswordHash))
		if err != nil {
			return nil, fmt.Errorf("editor user %q: password_hash is not a bcrypt hash: %w", u.Name, err)
		}
		if i == 0 || c > cost {
			cost = c
		}
		if _, err := ParseRole(string(u.Role)); err != nil {
			return nil, fmt.Errorf("editor user %q: %w", u.Name, err)
		}
		a.users[u.Name] = u
	}
	for i, t := range tokens {
		if t.Name == "" {
			return nil, fmt.Errorf("editor token %d: empty name", i+1)
		}
		if h, ok := strings.CutPrefix(t.Hash, "sha256:"); ok {
			if b, err := hex.DecodeString(h); err != nil || len(b) != sha256.Size {
				return nil, fmt.Errorf("editor token %q: token_hash: sha256: must be followed by 64 hex digits", t.Name)
			}
		} else if _, err := bcrypt.Cost([]byte(t.Hash)); err != nil {
			return nil, fmt.Errorf("editor token %q: token_hash must be sha256:HEX or a bcrypt hash", t.Name)
		} else {
			a.hasBcryptTokens = true
		}
		if _, err := ParseRole(string(t.Role)); err != nil {
			return nil, fmt.Errorf("editor token %q: %w", t.Name, err)
		}
	}
	a.tokens = append([]Token(nil), tokens...)
	dummy, err := bcrypt.GenerateFromPassword([]byte("runnel: no such user"), cost)
	if err != nil {
		return nil, fmt.Errorf("editor auth: %w", err)
	}
	a.dummy = dummy
	return a, nil
}

// errLocked is a login refused because of earlier failures.
type errLocked struct{ wait time.Duration }

func (e errLocked) Error() string {
	return fmt.Sprintf("too many failed logins: try again in %s", e.wait.Round(time.Second))
}

var errBadLogin = errors.New("wrong username or password")

// lockout returns how long key must still wait; a.mu held.
func (a *authenticator) lockout(key string, now time.Time) time.Duration {
	f, ok := a.failures[key]
	if !ok || f.count < freeAttempts {
		return 0
	}
	wait := time.Duration(math.Pow(2, float64(f.count-freeAttempts))) * time.Second
	if wait > maxLockout || wait <= 0 {
		wait = maxLockout
	}
	return f.last.Add(wait).Sub(now)
}

// login checks a name and password from remote and starts a session.
// The attempt counts as a failure for the name and the address from the
// moment it is let through, before the password is checked, so that
// attempts made at once (from many addresses, or many connections) cannot
// all pass the check before any of them has failed; a success takes it
// back.
func (a *authenticator) login(name, password, remote string, scope Role) (token string, ttl time.Duration, err error) {
	keys := [2]string{"user:" + name, "remote:" + remote}
	now := a.now()
	a.mu.Lock()
	for _, k := range keys {
		if w := a.lockout(k, now); w > 0 {
			a.mu.Unlock()
			return "", 0, errLocked{w}
		}
	}
	a.sweepFailures(now)
	for _, k := range keys {
		f := a.failures[k]
		a.failures[k] = failure{count: f.count + 1, last: now}
	}
	a.mu.Unlock()
	u, known := a.users[name]
	hash := a.dummy
	if known {
		hash = []byte(u.PasswordHash)
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && known
	now = a.now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !ok {
		for _, k := range keys {
			if f, ok := a.failures[k]; ok {
				a.failures[k] = failure{count: f.count, last: now}
			}
		}
		a.log.Warn("editor login failed", slog.String("user", name), slog.String("remote", remote),
			slog.Int("failures", a.failures[keys[0]].count))
		return "", 0, errBadLogin
	}
	for _, k := range keys {
		delete(a.failures, k)
	}
	a.sweepSessions(now)
	if len(a.sessions) >= maxSessions {
		return "", 0, errors.New("too many open sessions: try again later")
	}
	token, err = randomToken()
	if err != nil {
		return "", 0, err
	}
	role := u.Role
	if scope == RoleRead {
		role = RoleRead
	}
	a.sessions[sha256.Sum256([]byte(token))] = session{user: name, role: role, expires: now.Add(a.ttl)}
	a.log.Info("editor login", slog.String("user", name), slog.String("role", string(role)), slog.String("remote", remote))
	return token, a.ttl, nil
}

// sweepFailures forgets old failure records; a.mu held.
func (a *authenticator) sweepFailures(now time.Time) {
	if len(a.failures) < maxFailures {
		return
	}
	for k, f := range a.failures {
		if now.Sub(f.last) > failureMemory {
			delete(a.failures, k)
		}
	}
	if len(a.failures) >= maxFailures {
		// Still full: someone tries many names or addresses. Forget
		// those not locked out yet, so that filling the table with new
		// names does not unlock a name under attack.
		for k, f := range a.failures {
			if f.count < freeAttempts {
				delete(a.failures, k)
			}
		}
	}
	if len(a.failures) >= maxFailures {
		// Still full: start over rather than grow without bound; the
		// bcrypt cost still slows them.
		clear(a.failures)
	}
}

// sweepSessions drops expired sessions; a.mu held.
func (a *authenticator) sweepSessions(now time.Time) {
	for k, s := range a.sessions {
		if now.After(s.expires) {
			delete(a.sessions, k)
		}
	}
}

// check returns who a bearer token from remote belongs to. Sessions and
// sha256 tokens cost a hash; a token that matches neither is compared with
// every bcrypt-hashed API token, which is slow on purpose, so those
// failures are counted per remote as failed logins are, and a remote over
// the limit gets no bcrypt comparison at all until its wait is over (a
// token that matched once is remembered and not affected).
func (a *authenticator) check(token, remote string) (principal, bool) {
	if token == "" {
		return principal{}, false
	}
	sum := sha256.Sum256([]byte(token))
	a.mu.Lock()
	s, ok := a.sessions[sum]
	if ok && a.now().After(s.expires) {
		delete(a.sessions, sum)
		ok = false
	}
	idx, cached := a.bcrypted[sum]
	a.mu.Unlock()
	if ok {
		return principal{name: s.user, role: s.role, session: sum}, true
	}
	if cached {
		t := a.tokens[idx]
		return principal{name: t.Name, role: t.Role}, true
	}
	want := "sha256:" + hex.EncodeToString(sum[:])
	for _, t := range a.tokens {
		if strings.HasPrefix(t.Hash, "sha256:") && subtle.ConstantTimeCompare([]byte(t.Hash), []byte(want)) == 1 {
			return principal{name: t.Name, role: t.Role}, true
		}
	}
	if !a.hasBcryptTokens {
		return principal{}, false
	}
	key := "bearer:" + remote
	a.mu.Lock()
	locked := a.lockout(key, a.now()) > 0
	a.mu.Unlock()
	if locked {
		return principal{}, false
	}
	for i, t := range a.tokens {
		if strings.HasPrefix(t.Hash, "$2") && bcrypt.CompareHashAndPassword([]byte(t.Hash), []byte(token)) == nil {
			a.mu.Lock()
			a.bcrypted[sum] = i
			a.mu.Unlock()
			return principal{name: t.Name, role: t.Role}, true
		}
	}
	a.mu.Lock()
	now := a.now()
	a.sweepFailures(now)
	f := a.failures[key]
	a.failures[key] = failure{count: f.count + 1, last: now}
	a.mu.Unlock()
	return principal{}, false
}

// revoke ends the session of token; it reports whether there was one.
func (a *authenticator) revoke(token string) bool {
	sum := sha256.Sum256([]byte(token))
	a.mu.Lock()
	defer a.mu.Unlock()
	s, ok := a.sessions[sum]
	if ok {
		delete(a.sessions, sum)
		a.log.Info("editor logout", slog.String("user", s.user))
	}
	return ok
}

// bearer returns the token of an "Authorization: Bearer TOKEN" header.
func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

// remoteHost is the address part of r.RemoteAddr. Proxies' forwarding
// headers are not trusted.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// authError is the body of a 401 or 403 answer.
type authError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

func writeAuthError(w http.ResponseWriter, code int, kind, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="runnel"`)
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(authError{Error: kind, Message: msg})
}

// need wraps h so that it runs only for a request whose bearer token has
// at least role (RoleRead: any authenticated caller; RoleFull: a full
// one). Without authentication configured h always runs.
func (a *API) need(role Role, h http.Handler) http.Handler {
	if a.auth == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := a.auth.check(bearer(r), remoteHost(r))
		if !ok {
			writeAuthError(w, http.StatusUnauthorized, "unauthorized",
				"log in first: send Authorization: Bearer TOKEN, a token from POST /auth/token or an admin API token")
			return
		}
		if role == RoleFull && p.role != RoleFull {
			writeAuthError(w, http.StatusForbidden, "forbidden",
				fmt.Sprintf("%q has the read role: %s %s needs the full role", p.name, r.Method, r.URL.Path))
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

// handle registers a handler that needs role.
func (a *API) handle(pattern string, role Role, h http.HandlerFunc) {
	a.mux.Handle(pattern, a.need(role, h))
}

// mountAuth adds the /auth endpoints.
func (a *API) mountAuth() {
	a.mux.HandleFunc("GET /auth/login", a.getLogin)
	a.mux.HandleFunc("POST /auth/token", a.postToken)
	a.handle("POST /auth/revoke", RoleRead, a.postRevoke)
	a.handle("GET /auth/me", RoleRead, a.getMe)
}

func writeAuthJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// loginPrompt is one field of the login form, as Node-RED describes it.
type loginPrompt struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Label string `json:"label"`
}

func (a *API) getLogin(w http.ResponseWriter, r *http.Request) {
	if a.auth == nil {
		writeAuthJSON(w, http.StatusOK, struct{}{})
		return
	}
	writeAuthJSON(w, http.StatusOK, struct {
		Type    string        `json:"type"`
		Prompts []loginPrompt `json:"prompts"`
	}{"credentials", []loginPrompt{
		{ID: "username", Type: "text", Label: "Username"},
		{ID: "password", Type: "password", Label: "Password"},
	}})
}

// maxAuthBody bounds the body of the /auth requests.
const maxAuthBody = 8 << 10

// formValues reads a form-encoded or JSON object body into a map of
// strings, as Node-RED accepts both.
func formValues(w http.ResponseWriter, r *http.Request) (map[string]string, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxAuthBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	out := map[string]string{}
	if ct == "application/json" {
		var m map[string]any
		if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
		for k, v := range m {
			if s, ok := v.(string); ok {
				out[k] = s
			}
		}
		return out, nil
	}
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	for k := range r.PostForm {
		out[k] = r.PostForm.Get(k)
	}
	return out, nil
}

func (a *API) postToken(w http.ResponseWriter, r *http.Request) {
	if a.auth == nil {
		writeAuthJSON(w, http.StatusNotFound, authError{"not_found", "no editor users are configured: the admin API needs no login"})
		return
	}
	f, err := formValues(w, r)
	if err != nil {
		writeAuthJSON(w, http.StatusBadRequest, authError{"invalid_request", err.Error()})
		return
	}
	if gt := f["grant_type"]; gt != "password" {
		writeAuthJSON(w, http.StatusBadRequest, authError{"unsupported_grant_type", fmt.Sprintf("grant_type %q: only password is supported", gt)})
		return
	}
	if f["username"] == "" {
		writeAuthJSON(w, http.StatusBadRequest, authError{"invalid_request", "username is missing"})
		return
	}
	scope := RoleFull
	switch f["scope"] {
	case "", "*":
	case "read":
		scope = RoleRead
	default:
		writeAuthJSON(w, http.StatusBadRequest, authError{"invalid_scope", fmt.Sprintf("scope %q: must be * or read", f["scope"])})
		return
	}
	token, ttl, err := a.auth.login(f["username"], f["password"], remoteHost(r), scope)
	var locked errLocked
	switch {
	case errors.As(err, &locked):
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(locked.wait.Seconds()))))
		writeAuthJSON(w, http.StatusTooManyRequests, authError{"too_many_attempts", err.Error()})
		return
	case errors.Is(err, errBadLogin):
		writeAuthJSON(w, http.StatusUnauthorized, authError{"invalid_grant", err.Error()})
		return
	case err != nil:
		writeAuthJSON(w, http.StatusServiceUnavailable, authError{"unavailable", err.Error()})
		return
	}
	writeAuthJSON(w, http.StatusOK, struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int64  `json:"expires_in"`
		TokenType   string `json:"token_type"`
	}{token, int64(ttl / time.Second), "Bearer"})
}

// postRevoke ends a session: the token in the body (token=…), or else the
// caller's own. Admin API tokens cannot be revoked this way (remove them
// from the configuration).
func (a *API) postRevoke(w http.ResponseWriter, r *http.Request) {
	f, err := formValues(w, r)
	if err != nil && r.ContentLength != 0 {
		writeAuthJSON(w, http.StatusBadRequest, authError{"invalid_request", err.Error()})
		return
	}
	if a.auth == nil {
		writeAuthJSON(w, http.StatusOK, struct{}{})
		return
	}
	token := f["token"]
	if token == "" {
		token = bearer(r)
	}
	a.auth.revoke(token)
	if a.opts.Live != nil {
		a.opts.Live.revoked(sha256.Sum256([]byte(token)))
	}
	writeAuthJSON(w, http.StatusOK, struct{}{})
}

func (a *API) getMe(w http.ResponseWriter, r *http.Request) {
	p, ok := userFrom(r.Context())
	if !ok {
		p.role = RoleFull // no authentication: everyone may do everything
	}
	perm := "*"
	if p.role == RoleRead {
		perm = "read"
	}
	writeAuthJSON(w, http.StatusOK, map[string]any{"user": map[string]string{"username": p.name, "role": string(p.role), "permissions": perm}})
}
