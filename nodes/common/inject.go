package common

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/runnel-io/runnel/engine"
)

// InjectConfig is the configuration of an inject node. As in Node-RED the
// properties to set are listed in props; a payload entry without a value
// of its own takes the node's payload and payloadType, a topic entry of
// type str without one takes the node's topic (Node-RED's editor keeps
// them there, and so does Runnel's: see the toplevel tag). A node without
// props (Node-RED's older form) sets payload and topic that way.
type InjectConfig struct {
	Props       []InjectProp `json:"props" label:"Properties" default:"[{\"p\":\"payload\"},{\"p\":\"topic\",\"vt\":\"str\"}]" toplevel:"payload=payload:payloadType,topic=topic" help:"The message properties to set, in order"`
	Payload     string       `json:"payload" kind:"hidden"`
	PayloadType string       `json:"payloadType" default:"date" kind:"hidden"`
	Topic       string       `json:"topic" kind:"hidden"`
	Repeat      string       `json:"repeat" label:"Repeat" kind:"schedule" help:"Every so many seconds (repeat), or on a schedule (crontab, used when repeat is empty)"`
	Crontab     string       `json:"crontab" label:"Crontab" kind:"hidden" help:"A cron schedule in the machine's time zone, such as 00 12 * * 1,2,3,4,5 (noon on weekdays) or */5 9-16 * * * (every 5 minutes from 9:00 to 16:55); used when repeat is empty"`
	Once        bool         `json:"once" label:"Inject once after" help:"Send a message once the flow has started"`
	OnceDelay   float64      `json:"onceDelay" label:"Start delay (s)" default:"0.1" min:"0" max:"2147483" showif:"once=true"`
}

// InjectProp is one property an inject node sets: msg.<p> = v.
type InjectProp struct {
	P string       `json:"p" label:"msg." help:"A property path such as payload or payload.a[0]"`
	V engine.Typed `json:"v" label:"to" typeprop:"vt" types:"str,num,bool,json,bin,date,env,msg,flow,global,jsonata,expr"`
}

type injectProp struct {
	path engine.Path
	val  engine.Typed
}

// inject sends messages: once at start, every repeat seconds, or when the
// editor's button (Trigger) is pressed.
type inject struct {
	h      *engine.Host
	cfg    InjectConfig
	props  []injectProp
	repeat time.Duration
	cron   *crontab // nil: no crontab schedule
	clock  injectClock
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "inject",
		Category: "common",
		Outputs:  1,
		Color:    "#a6bbcf",
		Icon:     "inject.svg",
		Button:   "inject",
		// Node-RED's label: the topic and the payload (or what kind of
		// payload it is), the payload alone, else "inject".
		Labels: []engine.LabelRule{
			{If: map[string][]string{"payloadType": {"date", ""}}, Text: "{topic}: timestamp"},
			{If: map[string][]string{"payloadType": {"date", ""}}, Text: "timestamp"},
			{If: map[string][]string{"payloadType": {"str", "num", "bool", "json"}}, Text: "{topic}: {payload}"},
			{If: map[string][]string{"payloadType": {"str", "num", "bool", "json"}}, Text: "{payload}"},
			{If: map[string][]string{"payloadType": {"flow", "global", "msg"}}, Text: "{payloadType}.{payload}"},
			{If: map[string][]string{"payloadType": {"env"}}, Text: "env {payload}"},
			{Text: "{topic}"},
		},
		Help: `Injects a message into a flow: by pressing its button, once at start, or at a regular interval.

**Properties** are set on the message in order: each is a property path (payload, topic, payload.a[0]) and a
value of one of the typed-input types: a string, a number, a boolean, JSON, a buffer, the time now
(milliseconds, or "iso" / "object" for an ISO 8601 string), an environment variable (or text with ${NAME}),
a property of the message being built, a flow or global context value, or a JSONata or expr expression
evaluated against the message being built (what the properties before it have set).

**Repeat** sends a message every so many seconds (up to 2147483, about 24.8 days); **Inject once after**
sends one when the flow starts, after the start delay, and any repeat or crontab starts after it.

**Crontab** sends a message at the times of a cron schedule, in the machine's time zone, when repeat is empty.
Node-RED's editor writes "at a time" as minute hour * * days (00 12 * * 1,2,3,4,5: noon on weekdays) and
"interval between times" as */minutes hours * * days (*/10 8-17 * * *: every ten minutes from 8:00 to
17:50; 0 22-23,0-5 * * 6,0: on the hour overnight at weekends); days run 0 (Sunday) to 6, and 7 is Sunday
too. As in Node-RED, 5 fields (minute, hour, day of month, month, day of week), 6 (a second first) or 7 (and
a year last) are read, with * and ? for any, lists (1,3), ranges (9-17, FRI-MON wraps), steps (*/5, 10/15),
names (JAN-DEC, SUN-SAT), L (last day of the month), W (15W: the weekday nearest the 15th; LW), day of
week L and # (5L: the last Friday; FRI#3: the third) and @yearly, @monthly, @weekly, @daily, @hourly. When
both day fields are restricted a day matching either one fires. A time the clock skips in spring fires at
the change; in the hour it repeats in autumn only the first pass fires.

Differences from Node-RED: a crontab Node-RED refuses, or one that never fires (February 30th, on which
Node-RED hangs), is a deploy error here; 29W and 30W skip a February without that day (Node-RED takes the
weekday nearest the month's last day); a year more than 30 years ahead never fires.`,
	}, newInject))
}

