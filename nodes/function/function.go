package function

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/runnel-io/runnel/engine"
)

// FunctionLib is one entry of a function node's libs: an npm module and the
// variable it is bound to, as Node-RED writes them.
type FunctionLib struct {
	Var    string `json:"var"`
	Module string `json:"module"`
}

// FunctionConfig is the configuration of a function node, with Node-RED's
// property names.
type FunctionConfig struct {
	Outputs    int             `json:"outputs" tab:"Setup" label:"Outputs" default:"1" min:"0" max:"1000"`
	Timeout    float64         `json:"timeout" tab:"Setup" label:"Timeout (s)" default:"0" min:"0" max:"2147483" help:"0: the default ceiling (10 s)"`
	Libs       json.RawMessage `json:"libs" tab:"Setup" label:"Modules" kind:"json" default:"[]" help:"npm modules: not available in Runnel; a flow listing any is refused"`
	Noerr      int             `json:"noerr" label:"Editor errors" kind:"hidden" help:"The number of errors the editor found (not used when running)"`
	Initialize string          `json:"initialize" tab:"On Start" keepempty:"true" label:"On Start" kind:"code" lang:"javascript" help:"Runs once when the node starts; may return a promise that the first message waits for"`
	Func       string          `json:"func" tab:"On Message" keepempty:"true" label:"On Message" kind:"code" lang:"javascript" default:"\nreturn msg;" help:"The body of a function of msg; return msg, null, or an array with one entry per output"`
	Finalize   string          `json:"finalize" tab:"On Stop" keepempty:"true" label:"On Stop" kind:"code" lang:"javascript" help:"Runs when the node stops (replaced by a deploy, or the flows stop)"`
}

// DefaultTimeout is the ceiling on one run of a function's code when its
// timeout is 0 (Node-RED has none): code that runs longer is interrupted
// and reported, so that a loop that never ends cannot hold its message's
// source for ever. It is a variable so that tests can lower it.
var DefaultTimeout = 10 * time.Second

// MaxCallStack is the depth of JavaScript calls past which a function's
// code fails with a RangeError (deep or endless recursion), rather than
// growing the process's memory.
const MaxCallStack = 10000

// FunctionType is Node-RED's function node.
var FunctionType = engine.NewType(engine.Meta{
	Type:        "function",
	Category:    "function",
	Inputs:      1,
	Outputs:     1,
	Color:       "#fdd0a2",
	Icon:        "function.svg",
	OutputsFrom: "outputs",
	Labels:      []engine.LabelRule{{Text: "function"}},
	Help: strings.ReplaceAll(`Runs JavaScript for each message: Node-RED's **function** node, on goja, a JavaScript engine written in Go (ECMAScript 5.1 and most of ES2015+: let/const, arrow functions, classes, template strings, destructuring, Promise, async/await, Map/Set, typed arrays).

**func** (On Message) is the body of a function of ´msg´. It returns:
- ´msg´ or any object: sent on the first output;
- ´null´ or nothing: nothing is sent;
- an array, one entry per output (´[msg, null, other]´); an entry that is itself an array sends several messages on that output, in order.

Every message sent is a copy: changing an object after sending it does not change what was sent, and returning the same object twice sends two messages. Messages sent get the incoming ´_msgid´.

**outputs** is the number of output ports. **timeout** (seconds) interrupts code that runs longer, with an error against the node and the message; 0 means the default ceiling of 10 seconds (Node-RED has no limit): a function that never ends is always stopped. Only the time the code runs counts, not time waiting on a timer or a promise.

**initialize** (On Start) runs once when the node starts, before the first message; when it returns a promise (it is an async function, as in Node-RED) messages wait until it settles. **finalize** (On Stop) runs when the node stops, with the same time limit.

The code sees:
- ´node´: ´send(msg | array, clone)´ from anywhere (timers and promises too), ´done()´ (code that calls it finishes each message when it does, for complete nodes; other code finishes a message when it returns, or when the promise of async code settles), ´error(err, msg)´ (an error against the node and msg, which catch nodes see), ´warn´, ´log´, ´debug´, ´trace´ (to the log), ´status({fill, shape, text})´, ´id´, ´name´, ´path´, ´outputCount´, ´on("close", fn)´.
- ´context´, ´flow´, ´global´: ´get(key, store, callback)´, ´set(key, value, store, callback)´, ´keys(store, callback)´, with the stores memory (default) and persistent (also named file).
- ´env.get(name)´: the node's, its group's, its tab's and the process's environment, as Node-RED resolves them.
- ´RED.util´: ´cloneMessage´, ´getMessageProperty´, ´setMessageProperty´, ´evaluateNodeProperty´, ´encodeObject´, ´generateId´.
- ´setTimeout´, ´setInterval´, ´clearTimeout´, ´clearInterval´ (cleared when the node stops), ´Promise´, ´JSON´, ´Math´, ´Date´, ´console´, ´Buffer´, ´util.format´.

Each function node has a JavaScript runtime of its own: two function nodes never see each other's variables, and a stuck node holds up only the messages that reach it. A deploy that leaves the node unchanged keeps its runtime, its global variables and its timers; a deploy that changes it runs its On Stop, clears its timers and starts a new one.

Safety: code that runs past its time limit is interrupted; recursion deeper than 10,000 calls fails with a RangeError; values a function hands back are cut off 200 levels deep; a Buffer holds at most 64 MiB. Code that allocates without end is stopped when the process's live heap goes over 1 GiB (80 % of GOMEMLIMIT when that is set), checked every 5 ms while code runs (the run under which the heap grew most is stopped, not one that began while something else held the memory), and the node's JavaScript runtime is then discarded with its variables, so the memory is freed; the next message starts a new runtime (On Start runs again). What remains: a single allocation larger than the room left (´"x".repeat(1e9)´) happens before the check can stop it, and memory held between runs (a module-level array that grows by one entry per message) is not counted against the node.

Differences from Node-RED: there is no ´require´, ´process´, file system or network access, and **libs** (npm modules) cannot load: a flow listing any is refused at deploy (no module is built in). Context values are copies: change an object got from context and ´set´ it again to keep the change (Node-RED's memory store hands out the stored object itself). Error texts are goja's, not V8's. A syntax error is a deploy error naming the field and line.`, "´", "`"),
}, newFunction)

