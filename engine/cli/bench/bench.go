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
stops again), one or a comma-separated list such as runnel,nodered:
  runnel     runnel serve with the example flow (or --flow); subscribes to
             alerts/# (or the flow's output topics)
  mosquitto  mosquitto as a bare relay (no flow); subscribes to the
             published topics, sensors/+/data
  nodered    Node-RED with mosquitto as its broker, running the --flow file;
             needs node and Node-RED (npm ci --prefix .ci/nodered in the
             repository; --nodered DIR for another place); its server CPU
             and memory are node's and mosquitto's together
  both       runnel and mosquitto, their runs interleaved, and the ratios
--addr drives an already running broker (loopback only) with the runnel
topics instead; there are no server CPU or memory figures then.
--relay measures runnel's broker alone, as mosquitto: runnel run with a flow
file without nodes, the subscriber on sensors/+/data.

--flow FILE runs a Node-RED flow file in runnel and Node-RED, with every
mqtt-broker config node pointed at the broker of the target (runnel's
embedded broker; the mosquitto started for Node-RED). The bench publishes
to the topics of the flow's mqtt in nodes (each + or # level becomes
dev<k>, one topic per device) and subscribes to the topics of its mqtt out
nodes; --in-topic and --out-topic set them instead. --payload is the
published payload, with {seq} for the sequence number, which the bench
reads in what arrives after the text before {seq} in the payload (such as
"temperature": in the default payload), or after --seq-after. Every
message must produce exactly one output message that carries its number.

With more than one target, the bench starts all servers first and then
interleaves the runs: run 1 of runnel, run 1 of mosquitto, run 2 of
mosquitto, run 2 of runnel, and so on (the first of each pair alternates),
each target on its one server throughout, so that both see about the same
machine when its speed drifts. Besides the ratio of the medians it reports,
for runnel and each other target, pair by pair, runnel/other of
throughput, p50, p99 and server CPU per message, their medians, and in
how many pairs runnel was at or above the other (throughput) or at or
below it (the rest). Node-RED's first run includes its JIT's warm-up.

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

	flowFile string // --flow: the flow of the runnel and nodered targets
	inTopic  string // --in-topic: publish topic templates, comma-separated, {k} the device
	outTopic string // --out-topic: subscription filters, comma-separated
	payload  string // --payload: template, {seq} the sequence number
	seqAfter string // --seq-after: the text before the sequence number in an output message
	nrDir    string // --nodered: where Node-RED is installed

	// Resolved by check.
	targets []string             // the targets to measure, in order
	flow    *benchFlow           // parsed --flow, or nil
	wl      workload             // topics, payload and markers
	nodered *noderedInstallation // when nodered is a target
}

// workload is what the publisher sends and the subscriber expects.
type workload struct {
	pub     []string        // publish topic templates ({k}: the device)
	out     []string        // subscription filters of a flow's output
	relay   []string        // subscription filters of the published topics (a bare relay)
	payload payloadTemplate // the published payload ({seq}: the number)
	text    string          // the payload template as given
	// outMark and relayMark are the text before the sequence number in
	// a flow's output and in a relayed message.
	outMark, relayMark extractKind
}

