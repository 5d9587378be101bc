package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The example file documents every setting with its default: it must parse
// and give exactly the defaults.
func TestExampleIsDefaults(t *testing.T) {
	c, err := Load(filepath.Join("..", "..", "examples", "runnel.toml"))
	if err != nil {
		t.Fatal(err)
	}
	d := Default()
	c.File, c.where, d.where = "", nil, nil
	if !reflect.DeepEqual(c, d) {
		t.Errorf("examples/runnel.toml differs from Default():\n file    %+v\n default %+v", c, d)
	}
}

func TestReadFull(t *testing.T) {
	doc := `
log_level = "debug"
[broker]
tcp = ":1883"
tls = "0.0.0.0:8883"
tls_cert = "/etc/runnel/cert.pem"
tls_key = "/etc/runnel/key.pem"
tls_client_ca = "/etc/runnel/ca.pem"
ws = "127.0.0.1:8080"
allow_anonymous = true
max_packet_size = "256KiB"
max_connections = 500
max_inflight = 20
max_queued = 128
max_queued_bytes = "2MiB"
keepalive_min = 5
keepalive_max = 600
connect_timeout = "3s"
message_expiry_max = "1h"
session_expiry_max = "720h"
flows_user = "flows"

[[broker.users]]
name = "sensor1"
password_hash = "$2a$10$abc"

[[broker.acl]]
user = "sensor1"
topic = "sensors/%u/#"
access = "write"

[[broker.acl]]
topic = "public/#"
access = "read"

[editor]
http = "0.0.0.0:1880"
session_ttl = "30m"
[[editor.users]]
name = "admin"
password_hash = "$2a$10$def"
[[editor.users]]
name = "viewer"
password_hash = "$2a$10$ghi"
role = "read"
[[editor.tokens]]
name = "ci"
token_hash = "sha256:00"
role = "read"

[edge]
credential_secret = "s3cret"
queue_max_messages = 10
queue_max_bytes = 4096
queue_max_age = "90m"
`
	c := Default()
	if err := c.Read("runnel.toml", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	want := Broker{
		TCP: ":1883", TLS: "0.0.0.0:8883", TLSCert: "/etc/runnel/cert.pem", TLSKey: "/etc/runnel/key.pem",
		TLSClientCA: "/etc/runnel/ca.pem", WS: "127.0.0.1:8080", AllowAnonymous: true,
		MaxPacketSize: 256 << 10, MaxConnections: 500, MaxInflight: 20, MaxQueued: 128,
		MaxQueuedBytes: 2 << 20, KeepaliveMin: 5, KeepaliveMax: 600, ConnectTimeout: Dur(3 * time.Second),
		MessageExpiryMax: Dur(time.Hour), SessionExpiryMax: Dur(720 * time.Hour), FlowsUser: "flows",
		Users: []BrokerUser{{Name: "sensor1", PasswordHash: "$2a$10$abc"}},
		ACL: []ACLRule{{User: "sensor1", Topic: "sensors/%u/#", Access: AccessWrite},
			{Topic: "public/#", Access: AccessRead}},
	}
	if !reflect.DeepEqual(c.Broker, want) {
		t.Errorf("broker:\n got %+v\nwant %+v", c.Broker, want)
	}
	wantEd := Editor{HTTP: "0.0.0.0:1880", SessionTTL: Dur(30 * time.Minute),
		Users:  []EditorUser{{"admin", "$2a$10$def", RoleFull}, {"viewer", "$2a$10$ghi", RoleRead}},
		Tokens: []EditorToken{{"ci", "sha256:00", RoleRead}}}
	if !reflect.DeepEqual(c.Editor, wantEd) {
		t.Errorf("editor:\n got %+v\nwant %+v", c.Editor, wantEd)
	}
	wantEdge := Edge{CredentialSecret: "s3cret", QueueMaxMessages: 10, QueueMaxBytes: 4096, QueueMaxAge: Dur(90 * time.Minute)}
	if c.Edge != wantEdge || c.LogLevel != "debug" {
		t.Errorf("edge %+v, log level %q", c.Edge, c.LogLevel)
	}
	// Users and tokens count as configured, so this is not refused.
	if err := c.CheckExposure(true); err != nil {
		t.Error(err)
	}
}

// Every mistake names the file, the line and the setting.
func TestErrors(t *testing.T) {
	cases := []struct{ doc, want string }{
		{"[broker]\nmax_packet_size = \"lots\"\n",
			`runnel.toml:2: broker.max_packet_size: must be a size such as "1MiB", got "lots"`},
		{"[broker]\ntcp = \"1883\"\n",
			`runnel.toml:2: broker.tcp: must be an address such as "127.0.0.1:1883" or ":1883" ("" disables), got "1883"`},
		{"[broker]\ntcp = \"x:99999\"\n", `runnel.toml:2: broker.tcp: port must be a number from 0 to 65535, got "99999"`},
		{"[broker]\n\nmessage_expiry_max = \"1 day\"\n",
			`runnel.toml:3: broker.message_expiry_max: must be a duration such as "24h", "15m" or "30s", got "1 day"`},
		{"[broker]\nmessage_expiry_max = true\n",
			`runnel.toml:2: broker.message_expiry_max: must be a duration such as "24h" ("0": no cap)`},
		{"[broker]\nmax_connections = \"many\"\n", `runnel.toml:2: broker.max_connections: must be a whole number`},
		{"[broker]\nallow_anonymous = \"yes\"\n", `runnel.toml:2: broker.allow_anonymous: must be true or false`},
		{"[broker]\nmax_conections = 5\n", `runnel.toml:2: broker.max_conections: unknown setting`},
		{"[brokr]\ntcp = \"\"\n", `runnel.toml:1: brokr: unknown setting`},
		{"[broker]\n[[broker.acl]]\ntopic = \"a/#\"\naccess = \"all\"\n",
			`runnel.toml:4: broker.acl[0].access: must be one of read, write, readwrite, deny, got "all"`},
		{"[editor]\n[[editor.users]]\nname = \"a\"\npassword_hash = \"x\"\nrole = \"admin\"\n",
			`runnel.toml:5: editor.users[0].role: must be one of full, read, got "admin"`},
		{"log_level = \"loud\"\n", `runnel.toml:1: log_level: must be one of debug, info, warn, error, got "loud"`},
		{"[broker]\ntcp = \"a\"\ntcp = \"b\"\n", `runnel.toml:3: tcp: key tcp is already defined`},
		{"[broker\n", `runnel.toml:1: expected ']'`},
	}
	for _, c := range cases {
		cfg := Default()
		err := cfg.Read("runnel.toml", []byte(c.doc))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			t.Errorf("%q: no error, want %s", c.doc, c.want)
			continue
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q:\n got %s\nwant %s", c.doc, err, c.want)
		}
	}
}

