package sequence

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/jsv"
)

// SplitConfig is the configuration of a split node, with Node-RED's
// property names.
type SplitConfig struct {
	Splt          string `json:"splt" label:"Split strings and buffers using" default:"\\n" help:"spltType str: the text (\\n, \\r, \\t, \\0 are escapes); bin: a JSON array of bytes; len: a length"`
	SpltType      string `json:"spltType" label:"Split by" default:"str" options:"str=Text,bin=Bytes (JSON array),len=Fixed length"`
	ArraySplt     string `json:"arraySplt" label:"Split arrays into lengths of" default:"1"`
	ArraySpltType string `json:"arraySpltType" kind:"hidden" default:"len"`
	Stream        bool   `json:"stream" label:"Handle as a stream of messages"`
	Addname       string `json:"addname" label:"Copy an object's key to msg." help:"For objects: the message property that gets each part's key (empty: none)"`
	Property      string `json:"property" label:"Split property msg." default:"payload"`
}

// SplitType is Node-RED's split node.
var SplitType = engine.NewType(engine.Meta{
	Type:     "split",
	Category: "sequence",
	Inputs:   1,
	Outputs:  1,
	Color:    "#E2D96E",
	Icon:     "split.svg",
	Labels:   []engine.LabelRule{{Text: "split"}},
	Help: `Splits a message into a sequence of messages: Node-RED's **split** node.

The **property** (payload by default) decides how:
- a **string** is split on the text **splt** (spltType str; \n, \r, \t and \0 are escapes, and an empty text is \n as in Node-RED), on the bytes of a JSON array (bin, read as UTF-8 text), or into pieces of **splt** characters (len; characters are JavaScript's UTF-16 units);
- a **buffer** the same way, on the bytes or into pieces of **splt** bytes;
- an **array** into pieces of **arraySplt** elements (with 1, each message gets the element itself);
- an **object** into one message per key, in JavaScript's key order; **addname** names a message property that gets the key.

Other values (numbers, booleans, null) and messages without the property send nothing.

Each message gets **msg.parts** as Node-RED builds it: id (a new random id per message split), index, count, type (string, buffer, array, object), ch (the separator, for join to put back), len (the piece length), key (objects), and property when it is not payload. A message that already has msg.parts keeps it as msg.parts.parts, so that a join undoes the inner split first. Each message gets a new _msgid.

With **stream**, strings and buffers are a stream across messages: the text after the last separator (or the short last piece) is kept and put in front of the next message, the index goes on counting, and parts.count is not set.

Differences from Node-RED: a bad **splt** for bin or len, an empty byte separator, or an **arraySplt** under 1 is a deploy error (Node-RED logs it and the node drops every message; an empty byte separator makes it loop for ever). What a stream keeps is bounded to 16 MiB: beyond that the kept text is sent as a piece of its own.`,
}, newSplit)

func init() { engine.Register(SplitType) }

// maxRemainder bounds what a split in stream mode keeps between messages.
const maxRemainder = 16 << 20

type splitNode struct {
	h         *engine.Host
	sepStr    string // str: the separator; bin: the bytes as text
	sepBytes  []byte // the separator as bytes
	ch        any    // parts.ch: the separator as Node-RED passes it on
	spltType  string
	length    int // len: the piece length
	arraySplt int
	stream    bool
	addname   engine.Path
	prop      engine.Path
	propName  string

	mu        sync.Mutex
	c         int    // the running index of a stream
	remainder string // a string stream's kept text
	buffer    []byte // a buffer stream's kept bytes
}

var splitEscapes = strings.NewReplacer(`\n`, "\n", `\r`, "\r", `\t`, "\t", `\e`, "e", `\f`, "\f", `\0`, "\x00")