func init() { engine.Register(FunctionType) }

// fnNode is a function node. Its JavaScript runtime (fnVM) is owned by
// whoever holds mu: goja is not safe for concurrent use.
type fnNode struct {
	h       *engine.Host
	outputs int
	limit   time.Duration
	progs   fnPrograms

	mu sync.Mutex
	vm *fnVM // created by Start (or the first message)
	fr frun  // the straight-line path's state (see function_fast.go), under mu

	// The outbox keeps the node's sends in the order the code made them
	// although several goroutines (messages, timers) run it: effects join
	// it under mu, and one goroutine at a time delivers them.
	omu      sync.Mutex
	outbox   []effect
	spare    []effect // the delivered batch's slice, reused
	flushing bool

	// the watchdog's view of the run in progress (see watchdog)
	wmu      sync.Mutex
	started  time.Time // when the run in progress began
	deadline time.Time // zero when no run is in progress
	baseFor  time.Time // the run baseHeap was read for (its started)
	baseHeap uint64    // the heap when the watchdog first saw the run
}

// fnPrograms are the node's compiled code.
type fnPrograms struct {
	body, ini, fin *goja.Program
	async          bool
	callsDone      bool // the code calls node.done() (see function_done.go)
	// sharedMsg: the code cannot keep msg past its return (see
	// keepsMsg), so every message gets the same msg object, refilled.
	sharedMsg bool
	// sharedPayload: nor msg.payload, so every message whose payload is a
	// JSON object gets the same payload object, refilled.
	sharedPayload bool
	// fast: the body compiled for the straight-line path, or nil.
	fast *fastProg
}

