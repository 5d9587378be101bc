package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// maxBenchConns bounds --connections.
const maxBenchConns = 100_000

// connsBufSize is the read and write buffer of each held connection: a
// few small packets go through each, and 10,000 of them must stay cheap.
const connsBufSize = 512

// connsConfig is one --connections run: N clients connect and subscribe,
// are held idle for Hold, then get one message each on their own topic and
// one message published to all of them.
type connsConfig struct {
	Addr     string
	N        int
	Hold     time.Duration
	ClientID string // prefix of the client IDs and topics
	// Dialers is how many connections are being set up at once
	// (default 64).
	Dialers int
	// Readers is how many goroutines read the held connections, each a
	// share of them in turn (default 64); no goroutine per connection.
	Readers int
	// Timeout bounds each phase: connecting, and each delivery (default
	// 30 s + 2 ms per connection).
	Timeout time.Duration
	// Server, when set, reads the server's CPU time and memory (resident
	// now and peak) at the boundaries between phases.
	Server func() (cpu time.Duration, rss, hwm int64, err error)
	// Progress, when set, reports the phases.
	Progress func(format string, a ...any)
}

// connsResult is what one --connections run measured.
type connsResult struct {
	Connections  int     `json:"connections"`
	ConnectSec   float64 `json:"connect_s"` // first dial to last SUBACK, all connections
	ConnectPerS  float64 `json:"connects_per_s"`
	ConnectP50ms float64 `json:"connect_p50_ms"` // one connection: dial, CONNECT, CONNACK, SUBSCRIBE, SUBACK
	ConnectP99ms float64 `json:"connect_p99_ms"`
	ConnectMaxMs float64 `json:"connect_max_ms"`
	// One message to each client's own topic (N messages from one
	// publisher), from the first publish to the last receipt.
	OwnSec      float64 `json:"own_topic_s"`
	OwnReceived int     `json:"own_topic_received"`
	// One message to a topic every client subscribes to.
	FanoutSec      float64 `json:"fanout_s"`
	FanoutReceived int     `json:"fanout_received"`
	Wrong          int     `json:"wrong,omitempty"` // unexpected topic, payload or duplicate

	Server          bool    `json:"-"`                            // the server figures are known
	ServerConnectUs float64 `json:"server_cpu_us_per_connection"` // connect and subscribe
	ServerHoldPct   float64 `json:"server_cpu_hold_percent"`      // of one core, while holding idle connections
	ServerOwnUs     float64 `json:"server_cpu_us_per_own_message"`
	ServerFanoutUs  float64 `json:"server_cpu_us_per_fanout_delivery"`
	RSSIdle         int64   `json:"rss_idle_bytes"` // before connecting
	RSSHeld         int64   `json:"rss_held_bytes"` // after holding N connections
	RSSPeak         int64   `json:"rss_peak_bytes"`
	RSSPerConn      float64 `json:"rss_per_connection_bytes"` // (held - idle) / N
}

