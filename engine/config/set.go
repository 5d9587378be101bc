package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2"
)

// EnvVar ties an environment variable to the setting it overrides.
type EnvVar struct {
	Name    string // RUNNEL_MQTT
	Setting string // broker.tcp
}

// EnvVars are the settings that RUNNEL_* environment variables override.
// RUNNEL_CONFIG and RUNNEL_DATA, which choose the file and the data
// directory, are read by the command line itself.
var EnvVars = []EnvVar{
	{"RUNNEL_LOG_LEVEL", "log_level"},
	{"RUNNEL_MQTT", "broker.tcp"},
	{"RUNNEL_MQTT_TLS", "broker.tls"},
	{"RUNNEL_MQTT_WS", "broker.ws"},
	{"RUNNEL_MQTT_WSS", "broker.wss"},
	{"RUNNEL_TLS_CERT", "broker.tls_cert"},
	{"RUNNEL_TLS_KEY", "broker.tls_key"},
	{"RUNNEL_TLS_CLIENT_CA", "broker.tls_client_ca"},
	{"RUNNEL_ALLOW_ANONYMOUS", "broker.allow_anonymous"},
	{"RUNNEL_MAX_CONNECTIONS", "broker.max_connections"},
	{"RUNNEL_HTTP", "editor.http"},
	{"RUNNEL_EDITOR_ALLOW_ANONYMOUS", "editor.allow_anonymous"},
	{"RUNNEL_CREDENTIAL_SECRET", "edge.credential_secret"},
	{"RUNNEL_FILES_DIR", "files.dir"},
	{"RUNNEL_NODES_LISTEN_ALL", "nodes.listen_all"},
	{"RUNNEL_NODES_EXEC", "nodes.exec"},
}

// ApplyEnv sets every setting whose environment variable (EnvVars) is set
// and not empty; getenv is os.Getenv in production.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	var errs []error
	for _, e := range EnvVars {
		if v := getenv(e.Name); v != "" {
			if err := c.Set(e.Name, e.Setting, v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Set sets one setting, named by its dotted name (broker.tcp), from a
// string, with the same checks as in the file. source names where the
// value came from ("RUNNEL_MQTT", "--mqtt") in errors. Booleans are
// true/false (or 1/0), numbers are decimal, everything else is taken as a
// string: "64MiB", "24h", "0.0.0.0:1883".
func (c *Config) Set(source, setting, value string) error {
	fail := func(format string, args ...any) error {
		return &Error{Source: source, Setting: setting, Problem: fmt.Sprintf(format, args...)}
	}
	section, name, nested := strings.Cut(setting, ".")
	if !nested {
		section, name = "", setting
	}
	kind, ok := settingKind(section, name)
	if !ok {
		return fail("unknown setting")
	}
	var lit string
	switch {
	case kind == reflect.Bool:
		b, err := strconv.ParseBool(value)
		if err != nil {
			return fail("must be true or false, got %q", value)
		}
		lit = strconv.FormatBool(b)
	case kind == reflect.Int:
		if _, err := strconv.ParseInt(value, 10, 64); err != nil {
			return fail("must be a whole number, got %q", value)
		}
		lit = value
	case kind == reflect.Int64 && isDigits(value): // a Size in bytes, or a Duration in seconds
		lit = value
	default:
		q, err := toml.Marshal(map[string]string{"v": value})
		if err != nil {
			return fail("%v", err)
		}
		lit = strings.TrimSpace(strings.TrimPrefix(string(q), "v = "))
	}
	doc := name + " = " + lit + "\n"
	if section != "" {
		doc = "[" + section + "]\n" + doc
	}
	dec := toml.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		var e *Error
		if errors.As(decodeError(source, err, nil), &e) {
			return fail("%s", e.Problem)
		}
		return fail("%v", err)
	}
	if c.where == nil {
		c.where = map[string]string{}
	}
	c.where[setting] = source
	return nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// settingKind finds the field for a [section] name and returns its kind;
// sections and arrays of tables cannot be set this way.
func settingKind(section, name string) (reflect.Kind, bool) {
	t := reflect.TypeFor[Config]()
	if section != "" {
		f, ok := fieldByTag(t, section)
		if !ok || f.Type.Kind() != reflect.Struct {
			return 0, false
		}
		t = f.Type
	}
	f, ok := fieldByTag(t, name)
	if !ok {
		return 0, false
	}
	if reflect.PointerTo(f.Type).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return reflect.Int64, true // Size or Duration: a number or a string with a unit
	}
	switch k := f.Type.Kind(); k {
	case reflect.Bool, reflect.Int, reflect.String:
		return k, true
	default:
		return 0, false
	}
}

func fieldByTag(t reflect.Type, tag string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if name, _, _ := strings.Cut(f.Tag.Get("toml"), ","); name == tag {
			return f, true
		}
	}
	return reflect.StructField{}, false
}