func newFunction(cfg *FunctionConfig, h *engine.Host) (engine.Node, error) {
	// Every code field is compiled, so that a deploy names each one that
	// does not (engine joins the field errors).
	var errs []error
	if err := checkLibs(cfg.Libs); err != nil {
		errs = append(errs, err)
	}
	n := &fnNode{h: h, outputs: cfg.Outputs, limit: DefaultTimeout}
	if cfg.Timeout > 0 {
		n.limit = time.Duration(cfg.Timeout * float64(time.Second))
	}
	var err error
	// Node-RED runs the body as an async function; a body without await
	// runs as a plain one, which sends the same and costs less.
	n.progs.async = strings.Contains(cfg.Func, "await")
	head := "(function(msg){\n"
	if n.progs.async {
		head = "(async function(msg){\n"
	}
	if n.progs.body, err = compileCode("func", head, cfg.Func, "\n})"); err != nil {
		errs = append(errs, err)
	}
	n.progs.callsDone = callsDone(cfg.Func)
	if !n.progs.async && !n.progs.callsDone {
		keeps, keepsPayload := keepsMsg(cfg.Func)
		n.progs.sharedMsg, n.progs.sharedPayload = !keeps, !keepsPayload
	}
	if !n.progs.async && !n.progs.callsDone && strings.TrimSpace(cfg.Initialize) == "" {
		n.progs.fast = compileFast(cfg.Func)
	}
	if strings.TrimSpace(cfg.Initialize) != "" {
		if n.progs.ini, err = compileCode("initialize", "(async function(){\n", cfg.Initialize, "\n})"); err != nil {
			errs = append(errs, err)
		}
	}
	if strings.TrimSpace(cfg.Finalize) != "" {
		if n.progs.fin, err = compileCode("finalize", "(function(){\n", cfg.Finalize, "\n})"); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return n, nil
}

// Outputs returns the number of output ports, the outputs property.
func (n *fnNode) Outputs() int { return n.outputs }

// checkLibs refuses npm modules, naming them.
func checkLibs(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	var libs []FunctionLib
	if err := json.Unmarshal(raw, &libs); err != nil {
		return engine.ErrField("libs", fmt.Errorf("want a list of {var, module}: %w", err))
	}
	var mods []string
	for _, l := range libs {
		if l.Module != "" || l.Var != "" {
			mods = append(mods, fmt.Sprintf("%q (as %s)", l.Module, l.Var))
		}
	}
	if len(mods) == 0 {
		return nil
	}
	return engine.ErrField("libs", fmt.Errorf("npm modules cannot be loaded in Runnel: %s (no module is built in; Buffer, util.format and console are always there)", strings.Join(mods, ", ")))
}

// programCache shares compiled programs between nodes and deploys with the
// same code: goja programs are immutable and may run in any runtime.
var programCache struct {
	sync.Mutex
	m map[string]*goja.Program
}

const programCacheMax = 256

// syntaxPos finds the position in goja's syntax errors ("func: Line 3:9
// Unexpected token ;").
var syntaxPos = regexp.MustCompile(`Line (\d+):(\d+) (.*)$`)

// compileCode compiles one of the node's code fields inside its wrapper
// (whose head is one line), reporting a syntax error with the field and the
// line in the user's code.
func compileCode(field, head, code, tail string) (*goja.Program, error) {
	src := head + code + tail
	programCache.Lock()
	p := programCache.m[src]
	programCache.Unlock()
	if p != nil {
		return p, nil
	}
	p, err := goja.Compile(field, src, false)
	if err != nil {
		if m := syntaxPos.FindStringSubmatch(err.Error()); m != nil {
			line, _ := strconv.Atoi(m[1])
			// an error found in the wrapper's tail is at the code's end
			if last := strings.Count(code, "\n") + 2; line > last {
				line = last
			}
			return nil, engine.ErrField(field, fmt.Errorf("syntax error at line %d, column %s: %s", line-1, m[2], m[3]))
		}
		return nil, engine.ErrField(field, fmt.Errorf("syntax error: %v", err))
	}
	programCache.Lock()
	if programCache.m == nil || len(programCache.m) >= programCacheMax {
		programCache.m = make(map[string]*goja.Program)
	}
	programCache.m[src] = p
	programCache.Unlock()
	return p, nil
}

// Start creates the node's runtime and runs its On Start code.
func (n *fnNode) Start(ctx context.Context) error {
	n.mu.Lock()
	if n.vm == nil {
		if err := n.startLocked(); err != nil {
			n.mu.Unlock()
			return err
		}
	}
	n.post(n.vm.takeEffects())
	n.discardIfOOM()
	n.mu.Unlock()
	n.deliver()
	return nil
}

// startLocked builds the runtime and runs initialize; n.mu is held.
func (n *fnNode) startLocked() error {
	f, err := newFnVM(n)
	if err != nil {
		return err
	}
	n.vm = f
	watch(n)
	if n.progs.ini != nil {
		f.runInit()
	}
	return nil
}

// Receive runs the code for m.
func (n *fnNode) Receive(ctx context.Context, m *engine.Message, out engine.Output) error {
	n.mu.Lock()
	if n.vm == nil {
		if err := n.startLocked(); err != nil {
			n.mu.Unlock()
			return err
		}
	}
	f := n.vm
	if f.closed {
		n.mu.Unlock()
		return nil
	}
	var done doneFunc
	if !f.iniFailed {
		done = out.Hold() // nil unless complete nodes watch this node
	}
	if f.iniPending {
		f.queue = append(f.queue, queuedMsg{m, done})
	} else if !f.iniFailed && (n.progs.fast == nil || !n.runFast(f, m, done)) {
		f.runMessage(m, done)
	}
	n.post(f.takeEffects())
	n.discardIfOOM()
	n.mu.Unlock()
	n.deliver()
	return nil
}

// Close runs node.on("close") handlers and On Stop, and clears the timers.
func (n *fnNode) Close(ctx context.Context) error {
	n.mu.Lock()
	f := n.vm
	if f == nil || f.closed {
		n.mu.Unlock()
		return nil
	}
	f.close()
	n.post(f.takeEffects())
	n.mu.Unlock()
	unwatch(n)
	n.deliver()
	return nil
}

// effect is a send or an error, collected while the runtime is locked and
// done after it is released, so that the nodes downstream (or a catch
// node) never run under the lock.
type effect struct {
	port int
	m    *engine.Message
	err  error    // an error against m (which may be nil)
	done doneFunc // finishes a message, m as the code left it (see function_done.go)
	drop bool     // done lets it go without completion
}

// post queues effects for delivery; n.mu is held, so effects join the
// outbox in the order the runtime made them.
func (n *fnNode) post(eff []effect) {
	if len(eff) == 0 {
		return
	}
	n.omu.Lock()
	n.outbox = append(n.outbox, eff...)
	n.omu.Unlock()
	clear(eff) // the runtime reuses eff's array
}

// deliver sends what the outbox holds, unless another goroutine already
// is (it will send these too, after its own). A message that comes back
// to this node through a loop therefore queues instead of deadlocking.
func (n *fnNode) deliver() {
	n.omu.Lock()
	if n.flushing {
		n.omu.Unlock()
		return
	}
	n.flushing = true
	defer func() {
		if v := recover(); v != nil {
			n.omu.Lock()
			n.flushing = false
			n.omu.Unlock()
			panic(v)
		}
	}()
	for len(n.outbox) > 0 {
		batch := n.outbox
		n.outbox, n.spare = n.spare[:0], nil
		n.omu.Unlock()
		for _, e := range batch {
			if e.done != nil {
				e.done(e.m, !e.drop)
				continue
			}
			if e.err != nil {
				n.h.Error(e.err, e.m)
				continue
			}
			n.h.Send(e.port, e.m)
		}
		clear(batch)
		n.omu.Lock()
		if n.spare == nil && cap(batch) <= 64 {
			n.spare = batch[:0]
		}
	}
	n.flushing = false
	n.omu.Unlock()
}

// run calls fn under the node's time limit; n.mu is held.
func (n *fnNode) run(fn goja.Callable, this goja.Value, args ...goja.Value) (goja.Value, error) {
	n.wmu.Lock()
	n.started = time.Now()
	n.deadline = n.started.Add(n.limit)
	n.wmu.Unlock()
	v, err := fn(this, args...)
	n.wmu.Lock()
	n.deadline = time.Time{}
	n.vm.vm.ClearInterrupt()
	n.wmu.Unlock()
	if err != nil && stoppedForMemory(err) {
		n.vm.oom = true
	}
	return v, err
}

// stoppedForMemory reports whether err is the watchdog's interrupt for
// memory. (A function of its own: the error variable errors.As needs
// would otherwise be allocated on every run, error or not.)
func stoppedForMemory(err error) bool {
	var ie *goja.InterruptedError
	return errors.As(err, &ie) && ie.Value() == errOutOfMemory
}

// discardIfOOM drops a runtime whose code the watchdog stopped for the
// memory it held, with its variables and timers, so that the memory can
// be collected; the next message starts a new one (On Start runs again).
// n.mu is held.
func (n *fnNode) discardIfOOM() {
	f := n.vm
	if f == nil || !f.oom {
		return
	}
	f.closed = true
	if f.wake != nil {
		f.wake.Stop()
	}
	f.releaseHeld()
	n.post(f.takeEffects())
	f.timers, f.due, f.queue, f.closeFns = map[int64]*jsTimer{}, nil, nil, nil
	n.vm = nil
	n.h.Logger().Warn("function: its JavaScript runtime was discarded after using too much memory; the next message starts a new one")
}

// The watchdog interrupts runs past their deadline. One goroutine serves
// every function node, waking every watchTick while any is running.
var watchdog struct {
	sync.Mutex
	nodes   map[*fnNode]struct{}
	running bool
}

const watchTick = 5 * time.Millisecond

func watch(n *fnNode) {
	watchdog.Lock()
	defer watchdog.Unlock()
	if watchdog.nodes == nil {
		watchdog.nodes = make(map[*fnNode]struct{})
	}
	watchdog.nodes[n] = struct{}{}
	if !watchdog.running {
		watchdog.running = true
		go watchLoop()
	}
}

func unwatch(n *fnNode) {
	watchdog.Lock()
	delete(watchdog.nodes, n)
	watchdog.Unlock()
}

var (
	errTimedOut    = errors.New("timed out")
	errOutOfMemory = errors.New("out of memory")
)

// heapLimit is the heap size above which the watchdog stops the function
// runs in progress: 80 % of the Go memory limit when one is set
// (GOMEMLIMIT), else DefaultHeapLimit, unless a test set testHeapLimit.
func heapLimit() uint64 {
	if l := testHeapLimit.Load(); l > 0 {
		return l
	}
	if l := debug.SetMemoryLimit(-1); l > 0 && l < math.MaxInt64 {
		return uint64(l) / 5 * 4
	}
	return DefaultHeapLimit
}

// testHeapLimit replaces heapLimit's answer when not 0 (tests only; the
// watchdog goroutine outlives a test, hence atomic).
var testHeapLimit atomic.Uint64

// DefaultHeapLimit is the heap size above which function code is stopped
// when no Go memory limit is set.
const DefaultHeapLimit = 1 << 30

// heapBytes reads the bytes the heap's live and unswept objects take,
// without stopping the world.
func heapBytes(sample []metrics.Sample) uint64 {
	metrics.Read(sample)
	if sample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return sample[0].Value.Uint64()
}

func watchLoop() {
	t := time.NewTicker(watchTick)
	defer t.Stop()
	var nodes []*fnNode
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var lastGC time.Time
	for now := range t.C {
		watchdog.Lock()
		if len(watchdog.nodes) == 0 {
			watchdog.running = false
			watchdog.Unlock()
			return
		}
		nodes = nodes[:0]
		for n := range watchdog.nodes {
			nodes = append(nodes, n)
		}
		watchdog.Unlock()
		// Code that allocates without end would take the process down
		// long before its time limit: when the heap is over the limit,
		// runs that have gone on for a tick or more are stopped (one
		// that has just begun is unlikely to be the cause).
		// The heap read counts garbage not yet collected: past the limit,
		// collect (at most every 100 ms) and read what is live before
		// stopping anything, and then stop only the run that has gone on
		// longest (a healthy run beside a hog keeps its state).
		// Each run's heap is noted the first time the watchdog sees it:
		// only a run under which the heap grew is a suspect, so a run
		// that begins while something else holds the memory is left
		// alone.
		running := false
		var now0 uint64
		for _, n := range nodes {
			n.wmu.Lock()
			if !n.deadline.IsZero() {
				if !running {
					running, now0 = true, heapBytes(heap)
				}
				if n.baseFor != n.started {
					n.baseFor, n.baseHeap = n.started, now0
				}
			}
			n.wmu.Unlock()
		}
		var hog *fnNode
		if running && now0 > heapLimit() && now.Sub(lastGC) >= 100*time.Millisecond {
			runtime.GC()
			lastGC = time.Now()
			if lim := heapLimit(); heapBytes(live) > lim {
				l := heapBytes(live)
				// A run is a suspect only if the heap grew under it by
				// an eighth of the limit or more: noise and garbage
				// counted in its baseline are not growth.
				most := lim / 8
				for _, n := range nodes {
					n.wmu.Lock()
					if !n.deadline.IsZero() && now.Sub(n.started) >= watchTick && l > n.baseHeap && l-n.baseHeap > most {
						hog, most = n, l-n.baseHeap
					}
					n.wmu.Unlock()
				}
			}
		}
		overHeap := hog != nil
		for _, n := range nodes {
			n.wmu.Lock()
			switch {
			case n.deadline.IsZero():
			case now.After(n.deadline):
				n.deadline = time.Time{}
				n.vm.vm.Interrupt(errTimedOut)
			case overHeap && n == hog:
				n.deadline = time.Time{}
				n.vm.vm.Interrupt(errOutOfMemory)
			}
			n.wmu.Unlock()
		}
	}
}