func newInject(cfg *InjectConfig, h *engine.Host) (engine.Node, error) {
	n := &inject{h: h, cfg: *cfg}
	for _, p := range cfg.Props {
		if p.P == "" {
			continue // Node-RED skips an entry without a property
		}
		path, err := engine.ParsePath(p.P)
		if err != nil {
			return nil, engine.ErrFieldf("props", "%s: %v", p.P, err)
		}
		v := p.V
		if v.IsZero() {
			// Node-RED: a missing value is "", a missing type str.
			v, _ = engine.ParseTyped(engine.TypeStr, "")
		}
		n.props = append(n.props, injectProp{path: path, val: v})
	}
	repeat, err := injectRepeat(cfg.Repeat)
	if err != nil {
		return nil, engine.ErrField("repeat", err)
	}
	n.repeat = repeat
	if n.cfg.OnceDelay == 0 {
		n.cfg.OnceDelay = 0.1 // Node-RED: (n.onceDelay || 0.1)
	}
	n.clock = realClock{}
	// Node-RED runs the crontab only when there is no repeat (its editor
	// never writes both), and reads an empty one as none.
	if n.repeat == 0 && cfg.Crontab != "" {
		ct, err := parseCrontab(cfg.Crontab, time.Local)
		if err != nil {
			return nil, engine.ErrFieldf("crontab", "%q: %v", cfg.Crontab, err)
		}
		if ct.Next(time.Now()).IsZero() {
			// cronosjs loops for ever on such a crontab, and Node-RED with it.
			return nil, engine.ErrFieldf("crontab", "%q: %v", cfg.Crontab, errNoNextTime)
		}
		n.cron = ct
	}
	return n, nil
}

// injectClock is the time as the inject node's schedules see it; tests
// give a fake one.
type injectClock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// runCron calls fire at each time of ct from now on, until ctx is done.
// Each next time is computed from the clock when the last one fired, so
// a deploy or a clock that jumps does not bring a burst of missed times;
// a timer that wakes early does not fire the same time twice.
func runCron(ctx context.Context, ct *crontab, clk injectClock, fire func()) {
	var last time.Time
	for {
		now := clk.Now()
		if now.Before(last) {
			now = last
		}
		next := ct.Next(now)
		if next.IsZero() {
			return
		}
		select {
		case <-clk.After(next.Sub(clk.Now())):
			last = next
			fire()
		case <-ctx.Done():
			return
		}
	}
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

// Start arms the once, repeat and crontab timers; the first time of a
// crontab is the first after now (or after the once message).
func (n *inject) Start(ctx context.Context) error {
	ctx, n.cancel = context.WithCancel(ctx)
	if !n.cfg.Once && n.repeat == 0 && n.cron == nil {
		return nil
	}
	n.wg.Add(1)
	n.h.Go(func() {
		defer n.wg.Done()
		if n.cfg.Once {
			select {
			case <-n.clock.After(time.Duration(n.cfg.OnceDelay * float64(time.Second))):
				n.Trigger()
			case <-ctx.Done():
				return
			}
		}
		if n.cron != nil {
			// As in Node-RED, the schedule starts after the once message.
			runCron(ctx, n.cron, n.clock, n.Trigger)
			return
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
		v, err := p.val.Eval(n.h, m)
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

// Close stops the timers and waits for their goroutine to end.
func (n *inject) Close(context.Context) error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	return nil
}