// runConns runs one --connections measurement against cfg.Addr.
func runConns(ctx context.Context, cfg connsConfig) (connsResult, error) {
	if cfg.N < 1 || cfg.N > maxBenchConns {
		return connsResult{}, fmt.Errorf("connections %d out of range 1..%d", cfg.N, maxBenchConns)
	}
	if cfg.Dialers <= 0 {
		cfg.Dialers = 64
	}
	if cfg.Readers <= 0 {
		cfg.Readers = 64
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30*time.Second + time.Duration(cfg.N)*2*time.Millisecond
	}
	if cfg.ClientID == "" {
		cfg.ClientID = fmt.Sprintf("runnel-bench-%d", os.Getpid())
	}
	progress := cfg.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	res := connsResult{Connections: cfg.N}
	type sample struct {
		cpu       time.Duration
		rss, hwm  int64
		at        time.Time
		available bool
	}
	snap := func() sample {
		s := sample{at: time.Now()}
		if cfg.Server != nil {
			var err error
			s.cpu, s.rss, s.hwm, err = cfg.Server()
			s.available = err == nil
		}
		return s
	}
	ownTopic := func(i int) string { return cfg.ClientID + "/c/" + strconv.Itoa(i) }
	allTopic := cfg.ClientID + "/all"

	conns := make([]*benchConn, cfg.N)
	defer closeAll(conns)

	// Connect and subscribe, cfg.Dialers at a time.
	s0 := snap()
	progress("connecting %d clients", cfg.N)
	took := make([]time.Duration, cfg.N)
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	began := time.Now()
	for range min(cfg.Dialers, cfg.N) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.N || dctx.Err() != nil {
					return
				}
				t := time.Now()
				c, err := dialBenchSize(dctx, cfg.Addr, cfg.ClientID+"-"+strconv.Itoa(i), connsBufSize)
				if err == nil {
					conns[i] = c
					err = c.subscribeAll(packets.Subscriptions{{Filter: ownTopic(i)}, {Filter: allTopic}}, 5*time.Second)
				}
				if err != nil {
					errOnce.Do(func() {
						firstErr = fmt.Errorf("connection %d of %d: %w", i+1, cfg.N, err)
						cancel()
					})
					return
				}
				took[i] = time.Since(t)
			}
		}()
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr == nil && dctx.Err() != nil {
		firstErr = fmt.Errorf("connecting %d clients took longer than %v", cfg.N, cfg.Timeout)
	}
	if firstErr != nil {
		return res, firstErr
	}
	s1 := snap()
	res.ConnectSec = s1.at.Sub(began).Seconds()
	res.ConnectPerS = float64(cfg.N) / res.ConnectSec
	slices.Sort(took)
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	res.ConnectP50ms = ms(took[(len(took)-1)*50/100])
	res.ConnectP99ms = ms(took[(len(took)-1)*99/100])
	res.ConnectMaxMs = ms(took[len(took)-1])
	progress("%d clients connected and subscribed in %.2f s; holding them for %v", cfg.N, res.ConnectSec, cfg.Hold)

	select {
	case <-time.After(cfg.Hold):
	case <-ctx.Done():
		return res, ctx.Err()
	}
	s2 := snap()

	pub, err := dialBench(ctx, cfg.Addr, cfg.ClientID+"-pub")
	if err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	defer pub.close()
	publish := func(topic, payload string) error {
		return pub.write(&packets.Packet{
			FixedHeader:     packets.FixedHeader{Type: packets.Publish},
			ProtocolVersion: benchProtocol,
			TopicName:       topic,
			Payload:         []byte(payload),
		})
	}

	// One message to each client's own topic.
	progress("publishing one message to each client's own topic")
	s3 := snap()
	own, ownSec, err := cfg.deliver(ctx, conns, func() error {
		for i := range conns {
			if err := publish(ownTopic(i), strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return pub.w.Flush()
	}, func(i int) (string, string) { return ownTopic(i), strconv.Itoa(i) })
	if err != nil {
		return res, err
	}
	res.OwnReceived, res.OwnSec = own.ok, ownSec
	res.Wrong += own.wrong
	s4 := snap()

	// One message to all of them.
	progress("publishing one message to all %d clients", cfg.N)
	fan, fanSec, err := cfg.deliver(ctx, conns, func() error {
		if err := publish(allTopic, "all"); err != nil {
			return err
		}
		return pub.w.Flush()
	}, func(int) (string, string) { return allTopic, "all" })
	if err != nil {
		return res, err
	}
	res.FanoutReceived, res.FanoutSec = fan.ok, fanSec
	res.Wrong += fan.wrong
	s5 := snap()

	if s0.available && s1.available && s2.available && s3.available && s4.available && s5.available {
		res.Server = true
		us := func(d time.Duration, n int) float64 {
			if n == 0 {
				return 0
			}
			return float64(d) / 1e3 / float64(n)
		}
		res.ServerConnectUs = us(s1.cpu-s0.cpu, cfg.N)
		if hold := s2.at.Sub(s1.at); hold > 0 {
			res.ServerHoldPct = 100 * float64(s2.cpu-s1.cpu) / float64(hold)
		}
		res.ServerOwnUs = us(s4.cpu-s3.cpu, res.OwnReceived)
		res.ServerFanoutUs = us(s5.cpu-s4.cpu, res.FanoutReceived)
		res.RSSIdle, res.RSSHeld, res.RSSPeak = s0.rss, s2.rss, s5.hwm
		res.RSSPerConn = float64(s2.rss-s0.rss) / float64(cfg.N)
	}
	return res, nil
}

// tally counts what the held connections received in one delivery.
type tally struct{ ok, wrong int }

// deliver starts the readers of the held connections, calls send, and
// waits until every connection got the message want(i) names or the phase
// times out. It returns the counts and the time from send to the last
// receipt.
func (cfg *connsConfig) deliver(ctx context.Context, conns []*benchConn, send func() error, want func(i int) (topic, payload string)) (tally, float64, error) {
	deadline := time.Now().Add(cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var (
		mu    sync.Mutex
		total tally
		last  time.Time
		wg    sync.WaitGroup
	)
	start := make(chan struct{})
	for w := range min(cfg.Readers, len(conns)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var t tally
			var latest time.Time
			var pk packets.Packet
			for i := w; i < len(conns); i += cfg.Readers {
				c := conns[i]
				topic, payload := want(i)
				c.c.SetReadDeadline(deadline)
				for {
					if err := c.read(&pk); err != nil {
						break // timed out (counted as missing) or broken
					}
					if pk.FixedHeader.Type != packets.Publish {
						continue
					}
					if pk.TopicName == topic && string(pk.Payload) == payload {
						t.ok++
						latest = time.Now()
						break
					}
					t.wrong++
				}
			}
			mu.Lock()
			total.ok += t.ok
			total.wrong += t.wrong
			if latest.After(last) {
				last = latest
			}
			mu.Unlock()
		}()
	}
	began := time.Now()
	close(start)
	err := send()
	if err != nil {
		// Unblock the readers at once.
		for _, c := range conns {
			c.c.SetReadDeadline(time.Now())
		}
	}
	wg.Wait()
	for _, c := range conns {
		c.c.SetReadDeadline(time.Time{})
	}
	if err != nil {
		return total, 0, fmt.Errorf("publish: %w", err)
	}
	sec := 0.0
	if !last.IsZero() {
		sec = last.Sub(began).Seconds()
	}
	return total, sec, ctx.Err()
}

// closeAll disconnects every connection in conns, a few at a time.
func closeAll(conns []*benchConn) {
	var wg sync.WaitGroup
	const workers = 32
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(conns); i += workers {
				if conns[i] != nil {
					conns[i].close()
					conns[i] = nil
				}
			}
		}()
	}
	wg.Wait()
}