func TestValidate(t *testing.T) {
	doc := `[broker]
tls = ":8883"
max_packet_size = 10
max_inflight = 0
keepalive_min = 70
keepalive_max = 60
session_expiry_max = "1.5s"

[[broker.users]]
name = "a"
password_hash = "$2a$x"
[[broker.users]]
name = "a"

[[broker.acl]]
user = "a"
client = "c"
topic = "a/#/b"
access = "read"
[[broker.acl]]
topic = "x"
`
	c := Default()
	if err := c.Read("/etc/runnel.toml", []byte(doc)); err != nil {
		t.Fatal(err)
	}
	got := c.Validate()
	want := strings.Join([]string{
		`/etc/runnel.toml:2: broker.tls: needs tls_cert and tls_key (PEM files) in [broker]`,
		`/etc/runnel.toml:3: broker.max_packet_size: must be between "1KiB" and "256MiB" (0: no limit), got 10`,
		`/etc/runnel.toml:4: broker.max_inflight: must be from 1 to 65535, got 0`,
		`/etc/runnel.toml:5: broker.keepalive_min: must not be above keepalive_max (60), got 70`,
		`/etc/runnel.toml:7: broker.session_expiry_max: must be whole seconds, got 1.5s`,
		`/etc/runnel.toml:13: broker.users[1].name: user "a" is configured twice`,
		`/etc/runnel.toml:12: broker.users[1].password_hash: user "a" needs a password_hash (write one with "runnel passwd")`,
		`/etc/runnel.toml:17: broker.acl[0].client: a rule names a user or a client, not both`,
		`/etc/runnel.toml:18: broker.acl[0].topic: invalid topic filter "a/#/b": '#' must be the last level on its own`,
		`/etc/runnel.toml:20: broker.acl[1].access: a rule needs access: read, write, readwrite or deny`,
	}, "\n")
	if got == nil || got.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", got, want)
	}
}