func newSplit(cfg *SplitConfig, h *engine.Host) (engine.Node, error) {
	n := &splitNode{h: h, spltType: cfg.SpltType, stream: cfg.Stream, propName: cfg.Property}
	switch cfg.SpltType {
	case "str":
		n.sepStr = splitEscapes.Replace(cfg.Splt)
		n.sepBytes = []byte(n.sepStr)
		n.ch = n.sepStr
	case "bin":
		var arr []float64
		if err := json.Unmarshal([]byte(cfg.Splt), &arr); err != nil {
			return nil, engine.ErrFieldf("splt", "not a JSON array of bytes: %v", err)
		}
		if len(arr) == 0 {
			return nil, engine.ErrFieldf("splt", "an empty byte separator would never end")
		}
		chs := make([]any, len(arr))
		for i, f := range arr {
			n.sepBytes = append(n.sepBytes, byte(int64(f))) // Buffer.from keeps the low 8 bits
			chs[i] = f
		}
		n.sepStr = string(bytes.ToValidUTF8(n.sepBytes, []byte("\uFFFD")))
		n.ch = chs
	case "len":
		l, ok := parseIntJS(cfg.Splt)
		if !ok || l < 1 {
			return nil, engine.ErrFieldf("splt", "invalid split length: %s", cfg.Splt)
		}
		n.length = l
	default:
		return nil, engine.ErrFieldf("spltType", "%q is not one of str, bin, len", cfg.SpltType)
	}
	as, ok := parseIntJS(cfg.ArraySplt)
	if !ok || as < 1 {
		return nil, engine.ErrFieldf("arraySplt", "invalid array split length: %s", cfg.ArraySplt)
	}
	n.arraySplt = as
	p, err := engine.ParsePath(cfg.Property)
	if err != nil {
		return nil, engine.ErrField("property", err)
	}
	n.prop = p
	if cfg.Addname != "" {
		if n.addname, err = engine.ParsePath(cfg.Addname); err != nil {
			return nil, engine.ErrField("addname", err)
		}
	}
	return n, nil
}

// parseIntJS is JavaScript's parseInt(s) for a decimal integer, bounded to
// what an int holds on every platform.
func parseIntJS(s string) (int, bool) {
	s = jsv.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	n, digits := 0, 0
	for _, r := range s {
		if r < '0' || r > '9' {
			break
		}
		digits++
		if n < math.MaxInt32 {
			n = n*10 + int(r-'0')
		}
	}
	if digits == 0 {
		return 0, false
	}
	if n > math.MaxInt32 {
		n = math.MaxInt32
	}
	if neg {
		n = -n
	}
	return n, true
}

var errSplitProperty = errors.New("split: cannot set the property")

// Receive splits m and sends its parts.
func (n *splitNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	v, ok := m.Lookup(n.prop)
	if !ok {
		return nil
	}
	var parts ordered
	if old, had := m.Prop("parts"); had {
		parts = ordered{{"parts", old}}
	}
	parts.set("id", newID())
	if n.propName != "payload" {
		parts.set("property", n.propName)
	}
	var sends []*engine.Message
	base := m
	emit := func(val any, p ordered) error {
		c := base.Copy()
		freshMsgID(c)
		if err := c.Set(n.prop, val); err != nil {
			return fmt.Errorf("%w: %v", errSplitProperty, err)
		}
		c.SetProp("parts", p.raw())
		sends = append(sends, c)
		return nil
	}
	var err error
	switch {
	case isArray(v):
		err = n.splitArray(v, parts, emit)
	case isObject(v):
		err = n.splitObject(&base, v, parts, emit)
	default:
		switch x := v.(type) {
		case string:
			n.mu.Lock()
			err = n.splitString(x, parts, emit)
			n.mu.Unlock()
		case []byte:
			n.mu.Lock()
			err = n.splitBuffer(x, parts, emit)
			n.mu.Unlock()
		}
	}
	if err != nil {
		return err
	}
	for _, c := range sends {
		out.Send(0, c)
	}
	return nil
}

func (n *splitNode) splitString(value string, parts ordered, emit func(any, ordered) error) error {
	value = n.remainder + value
	n.remainder = ""
	parts.set("type", "string")
	if n.spltType == "len" {
		parts.set("ch", "")
		parts.set("len", float64(n.length))
		total := jsv.UTF16Len(value)
		count := (total + n.length - 1) / n.length
		if !n.stream {
			parts.set("count", float64(count))
			n.c = 0
		}
		pos := 0
		for i := 0; i < count-1; i++ {
			parts.set("index", float64(n.c))
			n.c++
			if err := emit(utf16Sub(value, pos, pos+n.length), parts); err != nil {
				return err
			}
			pos += n.length
		}
		rest := utf16Sub(value, pos, total)
		if !n.stream || jsv.UTF16Len(rest) == n.length {
			parts.set("index", float64(n.c))
			n.c++
			return emit(rest, parts)
		}
		n.keepString(rest, parts, emit)
		return nil
	}
	parts.set("ch", n.ch)
	a := strings.Split(value, n.sepStr)
	for i := 0; i < len(a)-1; i++ {
		parts.set("index", float64(n.c))
		n.c++
		if !n.stream {
			parts.set("count", float64(len(a)))
		}
		if err := emit(a[i], parts); err != nil {
			return err
		}
	}
	if n.stream {
		n.keepString(a[len(a)-1], parts, emit)
		return nil
	}
	parts.set("index", float64(n.c))
	parts.set("count", float64(len(a)))
	n.c = 0
	return emit(a[len(a)-1], parts)
}

