// Package bench is the load tool behind runnel bench: it starts runnel
// and mosquitto as child processes on free loopback ports (or drives a
// broker already running), loads them over MQTT with its own minimal
// client, and reports throughput, latency, loss and the servers' CPU and
// memory, pairing runnel's runs with mosquitto's. --connections measures
// many idle clients instead; --deploy-every redeploys the flows during a
// run. Package cli only wires the command to Run.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/runnel-io/runnel/flows"
)

const benchUsage = `Usage: runnel bench [flags]

Load test over TCP on the loopback interface. A publisher sends
{"temperature":<seq>,"humidity":40} to sensors/dev<seq%%devices>/data, with
every seq unique so that every message must produce exactly one alert, and a
subscriber measures throughput, end-to-end latency, loss and duplicates.

Targets (each a child process the bench starts on free loopback ports and
stops again):
  runnel     runnel serve with the example flow; subscribes to alerts/#
  mosquitto  mosquitto as a bare relay (no flow); subscribes to sensors/+/data
  both       runnel and mosquitto, their runs interleaved, and the ratios
--addr drives an already running broker (loopback only) with the runnel
topics instead; there are no server CPU or memory figures then.
--relay measures runnel's broker alone, as mosquitto: runnel run with a flow
file without nodes, the subscriber on sensors/+/data.

With more than one target, the bench starts all servers first and then
interleaves the runs: run 1 of runnel, run 1 of mosquitto, run 2 of
mosquitto, run 2 of runnel, and so on (the first of each pair alternates),
each target on its one server throughout, so that both see about the same
machine when its speed drifts. Besides the ratio of the medians it reports,
pair by pair, runnel/mosquitto of p50, p99 and server CPU per message,
their medians, and in how many pairs runnel was at or below mosquitto.

--connections N holds N client connections instead of a load run: each
connects, subscribes to its own topic and to one they all share, and is
held idle for --hold; then one message goes to each client's own topic and
one to all, and every client must get both. It reports the time to connect
them all, the server's CPU per connection, its memory per connection, and
the delivery times. It raises the open-file limit (RLIMIT_NOFILE) of the
bench and of the servers it starts to N + 256 (the hard limit too if it
may). Each run starts a fresh server, and the targets run one after the
other, not interleaved.

Modes: --rate 0 (saturation) keeps at most --window messages in flight (sent
and not yet received); --rate R paces R msg/s for --duration. Every run is
bounded: it ends when everything arrived, after 5 s without progress, or at
a timeout of 2×expected time + 5 s (at saturation, expecting 5000 msg/s).
With --qos 1 the publisher also keeps at most 1000 messages without PUBACK
(mochi, runnel's broker, disconnects clients beyond 1024).

Server CPU is utime+stime of the child from /proc/PID/stat, in clock ticks
of the kernel's USER_HZ (read from the auxiliary vector; 100 if unknown), so
it has a resolution of 10 ms per run at 100 Hz.

Flags:
`

// benchOptions are the bench's flags.
type benchOptions struct {
	target    string
	addr      string
	devices   int
	rate      float64
	window    int
	count     int
	duration  time.Duration
	qos       int
	runs      int
	timeout   time.Duration
	jsonFile  string
	startup   bool
	mosquitto string
	deploy    time.Duration // deploy this often during each runnel run; 0: never
	procs     int           // --procs of the runnel child; 0: its default
	deployTyp string
	profile   string        // runnel: the runnel child's --cpuprofile
	relay     bool          // runnel: the broker alone (runnel run, no flow), subscribing to the published topics
	conns     int           // hold this many client connections instead of a load run; 0: a load run
	hold      time.Duration // with conns: how long to hold them before publishing
}

// targetReport is the measurement of one target.
type targetReport struct {
	Target      string         `json:"target"`
	Addr        string         `json:"addr"`
	Publish     string         `json:"publish"`
	Subscribe   string         `json:"subscribe"`
	Runs        []loadResult   `json:"runs"`
	Median      *loadResult    `json:"median,omitempty"`
	IdleRSS     int64          `json:"idle_rss_bytes,omitempty"`
	PeakRSS     int64          `json:"peak_rss_bytes,omitempty"`
	ServerCPU   bool           `json:"-"` // server CPU figures are known
	httpAddr    string         // runnel's admin API
	Deploys     []*deployStats `json:"deploys,omitempty"`
	Error       string         `json:"error,omitempty"`
	ChildOutput string         `json:"child_output,omitempty"`
}

// startupReport is the start-up measurement of runnel run (--startup).
type startupReport struct {
	FirstAlertMs []float64 `json:"first_alert_ms"`
	PortOpenMs   []float64 `json:"port_open_ms"`
	MedianAlert  float64   `json:"median_first_alert_ms"`
	MedianPort   float64   `json:"median_port_open_ms"`
	IdleRSS      int64     `json:"idle_rss_after_2s_bytes,omitempty"`
	Error        string    `json:"error,omitempty"`
}