// raiseNoFile raises this process's open-file limit (RLIMIT_NOFILE) to at
// least need, the hard limit too if it is lower and the process may, and
// returns the new soft limit. Child processes inherit it: calling
// Setrlimit also stops Go from restoring the original soft limit in the
// children it starts.
func raiseNoFile(need uint64) (uint64, error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, fmt.Errorf("open-file limit: %w", err)
	}
	want := rl
	want.Cur = max(rl.Cur, need)
	if want.Max < want.Cur {
		want.Max = want.Cur
	}
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		if rl.Max >= need {
			return rl.Cur, fmt.Errorf("open-file limit: raise to %d: %w", need, err)
		}
		return rl.Cur, fmt.Errorf("open-file limit: %d connections need %d open files, the hard limit is %d and cannot be raised (%v): raise it with ulimit -Hn or run as root",
			need-connsSpareFiles, need, rl.Max, err)
	}
	return want.Cur, nil
}

// connsSpareFiles are the open files beyond one per connection that the
// bench and a server need (listeners, the publisher, logs, SQLite).
const connsSpareFiles = 256

// connsReport is the result of runnel bench --connections.
type connsReport struct {
	Command     string         `json:"command"`
	Connections int            `json:"connections"`
	HoldSec     float64        `json:"hold_s"`
	Runs        int            `json:"runs"`
	NoFile      uint64         `json:"open_file_limit"`
	Started     time.Time      `json:"started"`
	Targets     []*connsTarget `json:"targets"`
	Environment string         `json:"environment"`
}

type connsTarget struct {
	Target string        `json:"target"`
	Runs   []connsResult `json:"runs"`
	Median *connsResult  `json:"median,omitempty"`
	Error  string        `json:"error,omitempty"`
}

