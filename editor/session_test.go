package editor

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestSessionOf(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("a", 65)
	for _, c := range []struct{ header, want string }{
		{"", ""},
		{"3f2a9c1e-77b0-4d2e-9a51-0c6d8e4f1a2b", "3f2a9c1e-77b0-4d2e-9a51-0c6d8e4f1a2b"},
		{"tab_1", "tab_1"},
		{long[:64], long[:64]},
		{long, ""},
		{`x"y`, ""},
		{"a b", ""},
		{"é", ""},
	} {
		r, _ := http.NewRequest(http.MethodPost, "/flows", nil)
		if c.header != "" {
			r.Header.Set(SessionHeader, c.header)
		}
		if got := SessionOf(r); got != c.want {
			t.Errorf("SessionOf(%q) = %q, want %q", c.header, got, c.want)
		}
	}
}

// The deploy event names the editor session whose POST /flows made it, so
// that editors can tell their own deploys from the others'; a deploy from
// any other client (no header, or one that is not a session id) names none.
func TestLiveDeploySession(t *testing.T) {
	t.Parallel()
	env := newLiveEnv(t, HubOptions{}, statusFlow)
	c := env.dial()
	c.next(3 * time.Second) // the snapshot
	deploy := func(session string) string {
		t.Helper()
		body := `[{"id":"tab1","type":"tab","label":"Flow 1"},{"id":"inj","type":"inject","z":"tab1","props":[{"p":"payload"}],"payload":"` + session + `","payloadType":"str","wires":[[]]}]`
		req, _ := http.NewRequest(http.MethodPost, env.srv.URL+"/flows", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Node-RED-API-Version", "v2")
		if session != "" {
			req.Header.Set(SessionHeader, session)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var dep struct{ Rev string }
		if resp.StatusCode != http.StatusOK || json.Unmarshal(rb, &dep) != nil || dep.Rev == "" {
			t.Fatalf("deploy: %d %s", resp.StatusCode, rb)
		}
		return dep.Rev
	}
	for _, c2 := range []struct{ session, want string }{
		{"s-1", `{"rev":"%s","session":"s-1"}`},
		{"", `{"rev":"%s"}`},
		{"not a session", `{"rev":"%s"}`},
	} {
		rev := deploy(c2.session)
		got := c.waitFor("deploy", 3*time.Second, nil)
		if want := strings.Replace(c2.want, "%s", rev, 1); string(got) != want {
			t.Errorf("deploy with session %q: event %s, want %s", c2.session, got, want)
		}
	}
}

// With users, the deploy event also names who deployed (as the revision
// history does).
func TestLiveDeployUser(t *testing.T) {
	t.Parallel()
	e := newAuthEnv(t)
	_, token := e.login("admin", "s3cret")
	ws := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/comms"
	c, _, err := websocket.DefaultDialer.Dial(ws, http.Header{"Authorization": {"Bearer " + ciToken}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	code, body, _ := e.do("POST", "/flows", token, authFlow, SessionHeader, "tab-2", "Node-RED-API-Version", "v2")
	if code != 200 {
		t.Fatalf("deploy: %d %s", code, body)
	}
	var dep struct{ Rev string }
	json.Unmarshal([]byte(body), &dep)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the deploy event: %v", err)
		}
		if i := strings.Index(string(b), `{"topic":"deploy"`); i >= 0 {
			want := `{"topic":"deploy","data":{"rev":"` + dep.Rev + `","session":"tab-2","user":"admin"}}`
			if !strings.HasPrefix(string(b[i:]), want) {
				t.Errorf("deploy event %s, want %s", b[i:], want)
			}
			break
		}
	}
}