// benchReport is everything a load bench measured, as printed and as
// written to --json.
type benchReport struct {
	Command    string          `json:"command"`
	Mode       string          `json:"mode"` // saturation or rate
	BrokerOnly bool            `json:"broker_only,omitempty"`
	Rate       float64         `json:"rate,omitempty"`
	Window     int             `json:"window,omitempty"`
	QoS        int             `json:"qos"`
	Count      int             `json:"count"`
	Devices    int             `json:"devices"`
	Runs       int             `json:"runs"`
	ClockTicks int64           `json:"clock_ticks_per_s"`
	CPUs       int             `json:"cpus"`
	Started    time.Time       `json:"started"`
	Targets    []*targetReport `json:"targets"`
	// Interleaved: the targets' runs alternated (runOrder), rather than
	// all runs of one target and then all of the next.
	Interleaved bool    `json:"interleaved,omitempty"`
	Throughput  float64 `json:"ratio_throughput_runnel_over_mosquitto,omitempty"`
	CPUPerMsg   float64 `json:"ratio_server_cpu_per_msg_runnel_over_mosquitto,omitempty"`
	// Paired compares run i of runnel with run i of mosquitto.
	Paired      *pairedRatios  `json:"paired_ratios_runnel_over_mosquitto,omitempty"`
	Startup     *startupReport `json:"startup,omitempty"`
	Environment string         `json:"environment"`
}