// targetReport is the measurement of one target.
type targetReport struct {
	Target      string         `json:"target"`
	Server      string         `json:"server,omitempty"` // what ran, when not runnel's own
	Addr        string         `json:"addr"`
	Publish     string         `json:"publish"`
	Subscribe   string         `json:"subscribe"`
	Runs        []loadResult   `json:"runs"`
	Median      *loadResult    `json:"median,omitempty"`
	IdleRSS     int64          `json:"idle_rss_bytes,omitempty"`
	PeakRSS     int64          `json:"peak_rss_bytes,omitempty"`
	ServerCPU   bool           `json:"-"` // server CPU figures are known
	outFilters  []string       // what the subscriber subscribes to
	extract     extractKind    // where the subscriber reads the sequence number
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
	Flow       string          `json:"flow,omitempty"`
	Payload    string          `json:"payload"`
	Targets    []*targetReport `json:"targets"`
	// Interleaved: the targets' runs alternated (runOrder), rather than
	// all runs of one target and then all of the next.
	Interleaved bool    `json:"interleaved,omitempty"`
	Throughput  float64 `json:"ratio_throughput_runnel_over_mosquitto,omitempty"`
	CPUPerMsg   float64 `json:"ratio_server_cpu_per_msg_runnel_over_mosquitto,omitempty"`
	// Paired compares run i of runnel with run i of mosquitto.
	Paired *pairedRatios `json:"paired_ratios_runnel_over_mosquitto,omitempty"`
	// Comparisons are runnel's figures over each other target's.
	Comparisons []*comparison  `json:"comparisons,omitempty"`
	Startup     *startupReport `json:"startup,omitempty"`
	Environment string         `json:"environment"`
}