// keepString keeps the tail of a string stream, or sends it as a piece of
// its own when it is over the bound.
func (n *splitNode) keepString(rest string, parts ordered, emit func(any, ordered) error) {
	if len(rest) <= maxRemainder {
		n.remainder = rest
		return
	}
	n.h.Logger().Warn("split: stream remainder over 16 MiB sent as a piece of its own")
	parts.set("index", float64(n.c))
	n.c++
	_ = emit(rest, parts)
}

func (n *splitNode) splitBuffer(value []byte, parts ordered, emit func(any, ordered) error) error {
	buff := value
	if len(n.buffer) > 0 {
		buff = append(append([]byte(nil), n.buffer...), value...)
	}
	n.buffer = nil
	parts.set("type", "buffer")
	if n.spltType == "len" {
		count := (len(buff) + n.length - 1) / n.length
		if !n.stream {
			parts.set("count", float64(count))
			n.c = 0
		}
		parts.set("len", float64(n.length))
		pos := 0
		for i := 0; i < count-1; i++ {
			parts.set("index", float64(n.c))
			n.c++
			if err := emit(buff[pos:pos+n.length:pos+n.length], parts); err != nil {
				return err
			}
			pos += n.length
		}
		rest := buff[pos:]
		if !n.stream || len(rest) == n.length {
			parts.set("index", float64(n.c))
			n.c++
			return emit(rest, parts)
		}
		n.keepBuffer(rest, parts, emit)
		return nil
	}
	parts.set("ch", n.ch)
	count := bytes.Count(buff, n.sepBytes) + 1
	if !n.stream {
		parts.set("count", float64(count))
		n.c = 0
	}
	p := 0
	for {
		i := bytes.Index(buff[p:], n.sepBytes)
		if i < 0 {
			break
		}
		parts.set("index", float64(n.c))
		n.c++
		if err := emit(buff[p:p+i:p+i], parts); err != nil {
			return err
		}
		p += i + len(n.sepBytes)
	}
	if !n.stream && p < len(buff) {
		parts.set("index", float64(n.c))
		n.c++
		// Node-RED counts once more here; the count comes out right.
		parts.set("count", float64(n.c))
		n.c++
		return emit(buff[p:], parts)
	}
	// Node-RED keeps the tail even without stream; a buffer that ends
	// with the separator sends no empty last piece (its count says one
	// more), as there.
	n.keepBuffer(buff[p:], parts, emit)
	return nil
}

func (n *splitNode) keepBuffer(rest []byte, parts ordered, emit func(any, ordered) error) {
	if len(rest) <= maxRemainder {
		n.buffer = append([]byte(nil), rest...)
		return
	}
	n.h.Logger().Warn("split: stream remainder over 16 MiB sent as a piece of its own")
	parts.set("index", float64(n.c))
	n.c++
	_ = emit(rest, parts)
}

func (n *splitNode) splitArray(v any, parts ordered, emit func(any, ordered) error) error {
	a := elems(v)
	count := (len(a) + n.arraySplt - 1) / n.arraySplt
	parts.set("type", "array")
	parts.set("count", float64(count))
	parts.set("len", float64(n.arraySplt))
	for i := 0; i < count; i++ {
		pos := i * n.arraySplt
		var piece any
		if n.arraySplt == 1 {
			piece = a[pos]
		} else {
			end := pos + n.arraySplt
			if end > len(a) {
				end = len(a)
			}
			piece = append([]any(nil), a[pos:end]...)
		}
		parts.set("index", float64(i))
		if err := emit(piece, parts); err != nil {
			return err
		}
	}
	return nil
}

// splitObject sends one message per key; with addname, *base (the
// message the parts are copied from) gets the key first.
func (n *splitNode) splitObject(base **engine.Message, v any, parts ordered, emit func(any, ordered) error) error {
	mem := members(v)
	parts.set("type", "object")
	for j, e := range mem {
		if !n.addname.IsZero() {
			c := (*base).Copy()
			if err := c.Set(n.addname, e.k); err != nil {
				return fmt.Errorf("split: addname: %w", err)
			}
			*base = c
		}
		parts.set("key", e.k)
		parts.set("index", float64(j))
		parts.set("count", float64(len(mem)))
		if err := emit(e.v, parts); err != nil {
			return err
		}
	}
	return nil
}