// Run is runnel bench: it parses the flags (args, without "bench"),
// measures the targets and prints (and with --json writes) the report; -h
// prints the usage to stderr and returns flag.ErrHelp. The runnel targets
// are child processes of the running executable (its serve and run
// commands), so Run belongs in the runnel program. Cancelling ctx stops
// the bench and the servers it started.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), benchUsage)
		fs.PrintDefaults()
	}
	var o benchOptions
	fs.StringVar(&o.target, "target", "both", "`what` to measure: runnel, mosquitto or both")
	fs.StringVar(&o.addr, "addr", "", "drive an already running broker at this loopback `host:port` (runnel topics) instead of a target")
	fs.IntVar(&o.devices, "devices", 10, "number of `devices`, one topic each")
	fs.Float64Var(&o.rate, "rate", 0, "messages per second; 0 is saturation (limited by --window)")
	fs.IntVar(&o.window, "window", 2000, "saturation: most messages in flight (sent, not yet received)")
	fs.IntVar(&o.count, "count", 0, "messages per run (default 200000 at saturation, rate×duration at a fixed rate)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "fixed rate: how long each run sends")
	fs.IntVar(&o.qos, "qos", 0, "QoS of publisher and subscriber: 0 or 1")
	fs.IntVar(&o.runs, "runs", 3, "runs per target; the figures are their medians")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on each run (default 2×expected time + 5 s)")
	fs.StringVar(&o.jsonFile, "json", "", "also write the results as JSON to this `file`")
	fs.BoolVar(&o.startup, "startup", true, "also measure the start-up time and idle memory of runnel run (when the target includes runnel)")
	fs.IntVar(&o.procs, "server-procs", 0, "runnel: the runnel child's --procs (0: its default, 1)")
	fs.DurationVar(&o.deploy, "deploy-every", 0, "runnel: deploy a changed template this often during each run (a hot swap under load); 0: never")
	fs.StringVar(&o.deployTyp, "deploy-type", "nodes", "with --deploy-every: the `type` of deploy: nodes, flows or full")
	fs.StringVar(&o.profile, "server-cpuprofile", "", "runnel: the runnel child writes a CPU profile of its whole life to this `file` (the last run's, when each run starts one)")
	fs.BoolVar(&o.relay, "relay", false, "runnel: measure the broker alone, as mosquitto: runnel run with no flow, the subscriber on the published topics")
	fs.IntVar(&o.conns, "connections", 0, "instead of a load run, open this many client connections, each subscribed to its own topic, hold them, publish one message to each and one to all, and check that every client got both")
	fs.DurationVar(&o.hold, "hold", 2*time.Second, "with --connections: how long to hold the idle connections before publishing")
	fs.StringVar(&o.mosquitto, "mosquitto", "", "mosquitto `binary` (default: from PATH, else /usr/sbin/mosquitto)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	countSet := false
	fs.Visit(func(f *flag.Flag) { countSet = countSet || f.Name == "count" })
	if err := o.check(countSet); err != nil {
		return err
	}
	rep := &benchReport{
		Command:     o.command(),
		Mode:        "saturation",
		QoS:         o.qos,
		Count:       o.count,
		Devices:     o.devices,
		Runs:        o.runs,
		ClockTicks:  clkTck(),
		CPUs:        runtime.NumCPU(),
		Started:     time.Now(),
		Environment: benchEnvironment(),
	}
	if o.rate > 0 {
		rep.Mode, rep.Rate = "rate", o.rate
	} else {
		rep.Window = o.window
	}
	progress := func(format string, a ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", a...) }

	var targets []string
	switch {
	case o.addr != "":
		targets = []string{"addr"}
	case o.target == "both":
		targets = []string{"runnel", "mosquitto"}
	default:
		targets = []string{o.target}
	}
	if o.conns > 0 {
		return o.benchConns(ctx, targets, stdout, progress)
	}
	rep.BrokerOnly = o.relay
	for _, name := range targets {
		rep.Targets = append(rep.Targets, &targetReport{Target: name})
	}
	failed, err := o.measureAll(ctx, rep.Targets, progress)
	if err != nil {
		return err
	}
	ran := 0
	for _, t := range rep.Targets {
		if len(t.Runs) > 0 {
			ran++
		}
	}
	rep.Interleaved = ran > 1
	if r, m := findTarget(rep, "runnel"), findTarget(rep, "mosquitto"); r != nil && m != nil && r.Median != nil && m.Median != nil {
		if m.Median.MsgPerSec > 0 {
			rep.Throughput = r.Median.MsgPerSec / m.Median.MsgPerSec
		}
		if m.Median.ServerCPUus > 0 {
			rep.CPUPerMsg = r.Median.ServerCPUus / m.Median.ServerCPUus
		}
		rounds := runOrder(len(targets), o.runs)
		first := make([]string, len(rounds))
		for i, round := range rounds {
			first[i] = targets[round[0]]
		}
		rep.Paired = pairRuns(r.Runs, m.Runs, first)
	}
	if o.startup && !o.relay && o.addr == "" && (o.target == "runnel" || o.target == "both") {
		progress("start-up of runnel run (5 times)")
		rep.Startup = measureStartup(ctx, 5)
		if rep.Startup.Error != "" {
			failed = append(failed, errors.New("start-up measurement failed (details above)"))
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	printReport(stdout, rep)
	if o.jsonFile != "" {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonFile, []byte(b.String()), 0o644); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}

// check validates the flags and fills in the default --count.
func (o *benchOptions) check(countSet bool) error {
	switch {
	case o.addr == "" && o.target != "runnel" && o.target != "mosquitto" && o.target != "both":
		return fmt.Errorf("--target %q: want runnel, mosquitto or both", o.target)
	case o.devices < 1 || o.devices > 1_000_000:
		return errors.New("--devices must be between 1 and 1000000")
	case o.rate < 0 || o.rate > 10_000_000:
		return errors.New("--rate must be between 0 and 10000000")
	case o.rate == 0 && (o.window < 1 || o.window > 1_000_000):
		return errors.New("--window must be between 1 and 1000000")
	case o.qos != 0 && o.qos != 1:
		return errors.New("--qos must be 0 or 1")
	case o.runs < 1 || o.runs > 100:
		return errors.New("--runs must be between 1 and 100")
	case o.conns < 0 || o.conns > maxBenchConns:
		return fmt.Errorf("--connections must be between 0 and %d", maxBenchConns)
	case o.conns > 0 && (o.hold < 0 || o.hold > time.Hour):
		return errors.New("--hold must be between 0 and 1h")
	case o.timeout < 0:
		return errors.New("--timeout must not be negative")
	case o.rate > 0 && !countSet && (o.duration <= 0 || o.duration > time.Hour):
		return errors.New("--duration must be between 0 and 1h")
	}
	if o.addr != "" {
		if err := checkLoopback(o.addr); err != nil {
			return fmt.Errorf("--addr: %w", err)
		}
	}
	if !countSet {
		if o.rate > 0 {
			o.count = int(o.rate * o.duration.Seconds())
		} else {
			o.count = 200_000
		}
	}
	if o.count < 1 || o.count > maxBenchCount {
		return fmt.Errorf("--count must be between 1 and %d (got %d)", maxBenchCount, o.count)
	}
	return nil
}

// command is the command line that repeats this bench.
func (o *benchOptions) command() string {
	a := []string{"runnel", "bench"}
	if o.addr != "" {
		a = append(a, "--addr", o.addr)
	} else {
		a = append(a, "--target", o.target)
	}
	if o.conns > 0 {
		a = append(a, "--connections", strconv.Itoa(o.conns), "--hold", o.hold.String(), "--runs", strconv.Itoa(o.runs))
		if o.relay {
			a = append(a, "--relay")
		}
		if o.procs > 0 {
			a = append(a, "--server-procs", strconv.Itoa(o.procs))
		}
		return strings.Join(a, " ")
	}
	if o.rate > 0 {
		a = append(a, "--rate", strconv.FormatFloat(o.rate, 'f', -1, 64))
	} else {
		a = append(a, "--window", strconv.Itoa(o.window))
	}
	a = append(a, "--count", strconv.Itoa(o.count), "--devices", strconv.Itoa(o.devices),
		"--qos", strconv.Itoa(o.qos), "--runs", strconv.Itoa(o.runs))
	if o.timeout > 0 {
		a = append(a, "--timeout", o.timeout.String())
	}
	if !o.startup {
		a = append(a, "--startup=false")
	}
	if o.relay {
		a = append(a, "--relay")
	}
	if o.procs > 0 {
		a = append(a, "--server-procs", strconv.Itoa(o.procs))
	}
	if o.mosquitto != "" {
		a = append(a, "--mosquitto", o.mosquitto)
	}
	return strings.Join(a, " ")
}

// findTarget returns the report of the target named name, or nil.
func findTarget(rep *benchReport, name string) *targetReport {
	for _, t := range rep.Targets {
		if t.Target == name {
			return t
		}
	}
	return nil
}

// targetSession is one target's server, started once and kept for all
// of the target's runs.
type targetSession struct {
	tr      *targetReport
	child   *benchChild // nil for --addr
	extract extractKind
	cleanup func() // stops the server; nil once stopped
	base    int64  // SeqBase of the next run
}

// stop stops the session's server, once.
func (s *targetSession) stop() {
	if s.cleanup != nil {
		s.cleanup()
		s.cleanup = nil
	}
}

// measureAll starts the servers of all targets (one per targetReport in
// trs), checks that each works, and then runs the load o.runs times
// against each, interleaved as runOrder says: run 1 of every target, then
// run 2, and so on. A target that fails is stopped and its error kept in
// its report (and returned among the failures); the other targets' runs go
// on. It returns early, with the context's error, when ctx ends.
func (o *benchOptions) measureAll(ctx context.Context, trs []*targetReport, progress func(string, ...any)) (failed []error, err error) {
	sessions := make([]*targetSession, 0, len(trs))
	defer func() {
		for _, s := range sessions {
			s.stop()
		}
	}()
	fail := func(s *targetSession, err error) {
		s.tr.Error = err.Error() // before stop, which then keeps the child's output
		failed = append(failed, fmt.Errorf("%s failed (details above)", s.tr.Target))
		progress("%s: %v", s.tr.Target, err)
		s.stop()
	}
	for _, tr := range trs {
		s := &targetSession{tr: tr}
		sessions = append(sessions, s)
		var err error
		s.child, s.extract, s.cleanup, err = o.startTarget(ctx, tr, progress)
		if err != nil {
			fail(s, err)
		}
		if ctx.Err() != nil {
			return failed, ctx.Err()
		}
	}
	for i, round := range runOrder(len(sessions), o.runs) {
		for _, k := range round {
			s := sessions[k]
			if s.cleanup == nil { // failed
				continue
			}
			if err := o.runOnce(ctx, s, i, progress); err != nil {
				fail(s, err)
			}
			if ctx.Err() != nil {
				return failed, ctx.Err()
			}
		}
	}
	for _, s := range sessions {
		if s.cleanup == nil {
			continue
		}
		if s.child != nil {
			_, s.tr.PeakRSS, _ = procMem(s.child.pid())
		}
		s.tr.Median = medianResult(s.tr.Runs)
		s.stop()
	}
	return failed, nil
}

// runOnce is run i (0-based) of the load against s's server, with deploys
// during it if asked; it appends the result to s's report. Before the
// first run it reads the server's idle RSS.
func (o *benchOptions) runOnce(ctx context.Context, s *targetSession, i int, progress func(string, ...any)) error {
	tr, child := s.tr, s.child
	if child != nil && i == 0 {
		tr.IdleRSS, _, _ = procMem(child.pid())
	}
	cfg := loadConfig{
		Addr:      tr.Addr,
		PubPrefix: "sensors/dev",
		PubSuffix: "/data",
		SubFilter: tr.Subscribe,
		Extract:   s.extract,
		Devices:   o.devices,
		Count:     o.count,
		Rate:      o.rate,
		Window:    o.window,
		QoS:       byte(o.qos),
		SeqBase:   s.base,
		Timeout:   o.timeout,
		ClientID:  fmt.Sprintf("runnel-bench-%d-%d", os.Getpid(), i),
	}
	s.base += int64(o.count)
	var cpu0 time.Duration
	if child != nil {
		cpu0, _ = procCPU(child.pid())
	}
	var driver *deployDriver
	stopDeploys := func() {}
	if o.deploy > 0 && tr.httpAddr != "" {
		driver = &deployDriver{base: "http://" + tr.httpAddr, every: o.deploy, typ: o.deployTyp}
		dctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { driver.run(dctx); close(done) }()
		stopDeploys = func() { cancel(); <-done }
	}
	res, err := runLoad(ctx, cfg)
	stopDeploys()
	if driver != nil {
		ds := driver.stats()
		tr.Deploys = append(tr.Deploys, ds)
		progress("%s: run %d/%d: %d %s deploys during the run (p50 %.1f ms, max %.1f ms), %d failed %s", tr.Target, i+1, o.runs,
			ds.Deploys, ds.Type, ds.P50ms, ds.MaxMs, ds.Failed, ds.Error)
	}
	if child != nil && res.Received > 0 {
		if cpu1, err := procCPU(child.pid()); err == nil {
			res.ServerCPUus = float64(cpu1-cpu0) / 1e3 / float64(res.Received)
		}
	}
	if err != nil {
		if child != nil {
			select {
			case <-child.exited:
				return child.failure()
			default:
			}
		}
		return fmt.Errorf("run %d: %w", i+1, err)
	}
	tr.Runs = append(tr.Runs, res)
	note := ""
	if res.TimedOut {
		note = " (timed out)"
	}
	progress("%s: run %d/%d: %s msg/s, p50 %s, p99 %s, lost %d, duplicates %d%s", tr.Target, i+1, o.runs,
		fmtRate(res.MsgPerSec), fmtUs(res.P50us), fmtUs(res.P99us), res.Lost, res.Duplicates, note)
	return nil
}

// startTarget starts the target's server (none for --addr), waits until a
// message goes all the way through it, and fills in tr's address and
// topics. The caller defers cleanup, which stops the server, even on error.
func (o *benchOptions) startTarget(ctx context.Context, tr *targetReport, progress func(string, ...any)) (child *benchChild, extract extractKind, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	extract = extractAlert
	tr.Publish, tr.Subscribe = "sensors/dev<k>/data", "alerts/#"
	switch tr.Target {
	case "addr":
		tr.Addr = o.addr
		if o.relay {
			extract = extractJSON
			tr.Subscribe = "sensors/+/data"
		}
	case "runnel":
		exe, err := os.Executable()
		if err != nil {
			return nil, 0, cleanup, err
		}
		data, err := os.MkdirTemp("", "runnel-bench-")
		if err != nil {
			return nil, 0, cleanup, err
		}
		undo = append(undo, func() { os.RemoveAll(data) })
		mqttAddr, err1 := freeLoopbackAddr()
		httpAddr, err2 := freeLoopbackAddr()
		if err := errors.Join(err1, err2); err != nil {
			return nil, 0, cleanup, err
		}
		tr.Addr = mqttAddr
		procArgs := []string{}
		if o.procs > 0 {
			procArgs = append(procArgs, "--procs", strconv.Itoa(o.procs))
		}
		if o.profile != "" {
			procArgs = append(procArgs, "--cpuprofile", o.profile)
		}
		if o.relay {
			// The broker alone: runnel run with a flow file without
			// nodes, no HTTP server, no SQLite.
			extract = extractJSON
			tr.Subscribe = "sensors/+/data"
			empty := filepath.Join(data, "empty.json")
			if err := os.WriteFile(empty, []byte("[]\n"), 0o644); err != nil {
				return nil, 0, cleanup, err
			}
			progress("runnel: starting %s run (no flow) on %s", exe, mqttAddr)
			child, err = startChild("runnel run", nil, nil, exe, append(append([]string{"run", "--mqtt", mqttAddr,
				"--watch", "0", "--log-level", "warn"}, procArgs...), empty)...)
		} else {
			tr.httpAddr = httpAddr
			progress("runnel: starting %s serve on %s", exe, mqttAddr)
			child, err = startChild("runnel serve", nil, nil, exe, append([]string{"serve", "--mqtt", mqttAddr, "--http", httpAddr,
				"--data", data, "--log-level", "warn"}, procArgs...)...)
		}
		if err != nil {
			return nil, 0, cleanup, err
		}
	case "mosquitto":
		extract = extractJSON
		tr.Subscribe = "sensors/+/data"
		bin := o.mosquitto
		if bin == "" {
			var err error
			if bin, err = exec.LookPath("mosquitto"); err != nil {
				bin = "/usr/sbin/mosquitto"
			}
		}
		dir, err := os.MkdirTemp("", "runnel-bench-mosquitto-")
		if err != nil {
			return nil, 0, cleanup, err
		}
		undo = append(undo, func() { os.RemoveAll(dir) })
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, 0, cleanup, err
		}
		tr.Addr = addr
		_, port, _ := strings.Cut(addr, ":")
		cred := mosquittoUser()
		if cred != nil { // it must read its configuration
			if err := os.Chmod(dir, 0o755); err != nil {
				return nil, 0, cleanup, err
			}
		}
		conf := filepath.Join(dir, "mosquitto.conf")
		if err := os.WriteFile(conf, []byte(mosquittoConf(port)), 0o644); err != nil {
			return nil, 0, cleanup, err
		}
		progress("mosquitto: starting %s on %s", bin, addr)
		child, err = startChild("mosquitto", cred, nil, bin, "-c", conf)
		if err != nil {
			return nil, 0, cleanup, err
		}
	}
	if child != nil {
		c := child // the error returns below set the result child to nil before cleanup runs
		undo = append(undo, func() {
			c.stop()
			if tr.Error != "" {
				tr.ChildOutput = c.out.String()
			}
		})
		if err := child.waitPort(ctx, tr.Addr, 20*time.Second); err != nil {
			return nil, 0, cleanup, err
		}
		tr.ServerCPU = true
	}
	// The broker may accept connections before the flow is deployed:
	// wait until a message goes all the way through.
	if _, err := probe(ctx, tr.Addr, tr.Subscribe, extract, 20*time.Millisecond, 15*time.Second); err != nil {
		if child != nil {
			select {
			case <-child.exited:
				return nil, 0, cleanup, child.failure()
			default:
			}
		}
		return nil, 0, cleanup, fmt.Errorf("no message went through %s within 15 s (published to sensors/bench-probe/data, subscribed to %s): %w",
			tr.Addr, tr.Subscribe, err)
	}
	return child, extract, cleanup, nil
}

// mosquittoConf is the configuration of the mosquitto relay on port.
func mosquittoConf(port string) string {
	return "# written by runnel bench\n" +
		"listener " + port + " 127.0.0.1\n" +
		"allow_anonymous true\n" +
		"set_tcp_nodelay true\n" +
		"max_queued_messages 1000000\n" +
		"persistence false\n" +
		"log_dest none\n"
}

// medianResult returns the median of each figure of runs.
func medianResult(runs []loadResult) *loadResult {
	if len(runs) == 0 {
		return nil
	}
	mi := func(f func(r *loadResult) int) int {
		v := make([]float64, len(runs))
		for i := range runs {
			v[i] = float64(f(&runs[i]))
		}
		return int(median(v))
	}
	mf := func(f func(r *loadResult) float64) float64 {
		v := make([]float64, len(runs))
		for i := range runs {
			v[i] = f(&runs[i])
		}
		return median(v)
	}
	m := &loadResult{
		Sent:        mi(func(r *loadResult) int { return r.Sent }),
		Received:    mi(func(r *loadResult) int { return r.Received }),
		Lost:        mi(func(r *loadResult) int { return r.Lost }),
		Duplicates:  mi(func(r *loadResult) int { return r.Duplicates }),
		Stray:       mi(func(r *loadResult) int { return r.Stray }),
		ElapsedSec:  mf(func(r *loadResult) float64 { return r.ElapsedSec }),
		MsgPerSec:   mf(func(r *loadResult) float64 { return r.MsgPerSec }),
		P50us:       mf(func(r *loadResult) float64 { return r.P50us }),
		P99us:       mf(func(r *loadResult) float64 { return r.P99us }),
		MaxUs:       mf(func(r *loadResult) float64 { return r.MaxUs }),
		ClientCPUus: mf(func(r *loadResult) float64 { return r.ClientCPUus }),
		ServerCPUus: mf(func(r *loadResult) float64 { return r.ServerCPUus }),
	}
	for _, r := range runs {
		m.TimedOut = m.TimedOut || r.TimedOut
		m.DeliveredQoS = max(m.DeliveredQoS, r.DeliveredQoS)
	}
	return m
}

// median returns the median of v (0 for none), leaving v as it is.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// probe publishes to sensors/bench-probe/data every interval, with
// negative temperatures that no run uses, until something arrives on
// filter, and returns how long that took.
func probe(ctx context.Context, addr, filter string, extract extractKind, interval, timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := fmt.Sprintf("runnel-bench-%d-probe", os.Getpid())
	sub, err := dialBench(ctx, addr, id+"-sub")
	if err != nil {
		return 0, err
	}
	defer sub.close()
	if err := sub.subscribe(filter, 0, timeout); err != nil {
		return 0, err
	}
	pub, err := dialBench(ctx, addr, id+"-pub")
	if err != nil {
		return 0, err
	}
	defer pub.close()
	got := make(chan error, 1)
	go func() {
		var pk packets.Packet
		for {
			if err := sub.read(&pk); err != nil {
				got <- err
				return
			}
			if pk.FixedHeader.Type != packets.Publish {
				continue
			}
			if v, ok := extractSeq(pk.Payload, extract); ok && v < 0 {
				got <- nil
				return
			}
		}
	}()
	defer sub.c.SetReadDeadline(time.Now()) // stops the reader if still running
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish},
		ProtocolVersion: benchProtocol,
		TopicName:       "sensors/bench-probe/data",
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 1; ; i++ {
		pk.Payload = fmt.Appendf(nil, `{"temperature":-%d,"humidity":40}`, i)
		if err := pub.write(&pk); err != nil {
			return 0, err
		}
		if err := pub.w.Flush(); err != nil {
			return 0, err
		}
		select {
		case err := <-got:
			if err != nil {
				return 0, err
			}
			return time.Since(began), nil
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// measureStartup starts runnel run with the example flow n times and
// measures, from exec, when the MQTT port accepts a connection and when a
// published reading first produces an alert; the last time it also reads
// the idle RSS 2 s after exec.
func measureStartup(ctx context.Context, n int) *startupReport {
	sr := &startupReport{}
	fail := func(err error) *startupReport {
		sr.Error = err.Error()
		return sr
	}
	exe, err := os.Executable()
	if err != nil {
		return fail(err)
	}
	dir, err := os.MkdirTemp("", "runnel-bench-startup-")
	if err != nil {
		return fail(err)
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "example.json")
	if err := os.WriteFile(file, flows.Example, 0o644); err != nil {
		return fail(err)
	}
	for i := range n {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return fail(err)
		}
		began := time.Now()
		child, err := startChild("runnel run", nil, nil, exe, "run", "--mqtt", addr, "--log-level", "warn", file)
		if err != nil {
			return fail(err)
		}
		err = child.waitPort(ctx, addr, 20*time.Second)
		port := time.Since(began)
		if err == nil {
			_, err = probe(ctx, addr, "alerts/#", extractAlert, 2*time.Millisecond, 15*time.Second)
		}
		alert := time.Since(began)
		if err == nil && i == n-1 {
			select {
			case <-time.After(time.Until(began.Add(2 * time.Second))):
				sr.IdleRSS, _, err = procMem(child.pid())
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		child.stop()
		if err != nil {
			if out := child.out.String(); !strings.Contains(err.Error(), out) {
				err = fmt.Errorf("%w; its output:\n%s", err, out)
			}
			return fail(fmt.Errorf("start %d: %w", i+1, err))
		}
		sr.PortOpenMs = append(sr.PortOpenMs, float64(port)/1e6)
		sr.FirstAlertMs = append(sr.FirstAlertMs, float64(alert)/1e6)
	}
	sr.MedianPort = median(sr.PortOpenMs)
	sr.MedianAlert = median(sr.FirstAlertMs)
	return sr
}

// printReport prints rep: the medians, the ratios, the runs, the pairs
// of runs, failures, the start-up figures and the footnotes.
func printReport(w io.Writer, rep *benchReport) {
	mode := fmt.Sprintf("saturation (window %d)", rep.Window)
	if rep.Mode == "rate" {
		mode = fmt.Sprintf("fixed rate %s msg/s", fmtRate(rep.Rate))
	}
	if rep.BrokerOnly {
		mode += ", broker only (runnel run with no flow, a relay as mosquitto)"
	}
	fmt.Fprintf(w, "\nrunnel bench: %s, QoS %d, %d messages per run, %d devices, median of %d runs\n\n",
		mode, rep.QoS, rep.Count, rep.Devices, rep.Runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\ttopics\tmsg/s\tp50\tp99\tmax\tlost\tdup\tserver CPU/msg\tclient CPU/msg\tRSS idle\tRSS peak\t")
	for _, t := range rep.Targets {
		topics := t.Publish + " -> " + t.Subscribe
		m := t.Median
		if rep.QoS > 0 && m != nil {
			topics += fmt.Sprintf(" (QoS %d->%d)", rep.QoS, m.DeliveredQoS)
		}
		if m == nil {
			fmt.Fprintf(tw, "%s\t%s\tfailed (see below)\t\t\t\t\t\t\t\t\t\t\n", t.Target, topics)
			continue
		}
		cpu := "-"
		if t.ServerCPU {
			cpu = fmtCPU(m.ServerCPUus)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t\n", t.Target, topics,
			fmtRate(m.MsgPerSec), fmtUs(m.P50us), fmtUs(m.P99us), fmtUs(m.MaxUs), m.Lost, m.Duplicates,
			cpu, fmtCPU(m.ClientCPUus), fmtBytes(t.IdleRSS), fmtBytes(t.PeakRSS))
	}
	tw.Flush()
	if rep.Throughput > 0 || rep.CPUPerMsg > 0 {
		fmt.Fprintf(w, "\nrunnel/mosquitto (ratio of the medians): throughput %.2f×, server CPU per message %.2f×\n", rep.Throughput, rep.CPUPerMsg)
	}
	if p := rep.Paired; p != nil {
		fmt.Fprintf(w, "%s\n", pairedLine(p))
	}

	fmt.Fprintf(w, "\nruns:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trun\tsent\treceived\tlost\tdup\tstray\tseconds\tmsg/s\tp50\tp99\tmax\tserver CPU/msg\tclient CPU/msg\t")
	for _, t := range rep.Targets {
		for i, r := range t.Runs {
			cpu := "-"
			if t.ServerCPU {
				cpu = fmtCPU(r.ServerCPUus)
			}
			to := ""
			if r.TimedOut {
				to = " timed out"
			}
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.Target, i+1,
				r.Sent, r.Received, r.Lost, r.Duplicates, r.Stray, r.ElapsedSec, fmtRate(r.MsgPerSec),
				fmtUs(r.P50us), fmtUs(r.P99us), fmtUs(r.MaxUs), cpu, fmtCPU(r.ClientCPUus), to)
		}
	}
	tw.Flush()
	if p := rep.Paired; p != nil {
		fmt.Fprintf(w, "\npairs (runnel/mosquitto, run i of each, one right after the other):\n")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\tfirst\tp50\tp99\tserver CPU/msg\t")
		for _, pr := range p.Pairs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", pr.Run, pr.First, fmtRatio(pr.P50), fmtRatio(pr.P99), fmtRatio(pr.ServerCPUPerMsg))
		}
		tw.Flush()
	}
	for _, t := range rep.Targets {
		if t.Error != "" {
			fmt.Fprintf(w, "\n%s (%s) failed: %s\n", t.Target, t.Addr, t.Error)
			if t.ChildOutput != "" && !strings.Contains(t.Error, t.ChildOutput) {
				fmt.Fprintf(w, "its output:\n%s\n", t.ChildOutput)
			}
		}
	}
	if s := rep.Startup; s != nil {
		if s.Error != "" {
			fmt.Fprintf(w, "\nstart-up of runnel run failed: %s\n", s.Error)
		} else {
			fmt.Fprintf(w, "\nstart-up of runnel run FLOWFILE (example flow), median of %d: port open %.1f ms, first alert %.1f ms; idle RSS 2 s after exec %s\n",
				len(s.FirstAlertMs), s.MedianPort, s.MedianAlert, fmtBytes(s.IdleRSS))
			fmt.Fprintf(w, "  first alert (ms): %s\n", fmtList(s.FirstAlertMs))
		}
	}
	if rep.QoS > 0 {
		fmt.Fprintf(w, "\nQoS a->b: published at QoS a, received at QoS b (the example flow's mqtt-in and mqtt-out use QoS 0, so its alerts arrive at QoS 0; mosquitto keeps at most 20 QoS 1 messages in flight to the subscriber by default)\n")
	}
	if rep.Interleaved {
		fmt.Fprintf(w, "\nruns are interleaved: run 1 of each target, then run 2 of each, and so on, the order alternating from pair to pair (%s first in run 1); each target keeps its own server for all its runs, and the paired ratios compare the two runs of one pair\n",
			rep.Targets[0].Target)
	}
	fmt.Fprintf(w, "\nlatency is end to end (publisher's send to subscriber's receive, monotonic clock); msg/s is distinct messages received from the first send to the last receive\n")
	fmt.Fprintf(w, "CPU per message is user+system CPU time divided by delivered messages; server CPU from /proc/PID/stat at %d ticks/s; client CPU is this process (publisher and subscriber)\n", rep.ClockTicks)
	fmt.Fprintf(w, "environment: %s\n", rep.Environment)
	fmt.Fprintf(w, "reproduce: %s\n", rep.Command)
}

// pairedLine is the printed summary of the paired ratios.
func pairedLine(p *pairedRatios) string {
	who := "runnel " // named in the first count only
	fig := func(name string, s pairedSummary) string {
		if s.Pairs == 0 {
			return name + " -"
		}
		f := fmt.Sprintf("%s %.2f× (%sat or below in %d of %d)", name, s.Median, who, s.AtOrBelow, s.Pairs)
		who = ""
		return f
	}
	return fmt.Sprintf("paired (runnel/mosquitto, same pair of runs, median of %d): %s, %s, %s", len(p.Pairs),
		fig("p50", p.P50), fig("p99", p.P99), fig("server CPU per message", p.ServerCPUPerMsg))
}

// fmtRatio formats a ratio, or "-" for none.
func fmtRatio(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.2f×", *r)
}

// fmtList formats v with one decimal, separated by spaces.
func fmtList(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strings.Join(s, " ")
}

// fmtUs formats microseconds in µs, ms or s, or "-" for none.
func fmtUs(us float64) string {
	switch {
	case us <= 0:
		return "-"
	case us < 1000:
		return fmt.Sprintf("%.0fµs", us)
	case us < 1e6:
		return fmt.Sprintf("%.2fms", us/1e3)
	}
	return fmt.Sprintf("%.2fs", us/1e6)
}

// fmtCPU formats CPU microseconds per message.
func fmtCPU(us float64) string {
	return fmt.Sprintf("%.1fµs", us)
}

// fmtRate formats a rate as a whole number with thousands separators.
func fmtRate(r float64) string {
	n := int64(r + 0.5)
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtBytes formats a size in MiB, or "-" for none.
func fmtBytes(n int64) string {
	if n <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