// comparison is runnel over one other target: the ratio of the medians
// and the ratios within each pair of runs.
type comparison struct {
	Other      string        `json:"other"`
	Throughput float64       `json:"ratio_throughput,omitempty"`
	CPUPerMsg  float64       `json:"ratio_server_cpu_per_msg,omitempty"`
	Paired     *pairedRatios `json:"paired,omitempty"`
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
	fs.StringVar(&o.target, "target", "both", "`what` to measure: runnel, mosquitto, nodered, both (runnel,mosquitto) or a comma-separated list")
	fs.StringVar(&o.flowFile, "flow", "", "runnel and nodered: run this Node-RED flow `file` (its mqtt-broker nodes pointed at the target's broker) instead of the example flow")
	fs.StringVar(&o.inTopic, "in-topic", "", "publish to these `topics` (comma-separated; {k} is the device number); default: from the --flow's mqtt in nodes, else "+defaultPubTopic)
	fs.StringVar(&o.outTopic, "out-topic", "", "subscribe to these `filters` (comma-separated) for the flow's output; default: the --flow's mqtt out topics, else "+defaultOutTopic)
	fs.StringVar(&o.payload, "payload", defaultPayload, "published payload `template`; {seq} is the message's sequence number")
	fs.StringVar(&o.seqAfter, "seq-after", "", "read the sequence number in an output message after this `text` (default: \"changed to \" for the example flow, else the text before {seq} in --payload back to a '{', '[', ',' or space)")
	fs.StringVar(&o.nrDir, "nodered", "", "nodered: Node-RED's `directory` (holding node_modules/node-red, or node-red's own); default .ci/nodered in the working directory or a parent")
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
		Flow:        o.flowFile,
		Payload:     o.wl.text,
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

	targets := o.targets
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
	rep.Comparisons = compareTargets(rep.Targets, runOrder(len(targets), o.runs))
	for _, c := range rep.Comparisons {
		if c.Other == "mosquitto" { // the figures of --target both, as before
			rep.Throughput, rep.CPUPerMsg, rep.Paired = c.Throughput, c.CPUPerMsg, c.Paired
		}
	}
	if o.startup && !o.relay && o.addr == "" && o.flow == nil && slices.Contains(targets, "runnel") {
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
	if o.addr != "" {
		o.targets = []string{"addr"}
	} else {
		var err error
		if o.targets, err = parseTargets(o.target); err != nil {
			return err
		}
	}
	nodered := slices.Contains(o.targets, "nodered")
	switch {
	case nodered && o.flowFile == "":
		return errors.New("--target nodered needs --flow FILE, a Node-RED flow to run in both (the example flow uses runnel's own node types)")
	case o.flowFile != "" && o.relay:
		return errors.New("--relay measures the broker without a flow: not with --flow")
	case nodered && o.relay:
		return errors.New("--relay measures runnel's broker alone: not with --target nodered")
	case o.flowFile != "" && o.deploy > 0:
		return errors.New("--deploy-every changes the example flow's template: not with --flow")
	case nodered && o.conns > 0:
		return errors.New("--connections measures runnel and mosquitto: not with --target nodered")
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
	if err := o.resolveWorkload(); err != nil {
		return err
	}
	if nodered {
		var err error
		if o.nodered, err = findNodeRED(o.nrDir); err != nil {
			return err
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

// benchTargets are the targets --target may list.
var benchTargets = []string{"runnel", "mosquitto", "nodered"}

// parseTargets parses --target: both, or a comma-separated list of
// targets, each at most once.
func parseTargets(s string) ([]string, error) {
	if s == "both" {
		return []string{"runnel", "mosquitto"}, nil
	}
	var targets []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		switch {
		case !slices.Contains(benchTargets, t):
			return nil, fmt.Errorf("--target %q: want runnel, mosquitto, nodered, both or a comma-separated list of the first three", s)
		case slices.Contains(targets, t):
			return nil, fmt.Errorf("--target %q: %s twice", s, t)
		}
		targets = append(targets, t)
	}
	return targets, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// resolveWorkload reads --flow and fills in o.wl: the topics from the
// flags, else from the flow, else the defaults; the payload; and where
// the subscriber reads the sequence number.
func (o *benchOptions) resolveWorkload() error {
	wl := &o.wl
	var err error
	if wl.payload, err = parsePayload(o.payload); err != nil {
		return err
	}
	wl.text = o.payload
	wl.pub, wl.out = splitList(o.inTopic), splitList(o.outTopic)
	if o.flowFile != "" {
		if o.flow, err = readBenchFlow(o.flowFile); err != nil {
			return err
		}
		pub, out, _, inErr, outErr := o.flow.topics()
		var errs []error
		if len(wl.pub) == 0 {
			wl.pub, errs = pub, append(errs, inErr)
		}
		if len(wl.out) == 0 {
			wl.out, errs = out, append(errs, outErr)
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("--flow %s: %w", o.flowFile, err)
		}
	}
	if len(wl.pub) == 0 {
		wl.pub = []string{defaultPubTopic}
	}
	if len(wl.out) == 0 {
		wl.out = []string{defaultOutTopic}
	}
	for _, t := range wl.pub {
		if strings.ContainsAny(t, "+#") {
			return fmt.Errorf("--in-topic %q: a publish topic has no wildcards ({k} is the device number)", t)
		}
	}
	for _, t := range wl.pub {
		if f := filterOf(t); !slices.Contains(wl.relay, f) {
			wl.relay = append(wl.relay, f)
		}
	}
	wl.relayMark = extractKind(seqMarker(o.payload))
	switch {
	case o.seqAfter != "":
		wl.outMark = extractKind(o.seqAfter)
	case o.flow == nil:
		wl.outMark = extractAlert
	default:
		wl.outMark = wl.relayMark
	}
	return nil
}

// command is the command line that repeats this bench.
func (o *benchOptions) command() string {
	a := []string{"runnel", "bench"}
	if o.addr != "" {
		a = append(a, "--addr", o.addr)
	} else {
		a = append(a, "--target", strings.Join(o.targets, ","))
	}
	if o.flowFile != "" {
		a = append(a, "--flow", o.flowFile)
	}
	if o.inTopic != "" {
		a = append(a, "--in-topic", shellQuote(o.inTopic))
	}
	if o.outTopic != "" {
		a = append(a, "--out-topic", shellQuote(o.outTopic))
	}
	if o.payload != defaultPayload {
		a = append(a, "--payload", shellQuote(o.payload))
	}
	if o.seqAfter != "" {
		a = append(a, "--seq-after", shellQuote(o.seqAfter))
	}
	if o.nrDir != "" {
		a = append(a, "--nodered", o.nrDir)
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

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/._-+:,@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// compareTargets compares runnel with each other target that has a
// median: the ratios of the medians, and pair by pair, where the runs of
// pair i are the ones of rounds[i] (indices into trs).
func compareTargets(trs []*targetReport, rounds [][]int) []*comparison {
	ri := slices.IndexFunc(trs, func(t *targetReport) bool { return t.Target == "runnel" })
	if ri < 0 || trs[ri].Median == nil {
		return nil
	}
	r := trs[ri]
	var cs []*comparison
	for oi, m := range trs {
		if oi == ri || m.Median == nil {
			continue
		}
		c := &comparison{Other: m.Target}
		if m.Median.MsgPerSec > 0 {
			c.Throughput = r.Median.MsgPerSec / m.Median.MsgPerSec
		}
		if m.Median.ServerCPUus > 0 {
			c.CPUPerMsg = r.Median.ServerCPUus / m.Median.ServerCPUus
		}
		first := make([]string, len(rounds))
		for i, round := range rounds {
			if slices.Index(round, ri) < slices.Index(round, oi) {
				first[i] = r.Target
			} else {
				first[i] = m.Target
			}
		}
		c.Paired = pairRuns(r.Runs, m.Runs, first)
		cs = append(cs, c)
	}
	return cs
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
	tr       *targetReport
	children []*benchChild // the server's processes; none for --addr
	cleanup  func()        // stops the server; nil once stopped
	base     int64         // SeqBase of the next run
}

// stop stops the session's server, once.
func (s *targetSession) stop() {
	if s.cleanup != nil {
		s.cleanup()
		s.cleanup = nil
	}
}

// serverCPU is the CPU time the server's processes have used.
func serverCPU(children []*benchChild) (time.Duration, error) {
	var sum time.Duration
	for _, c := range children {
		t, err := procCPU(c.pid())
		if err != nil {
			return 0, err
		}
		sum += t
	}
	return sum, nil
}

// serverMem is the resident memory of the server's processes, now and at
// their peaks, summed.
func serverMem(children []*benchChild) (rss, hwm int64) {
	for _, c := range children {
		r, h, _ := procMem(c.pid())
		rss += r
		hwm += h
	}
	return rss, hwm
}

// exitedChild returns the failure of a server process that has exited,
// or nil.
func exitedChild(children []*benchChild) error {
	for _, c := range children {
		select {
		case <-c.exited:
			return c.failure()
		default:
		}
	}
	return nil
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
		s.children, s.cleanup, err = o.startTarget(ctx, tr, progress)
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
		if len(s.children) > 0 {
			_, s.tr.PeakRSS = serverMem(s.children)
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
	tr, children := s.tr, s.children
	if len(children) > 0 && i == 0 {
		tr.IdleRSS, _ = serverMem(children)
	}
	cfg := loadConfig{
		Addr:       tr.Addr,
		PubTopics:  o.wl.pub,
		Payload:    o.wl.payload,
		SubFilters: tr.outFilters,
		Extract:    tr.extract,
		Devices:    o.devices,
		Count:      o.count,
		Rate:       o.rate,
		Window:     o.window,
		QoS:        byte(o.qos),
		SeqBase:    s.base,
		Timeout:    o.timeout,
		ClientID:   fmt.Sprintf("runnel-bench-%d-%d", os.Getpid(), i),
	}
	s.base += int64(o.count)
	var cpu0 time.Duration
	if len(children) > 0 {
		cpu0, _ = serverCPU(children)
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
	if len(children) > 0 && res.Received > 0 {
		if cpu1, err := serverCPU(children); err == nil {
			res.ServerCPUus = float64(cpu1-cpu0) / 1e3 / float64(res.Received)
		}
	}
	if err != nil {
		if err := exitedChild(children); err != nil {
			return err
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
// message goes all the way through it, and fills in tr's address, topics
// and how to read what arrives. It returns the server's processes, whose
// CPU time and memory are the server's. The caller defers cleanup, which
// stops the server, even on error.
func (o *benchOptions) startTarget(ctx context.Context, tr *targetReport, progress func(string, ...any)) (children []*benchChild, cleanup func(), err error) {
	var undo []func()
	cleanup = func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	// started adds a process to the server's, stopped by cleanup.
	started := func(c *benchChild) {
		children = append(children, c)
		undo = append(undo, func() {
			c.stop()
			if tr.Error != "" {
				if tr.ChildOutput != "" {
					tr.ChildOutput += "\n"
				}
				tr.ChildOutput += c.name + ": " + c.out.String()
			}
		})
	}
	tempDir := func(pattern string) (string, error) {
		dir, err := os.MkdirTemp("", pattern)
		if err == nil {
			undo = append(undo, func() { os.RemoveAll(dir) })
		}
		return dir, err
	}
	tr.outFilters, tr.extract = o.wl.out, o.wl.outMark
	relay := func() { tr.outFilters, tr.extract = o.wl.relay, o.wl.relayMark }
	tr.Publish = strings.ReplaceAll(strings.Join(o.wl.pub, ", "), deviceVar, "<k>")
	probeTimeout := 15 * time.Second
	switch tr.Target {
	case "addr":
		tr.Addr = o.addr
		if o.relay {
			relay()
		}
	case "runnel":
		exe, err := os.Executable()
		if err != nil {
			return nil, cleanup, err
		}
		data, err := tempDir("runnel-bench-")
		if err != nil {
			return nil, cleanup, err
		}
		mqttAddr, err1 := freeLoopbackAddr()
		httpAddr, err2 := freeLoopbackAddr()
		if err := errors.Join(err1, err2); err != nil {
			return nil, cleanup, err
		}
		tr.Addr = mqttAddr
		procArgs := []string{}
		if o.procs > 0 {
			procArgs = append(procArgs, "--procs", strconv.Itoa(o.procs))
		}
		if o.profile != "" {
			procArgs = append(procArgs, "--cpuprofile", o.profile)
		}
		var child *benchChild
		if o.relay {
			// The broker alone: runnel run with a flow file without
			// nodes, no HTTP server, no SQLite.
			relay()
			empty := filepath.Join(data, "empty.json")
			if err := os.WriteFile(empty, []byte("[]\n"), 0o644); err != nil {
				return nil, cleanup, err
			}
			progress("runnel: starting %s run (no flow) on %s", exe, mqttAddr)
			child, err = startChild("runnel run", nil, nil, exe, append(append([]string{"run", "--mqtt", mqttAddr,
				"--watch", "0", "--log-level", "warn"}, procArgs...), empty)...)
		} else {
			if o.flow != nil {
				// serve imports DATA/flows.json on its first start.
				_, port, _ := strings.Cut(mqttAddr, ":")
				doc, _, err := o.flow.withBroker(port)
				if err != nil {
					return nil, cleanup, err
				}
				if err := os.WriteFile(filepath.Join(data, "flows.json"), doc, 0o644); err != nil {
					return nil, cleanup, err
				}
			}
			tr.httpAddr = httpAddr
			progress("runnel: starting %s serve on %s", exe, mqttAddr)
			child, err = startChild("runnel serve", nil, nil, exe, append([]string{"serve", "--mqtt", mqttAddr, "--http", httpAddr,
				"--data", data, "--log-level", "warn"}, procArgs...)...)
		}
		if err != nil {
			return nil, cleanup, err
		}
		started(child)
	case "mosquitto":
		relay()
		child, addr, err := o.startMosquitto(tempDir, progress)
		if err != nil {
			return nil, cleanup, err
		}
		started(child)
		tr.Addr = addr
	case "nodered":
		nr := o.nodered
		mosq, addr, err := o.startMosquitto(tempDir, progress)
		if err != nil {
			return nil, cleanup, err
		}
		started(mosq) // first: cleanup stops node-red before it
		tr.Addr = addr
		// Before Node-RED starts, so that it connects at once rather
		// than after its reconnect period.
		if err := mosq.waitPort(ctx, addr, 20*time.Second); err != nil {
			return nil, cleanup, err
		}
		dir, err := tempDir("runnel-bench-nodered-")
		if err != nil {
			return nil, cleanup, err
		}
		_, port, _ := strings.Cut(addr, ":")
		doc, brokers, err := o.flow.withBroker(port)
		if err != nil {
			return nil, cleanup, err
		}
		if brokers == 0 {
			return nil, cleanup, fmt.Errorf("--flow %s has no mqtt-broker config node: Node-RED's mqtt nodes need one", o.flowFile)
		}
		uiAddr, err := freeLoopbackAddr()
		if err != nil {
			return nil, cleanup, err
		}
		_, uiPort, _ := strings.Cut(uiAddr, ":")
		settings := filepath.Join(dir, "settings.js")
		if err := errors.Join(
			os.WriteFile(filepath.Join(dir, "flows.json"), doc, 0o600),
			os.WriteFile(settings, []byte(noderedSettings(uiPort)), 0o600),
		); err != nil {
			return nil, cleanup, err
		}
		nodeVersion := "?"
		if out, err := exec.Command(nr.node, "--version").Output(); err == nil {
			nodeVersion = strings.TrimSpace(string(out))
		}
		tr.Server = fmt.Sprintf("Node-RED %s (node %s) with mosquitto", nr.version, nodeVersion)
		progress("nodered: starting Node-RED %s (%s) on %s, its broker mosquitto on %s", nr.version, nr.redJS, uiAddr, addr)
		child, err := startChild("node-red", nil, nil, nr.node, nr.redJS, "--userDir", dir, "--port", uiPort, "--settings", settings)
		if err != nil {
			return nil, cleanup, err
		}
		started(child)
		if err := child.waitPort(ctx, uiAddr, 60*time.Second); err != nil {
			return nil, cleanup, err
		}
		probeTimeout = 60 * time.Second // it connects to mosquitto after it listens
	}
	tr.Subscribe = strings.Join(tr.outFilters, ", ")
	if tr.Target == "runnel" || tr.Target == "mosquitto" {
		if err := children[0].waitPort(ctx, tr.Addr, 20*time.Second); err != nil {
			return nil, cleanup, err
		}
	}
	tr.ServerCPU = len(children) > 0
	// The broker may accept connections before the flow is deployed:
	// wait until a message goes all the way through.
	if _, err := probe(ctx, tr.Addr, o.wl.pub[0], o.wl.payload, tr.outFilters, tr.extract, 20*time.Millisecond, probeTimeout); err != nil {
		if err := exitedChild(children); err != nil {
			return nil, cleanup, err
		}
		return nil, cleanup, fmt.Errorf("no message went through %s within %v (published to %s, subscribed to %s): %w",
			tr.Addr, probeTimeout, probeTopic(o.wl.pub[0]), tr.Subscribe, err)
	}
	return children, cleanup, nil
}

// startMosquitto starts mosquitto on a free loopback port, with its
// configuration in a directory from tempDir.
func (o *benchOptions) startMosquitto(tempDir func(string) (string, error), progress func(string, ...any)) (*benchChild, string, error) {
	bin := o.mosquitto
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("mosquitto"); err != nil {
			bin = "/usr/sbin/mosquitto"
		}
	}
	dir, err := tempDir("runnel-bench-mosquitto-")
	if err != nil {
		return nil, "", err
	}
	addr, err := freeLoopbackAddr()
	if err != nil {
		return nil, "", err
	}
	_, port, _ := strings.Cut(addr, ":")
	cred := mosquittoUser()
	if cred != nil { // it must read its configuration
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, "", err
		}
	}
	conf := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(conf, []byte(mosquittoConf(port)), 0o644); err != nil {
		return nil, "", err
	}
	progress("mosquitto: starting %s on %s", bin, addr)
	child, err := startChild("mosquitto", cred, nil, bin, "-c", conf)
	if err != nil {
		return nil, "", fmt.Errorf("%w (Debian: apt-get install mosquitto)", err)
	}
	return child, addr, nil
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

// probeTopic is the topic of the probe: the publish topic template with
// the device bench-probe.
func probeTopic(pub string) string {
	return strings.ReplaceAll(strings.ReplaceAll(pub, "dev"+deviceVar, "bench-probe"), deviceVar, "bench-probe")
}

// probe publishes to probeTopic(pubTopic) every interval, with payload's
// sequence number negative (-1, -2, …: numbers no run uses), until a
// message with a negative number arrives on filters, and returns how
// long that took.
func probe(ctx context.Context, addr, pubTopic string, payload payloadTemplate, filters []string, extract extractKind, interval, timeout time.Duration) (time.Duration, error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	id := fmt.Sprintf("runnel-bench-%d-probe", os.Getpid())
	sub, err := dialBench(ctx, addr, id+"-sub")
	if err != nil {
		return 0, err
	}
	defer sub.close()
	if err := sub.subscribeAll(subscriptions(filters, 0), timeout); err != nil {
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
		TopicName:       probeTopic(pubTopic),
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 1; ; i++ {
		pk.Payload = payload.appendPayload(nil, -int64(i))
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
			_, err = probe(ctx, addr, defaultPubTopic, defaultPayloadTemplate, []string{defaultOutTopic}, extractAlert, 2*time.Millisecond, 15*time.Second)
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
	fmt.Fprintf(w, "\nrunnel bench: %s, QoS %d, %d messages per run, %d devices, median of %d runs\n",
		mode, rep.QoS, rep.Count, rep.Devices, rep.Runs)
	if rep.Flow != "" {
		fmt.Fprintf(w, "flow %s (runnel and nodered), payload %s\n", rep.Flow, rep.Payload)
	} else if rep.Payload != defaultPayload {
		fmt.Fprintf(w, "payload %s\n", rep.Payload)
	}
	fmt.Fprintln(w)
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
	for _, c := range rep.Comparisons {
		fmt.Fprintf(w, "\nrunnel/%s (ratio of the medians): throughput %.2f×, server CPU per message %.2f×\n", c.Other, c.Throughput, c.CPUPerMsg)
		if c.Paired != nil {
			fmt.Fprintf(w, "%s\n", pairedLine(c.Other, c.Paired))
		}
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
	for _, c := range rep.Comparisons {
		p := c.Paired
		if p == nil {
			continue
		}
		fmt.Fprintf(w, "\npairs (runnel/%s, run i of each, in the same round of runs):\n", c.Other)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "run\tfirst\tmsg/s\tp50\tp99\tserver CPU/msg\t")
		for _, pr := range p.Pairs {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t\n", pr.Run, pr.First, fmtRatio(pr.Throughput), fmtRatio(pr.P50), fmtRatio(pr.P99), fmtRatio(pr.ServerCPUPerMsg))
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
	for _, t := range rep.Targets {
		if t.Server != "" {
			fmt.Fprintf(w, "\n%s is %s; its server CPU and memory are those of both processes together\n", t.Target, t.Server)
		}
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

// pairedLine is the printed summary of the paired ratios of runnel over
// other.
func pairedLine(other string, p *pairedRatios) string {
	fig := func(name string, s pairedSummary, above bool) string {
		if s.Pairs == 0 {
			return name + " -"
		}
		if above {
			return fmt.Sprintf("%s %.2f× (runnel at or above in %d of %d)", name, s.Median, s.AtOrAbove, s.Pairs)
		}
		return fmt.Sprintf("%s %.2f× (runnel at or below in %d of %d)", name, s.Median, s.AtOrBelow, s.Pairs)
	}
	return fmt.Sprintf("paired (runnel/%s, same pair of runs, median of %d): %s, %s, %s, %s", other, len(p.Pairs),
		fig("throughput", p.Throughput, true), fig("p50", p.P50, false), fig("p99", p.P99, false),
		fig("server CPU per message", p.ServerCPUPerMsg, false))
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
