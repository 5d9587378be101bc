package common

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// InjectConfig is the configuration of an inject node. As in Node-RED the
// properties to set are listed in props; a payload or topic entry without
// its own value takes the node's payload/payloadType or topic.
type InjectConfig struct {
	Props       json.RawMessage `json:"props" label:"Properties" default:"[{\"p\":\"payload\"},{\"p\":\"topic\",\"vt\":\"str\"}]"`
	Payload     string          `json:"payload" label:"Payload"`
	PayloadType string          `json:"payloadType" label:"Payload type" default:"date" options:"date,str,num,bool,json,bin,env"`
	Topic       string          `json:"topic" label:"Topic"`
	Repeat      string          `json:"repeat" label:"Repeat every (s)" help:"Empty: do not repeat"`
	Crontab     string          `json:"crontab" label:"Crontab" kind:"hidden"`
	Once        bool            `json:"once" label:"Inject once at start"`
	OnceDelay   float64         `json:"onceDelay" label:"Start delay (s)" default:"0.1" min:"0" max:"2147483"`
}

type injectProp struct {
	path engine.Path
	val  string
	typ  string
}

// inject sends messages: once at start, every repeat seconds, or when the
// editor's button (Trigger) is pressed.
type inject struct {
	h      *engine.Host
	cfg    InjectConfig
	props  []injectProp
	repeat time.Duration
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "inject",
		Category: "common",
		Outputs:  1,
		Color:    "#a6bbcf",
		Help: `Injects a message into a flow: by pressing its button, once at start, or at a regular interval.

The payload can be a timestamp (milliseconds since 1970), a string, a number, a boolean, JSON, or an environment variable.`,
	}, newInject))
}

func newInject(cfg *InjectConfig, h *engine.Host) (engine.Node, error) {
	n := &inject{h: h, cfg: *cfg}
	var raw []struct {
		P  string `json:"p"`
		V  any    `json:"v"`
		VT string `json:"vt"`
	}
	if err := json.Unmarshal(cfg.Props, &raw); err != nil {
		return nil, engine.ErrFieldf("props", "must be a list of {p, v, vt}: %v", err)
	}
	for i, r := range raw {
		p, err := engine.ParsePath(r.P)
		if err != nil {
			return nil, engine.ErrFieldf("props", "entry %d: %v", i+1, err)
		}
		ip := injectProp{path: p, typ: r.VT}
		switch v := r.V.(type) {
		case string:
			ip.val = v
		case nil:
		default:
			ip.val = fmt.Sprint(v)
		}
		if r.V == nil && r.P == "payload" {
			ip.val, ip.typ = cfg.Payload, cfg.PayloadType
		} else if r.V == nil && r.P == "topic" {
			ip.val, ip.typ = cfg.Topic, "str"
		}
		if ip.typ == "" {
			ip.typ = "str"
		}
		if _, err := injectValue(ip.val, ip.typ); err != nil {
			return nil, engine.ErrFieldf("props", "%s: %v", r.P, err)
		}
		n.props = append(n.props, ip)
	}
	repeat, err := injectRepeat(cfg.Repeat)
	if err != nil {
		return nil, engine.ErrField("repeat", err)
	}
	n.repeat = repeat
	if n.cfg.OnceDelay == 0 {
		n.cfg.OnceDelay = 0.1 // Node-RED: (n.onceDelay || 0.1)
	}
	if strings.TrimSpace(cfg.Crontab) != "" {
		return nil, engine.ErrFieldf("crontab", "crontab schedules are not supported yet; use repeat")
	}
	return n, nil
}

// maxRepeat is Node-RED's bound on an inject node's repeat, in seconds
// (the largest whole number of seconds a JavaScript timer can wait).
const maxRepeat = 2147483

// minRepeat is the shortest repeat: Node.js runs a timer of less than a
// millisecond every millisecond, and so does Runnel.
const minRepeat = time.Millisecond

// injectRepeat reads a repeat setting in seconds as Node-RED's inject
// node does: empty or 0 for none, surrounding spaces ignored, a positive
// interval shorter than a millisecond clamped to one. What Node-RED's
// editor refuses (NaN, infinities, negative numbers, more than 2147483 s,
// text) is refused here too, where Node-RED's runtime would silently not
// repeat.
func injectRepeat(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return 0, nil
	}
	secs, err := strconv.ParseFloat(t, 64)
	// !(a && b) also catches NaN, for which every comparison is false.
	if err != nil || !(secs >= 0 && secs <= maxRepeat) {
		return 0, fmt.Errorf("%q is not a number of seconds from 0 to %d", s, maxRepeat)
	}
	if secs == 0 {
		return 0, nil
	}
	return max(time.Duration(secs*float64(time.Second)), minRepeat), nil
}

// injectValue converts a typed value as Node-RED's typed inputs do.
func injectValue(val, typ string) (any, error) {
	switch typ {
	case "date":
		return float64(time.Now().UnixMilli()), nil
	case "str", "":
		return val, nil
	case "num":
		f, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", val)
		}
		return f, nil
	case "bool":
		return val == "true", nil
	case "json":
		if strings.TrimSpace(val) == "" {
			val = "{}"
		}
		v, err := engine.ParseJSON([]byte(val))
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %v", err)
		}
		return v, nil
	case "bin":
		var bs []byte
		if err := json.Unmarshal([]byte(val), &bs); err == nil {
			return bs, nil
		}
		var ints []int
		if err := json.Unmarshal([]byte(val), &ints); err != nil {
			return nil, fmt.Errorf("a buffer must be a JSON array of bytes")
		}
		bs = make([]byte, len(ints))
		for i, x := range ints {
			bs[i] = byte(x)
		}
		return bs, nil
	case "env":
		return os.Getenv(val), nil
	}
	return nil, fmt.Errorf("value type %q is not supported", typ)
}

// Start arms the once and repeat timers.
func (n *inject) Start(ctx context.Context) error {
	ctx, n.cancel = context.WithCancel(ctx)
	if !n.cfg.Once && n.repeat == 0 {
		return nil
	}
	n.wg.Add(1)
	n.h.Go(func() {
		defer n.wg.Done()
		if n.cfg.Once {
			select {
			case <-time.After(time.Duration(n.cfg.OnceDelay * float64(time.Second))):
				n.Trigger()
			case <-ctx.Done():
				return
			}
		}
		if n.repeat == 0 {
			return
		}
		t := time.NewTicker(n.repeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				n.Trigger()
			case <-ctx.Done():
				return
			}
		}
	})
	return nil
}

// Trigger sends one message now, as the editor's inject button does.
func (n *inject) Trigger() {
	m := engine.NewMessage("", nil)
	for _, p := range n.props {
		v, err := injectValue(p.val, p.typ)
		if err != nil {
			n.h.Error(err, m)
			return
		}
		if err := m.Set(p.path, v); err != nil {
			n.h.Error(err, m)
			return
		}
	}
	n.h.Send(0, m)
}

// Close stops the timers.
func (n *inject) Close(context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	return nil
}