func TestEnvAndSet(t *testing.T) {
	c := Default()
	if err := c.Read("runnel.toml", []byte("[broker]\ntcp = \"127.0.0.1:1\"\nmax_connections = 3\n")); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"RUNNEL_MQTT":              "0.0.0.0:2883",
		"RUNNEL_ALLOW_ANONYMOUS":   "true",
		"RUNNEL_CREDENTIAL_SECRET": "12345",
		"RUNNEL_HTTP":              "",
	}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if c.Broker.TCP != "0.0.0.0:2883" || !c.Broker.AllowAnonymous || c.Edge.CredentialSecret != "12345" ||
		c.Broker.MaxConnections != 3 || c.Editor.HTTP != "127.0.0.1:1880" {
		t.Errorf("after env: %+v %+v %+v", c.Broker, c.Editor, c.Edge)
	}
	// A flag beats the environment.
	if err := c.Set("--mqtt", "broker.tcp", "127.0.0.1:3883"); err != nil {
		t.Fatal(err)
	}
	if c.Broker.TCP != "127.0.0.1:3883" {
		t.Errorf("tcp = %q", c.Broker.TCP)
	}
	for _, s := range []struct{ source, key, val, want string }{
		{"RUNNEL_ALLOW_ANONYMOUS", "broker.allow_anonymous", "maybe", `RUNNEL_ALLOW_ANONYMOUS: broker.allow_anonymous: must be true or false, got "maybe"`},
		{"RUNNEL_MAX_CONNECTIONS", "broker.max_connections", "10k", `RUNNEL_MAX_CONNECTIONS: broker.max_connections: must be a whole number, got "10k"`},
		{"--x", "broker.users", "a", `--x: broker.users: unknown setting`},
		{"--x", "broker.max_packet_size", "2MiB", ``},
		{"--x", "broker.max_packet_size", "4096", ``},
		{"--x", "broker.message_expiry_max", "0", ``},
		{"--x", "broker.message_expiry_max", "soon", `--x: broker.message_expiry_max: must be a duration such as "24h", "15m" or "30s", got "soon"`},
	} {
		err := c.Set(s.source, s.key, s.val)
		if (err == nil && s.want != "") || (err != nil && err.Error() != s.want) {
			t.Errorf("Set(%s, %s): got %v, want %q", s.key, s.val, err, s.want)
		}
	}
	if c.Broker.MaxPacketSize != 4096 || c.Broker.MessageExpiryMax.Duration != 0 {
		t.Errorf("max_packet_size %d, message_expiry_max %s", c.Broker.MaxPacketSize, c.Broker.MessageExpiryMax)
	}
	// Validate names the source of each value.
	c.Set("RUNNEL_MQTT_TLS", "broker.tls", ":8883")
	c.Set("RUNNEL_MQTT", "broker.tcp", "nowhere")
	want := `RUNNEL_MQTT: broker.tcp: must be an address such as "127.0.0.1:1883" or ":1883" ("" disables), got "nowhere"` + "\n" +
		"RUNNEL_MQTT_TLS: broker.tls: needs tls_cert and tls_key (PEM files) in [broker]"
	if err := c.Validate(); err == nil || err.Error() != want {
		t.Errorf("validate: %v", err)
	}
	c.Set("--x", "broker.message_expiry_max", "90")
	if c.Broker.MessageExpiryMax.Duration != 90*time.Second {
		t.Errorf("a bare number is seconds: got %s", c.Broker.MessageExpiryMax)
	}
}

func TestCheckExposure(t *testing.T) {
	c := Default()
	if err := c.CheckExposure(true); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	for _, a := range []string{"localhost:1", "[::1]:1", "127.0.0.2:1", ""} {
		c.Set("--mqtt", "broker.tcp", a)
		if err := c.CheckExposure(true); err != nil {
			t.Errorf("%q refused: %v", a, err)
		}
	}
	c.Read("runnel.toml", []byte("[broker]\nws = \":8080\"\n[editor]\nhttp = \"0.0.0.0:1880\"\n"))
	err := c.CheckExposure(true)
	want := `runnel.toml:2: broker.ws: ":8080" is reachable from other machines, but no broker users are configured: ` +
		`add users with "runnel passwd" ([[broker.users]]), or allow anonymous clients with allow_anonymous = true in [broker] ` +
		`(RUNNEL_ALLOW_ANONYMOUS=true), or listen on 127.0.0.1` + "\n" +
		`runnel.toml:4: editor.http: "0.0.0.0:1880" is reachable from other machines, but no editor users are configured: ` +
		`add [[editor.users]] (hash passwords with "runnel passwd"), or allow anonymous access with allow_anonymous = true in [editor] ` +
		`(RUNNEL_EDITOR_ALLOW_ANONYMOUS=true), or listen on 127.0.0.1`
	if err == nil || err.Error() != want {
		t.Errorf("got:\n%v\nwant:\n%s", err, want)
	}
	if err := c.CheckExposure(false); err == nil || strings.Contains(err.Error(), "editor") {
		t.Errorf("without the editor: %v", err)
	}
	c.Set("RUNNEL_ALLOW_ANONYMOUS", "broker.allow_anonymous", "1")
	c.Set("RUNNEL_EDITOR_ALLOW_ANONYMOUS", "editor.allow_anonymous", "1")
	if err := c.CheckExposure(true); err != nil {
		t.Errorf("allowed, still refused: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "none.toml"))
	if !os.IsNotExist(err) && (err == nil || !strings.Contains(err.Error(), "no such file")) {
		t.Errorf("err = %v", err)
	}
}

// FuzzRead: no input makes Read or Validate panic.
func FuzzRead(f *testing.F) {
	data, _ := os.ReadFile(filepath.Join("..", "..", "examples", "runnel.toml"))
	f.Add(data)
	f.Add([]byte("[broker]\nmax_packet_size = \"1MiB\"\n[[broker.users]]\nname='a'\n"))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := Default()
		if c.Read("f.toml", doc) == nil {
			c.Validate()
			c.CheckExposure(true)
		}
	})
}