// benchConns is runnel bench --connections: for each target, o.runs times,
// a fresh server and one runConns against it.
func (o *benchOptions) benchConns(ctx context.Context, targets []string, stdout io.Writer, progress func(string, ...any)) error {
	limit, err := raiseNoFile(uint64(o.conns) + connsSpareFiles)
	if err != nil {
		return err
	}
	rep := &connsReport{
		Command:     o.command(),
		Connections: o.conns,
		HoldSec:     o.hold.Seconds(),
		Runs:        o.runs,
		NoFile:      limit,
		Started:     time.Now(),
		Environment: benchEnvironment(),
	}
	var failed []error
	for _, name := range targets {
		ct := &connsTarget{Target: name}
		rep.Targets = append(rep.Targets, ct)
		for i := range o.runs {
			res, err := o.connsRun(ctx, name, i, progress)
			if err != nil {
				ct.Error = fmt.Sprintf("run %d: %v", i+1, err)
				failed = append(failed, fmt.Errorf("%s failed (details above)", name))
				progress("%s: %s", name, ct.Error)
				break
			}
			ct.Runs = append(ct.Runs, res)
			progress("%s: run %d/%d: %d connections in %.2f s, RSS %s (%.1f KiB per connection), own topic %d/%d, fan-out %d/%d",
				name, i+1, o.runs, res.Connections, res.ConnectSec, fmtBytes(res.RSSHeld), res.RSSPerConn/1024,
				res.OwnReceived, res.Connections, res.FanoutReceived, res.Connections)
			if res.OwnReceived != res.Connections || res.FanoutReceived != res.Connections || res.Wrong != 0 {
				failed = append(failed, fmt.Errorf("%s run %d: not every client got its messages", name, i+1))
			}
		}
		ct.Median = medianConns(ct.Runs)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	printConns(stdout, rep)
	if o.jsonFile != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(o.jsonFile, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	return errors.Join(failed...)
}

// connsRun starts target's server and runs one measurement against it.
func (o *benchOptions) connsRun(ctx context.Context, target string, run int, progress func(string, ...any)) (connsResult, error) {
	tr := &targetReport{Target: target}
	children, cleanup, err := o.startTarget(ctx, tr, progress)
	defer cleanup()
	if err != nil {
		return connsResult{}, err
	}
	cfg := connsConfig{
		Addr:     tr.Addr,
		N:        o.conns,
		Hold:     o.hold,
		ClientID: fmt.Sprintf("runnel-bench-%d-%d", os.Getpid(), run),
		Progress: func(format string, a ...any) { progress(target+": "+format, a...) },
	}
	if o.timeout > 0 {
		cfg.Timeout = o.timeout
	}
	if len(children) > 0 {
		cfg.Server = func() (time.Duration, int64, int64, error) {
			cpu, err := serverCPU(children)
			if err != nil {
				return 0, 0, 0, err
			}
			rss, hwm := serverMem(children)
			return cpu, rss, hwm, nil
		}
	}
	res, err := runConns(ctx, cfg)
	if err != nil {
		if cerr := exitedChild(children); cerr != nil {
			return res, cerr
		}
	}
	return res, err
}

// medianConns returns the median of each figure of runs.
func medianConns(runs []connsResult) *connsResult {
	if len(runs) == 0 {
		return nil
	}
	mf := func(f func(r *connsResult) float64) float64 {
		v := make([]float64, len(runs))
		for i := range runs {
			v[i] = f(&runs[i])
		}
		return median(v)
	}
	m := &connsResult{
		Connections:     runs[0].Connections,
		ConnectSec:      mf(func(r *connsResult) float64 { return r.ConnectSec }),
		ConnectPerS:     mf(func(r *connsResult) float64 { return r.ConnectPerS }),
		ConnectP50ms:    mf(func(r *connsResult) float64 { return r.ConnectP50ms }),
		ConnectP99ms:    mf(func(r *connsResult) float64 { return r.ConnectP99ms }),
		ConnectMaxMs:    mf(func(r *connsResult) float64 { return r.ConnectMaxMs }),
		OwnSec:          mf(func(r *connsResult) float64 { return r.OwnSec }),
		OwnReceived:     int(mf(func(r *connsResult) float64 { return float64(r.OwnReceived) })),
		FanoutSec:       mf(func(r *connsResult) float64 { return r.FanoutSec }),
		FanoutReceived:  int(mf(func(r *connsResult) float64 { return float64(r.FanoutReceived) })),
		Wrong:           int(mf(func(r *connsResult) float64 { return float64(r.Wrong) })),
		Server:          runs[0].Server,
		ServerConnectUs: mf(func(r *connsResult) float64 { return r.ServerConnectUs }),
		ServerHoldPct:   mf(func(r *connsResult) float64 { return r.ServerHoldPct }),
		ServerOwnUs:     mf(func(r *connsResult) float64 { return r.ServerOwnUs }),
		ServerFanoutUs:  mf(func(r *connsResult) float64 { return r.ServerFanoutUs }),
		RSSIdle:         int64(mf(func(r *connsResult) float64 { return float64(r.RSSIdle) })),
		RSSHeld:         int64(mf(func(r *connsResult) float64 { return float64(r.RSSHeld) })),
		RSSPeak:         int64(mf(func(r *connsResult) float64 { return float64(r.RSSPeak) })),
		RSSPerConn:      mf(func(r *connsResult) float64 { return r.RSSPerConn }),
	}
	return m
}

func printConns(w io.Writer, rep *connsReport) {
	fmt.Fprintf(w, "\nrunnel bench: %d concurrent connections, held %v, median of %d runs (open-file limit %d)\n\n",
		rep.Connections, time.Duration(rep.HoldSec*float64(time.Second)), rep.Runs, rep.NoFile)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\tconnect all\tconn/s\tp50\tp99\tserver CPU/conn\tRSS idle\tRSS held\tRSS/conn\tCPU held idle\tone each\tCPU/msg\tfan-out\tCPU/delivery\tgot (own, all)\t")
	for _, t := range rep.Targets {
		m := t.Median
		if m == nil {
			fmt.Fprintf(tw, "%s\tfailed (see below)\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", t.Target)
			continue
		}
		cpu := func(s string) string {
			if !m.Server {
				return "-"
			}
			return s
		}
		fmt.Fprintf(tw, "%s\t%.2fs\t%s\t%.1fms\t%.1fms\t%s\t%s\t%s\t%s\t%s\t%.0fms\t%s\t%.0fms\t%s\t%d, %d\t\n", t.Target,
			m.ConnectSec, fmtRate(m.ConnectPerS), m.ConnectP50ms, m.ConnectP99ms, cpu(fmtCPU(m.ServerConnectUs)),
			cpu(fmtBytes(m.RSSIdle)), cpu(fmtBytes(m.RSSHeld)), cpu(fmt.Sprintf("%.1f KiB", m.RSSPerConn/1024)),
			cpu(fmt.Sprintf("%.1f%%", m.ServerHoldPct)), m.OwnSec*1e3, cpu(fmtCPU(m.ServerOwnUs)),
			m.FanoutSec*1e3, cpu(fmtCPU(m.ServerFanoutUs)), m.OwnReceived, m.FanoutReceived)
	}
	tw.Flush()
	var r, mq *connsTarget
	for _, t := range rep.Targets {
		switch t.Target {
		case "runnel":
			r = t
		case "mosquitto":
			mq = t
		}
	}
	if r != nil && mq != nil && r.Median != nil && mq.Median != nil && r.Median.Server && mq.Median.Server {
		ratio := func(a, b float64) string {
			if b <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.2f×", a/b)
		}
		fmt.Fprintf(w, "\nrunnel/mosquitto: connect all %s, server CPU per connection %s, RSS per connection %s, one each %s (CPU %s), fan-out %s (CPU %s)\n",
			ratio(r.Median.ConnectSec, mq.Median.ConnectSec), ratio(r.Median.ServerConnectUs, mq.Median.ServerConnectUs),
			ratio(r.Median.RSSPerConn, mq.Median.RSSPerConn), ratio(r.Median.OwnSec, mq.Median.OwnSec),
			ratio(r.Median.ServerOwnUs, mq.Median.ServerOwnUs), ratio(r.Median.FanoutSec, mq.Median.FanoutSec),
			ratio(r.Median.ServerFanoutUs, mq.Median.ServerFanoutUs))
	}
	fmt.Fprintf(w, "\nruns:\n")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "target\trun\tconnect all\tp99\tserver CPU/conn\tRSS held\tRSS/conn\tone each\tfan-out\town\tall\twrong\t")
	for _, t := range rep.Targets {
		for i, r := range t.Runs {
			fmt.Fprintf(tw, "%s\t%d\t%.2fs\t%.1fms\t%s\t%s\t%.1f KiB\t%.0fms\t%.0fms\t%d\t%d\t%d\t\n", t.Target, i+1,
				r.ConnectSec, r.ConnectP99ms, fmtCPU(r.ServerConnectUs), fmtBytes(r.RSSHeld), r.RSSPerConn/1024,
				r.OwnSec*1e3, r.FanoutSec*1e3, r.OwnReceived, r.FanoutReceived, r.Wrong)
		}
	}
	tw.Flush()
	for _, t := range rep.Targets {
		if t.Error != "" {
			fmt.Fprintf(w, "\n%s failed: %s\n", t.Target, t.Error)
		}
	}
	fmt.Fprintf(w, "\neach client connects (MQTT 3.1.1, clean session), subscribes to its own topic and to one all of them share (one SUBSCRIBE), and stays idle for the hold; then one publisher sends one message to each client's own topic, then one to the shared topic, and every client must get exactly those\n")
	fmt.Fprintf(w, "connect all: first dial to the last SUBACK, %d dials at a time; p50/p99: one client's dial to SUBACK; RSS/conn: (RSS held - RSS idle) / connections; CPU held idle: the server's CPU while holding, %% of one core\n", 64)
	fmt.Fprintf(w, "one each / fan-out: first publish to the last client's receipt; CPU/msg: server CPU per delivered message\n")
	fmt.Fprintf(w, "environment: %s\n", rep.Environment)
	fmt.Fprintf(w, "reproduce: %s\n", rep.Command)
}

func benchEnvironment() string {
	return fmt.Sprintf("%s/%s, %d CPUs, %s, load generator in the same machine",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.Version())
}
