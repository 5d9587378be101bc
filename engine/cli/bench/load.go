package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// extractKind is the text after which the subscriber reads a message's
// sequence number in what it receives.
type extractKind []byte

var (
	// extractAlert reads the number after "changed to " in the example
	// flow's alert text.
	extractAlert = extractKind("changed to ")
	// extractJSON reads the temperature in the default payload (a bare
	// relay, no flow).
	extractJSON = extractKind(`"temperature":`)
)

// loadConfig is one run of the load generator: a publisher sending Count
// messages, message seq to PubTopics[i] with {k} replaced by k, where
// i*Devices+k = seq % (len(PubTopics)*Devices), with Payload's {seq}
// replaced by SeqBase+seq, and a subscriber on SubFilters that expects
// exactly one message per published one.
type loadConfig struct {
	Addr       string
	PubTopics  []string        // topic templates; default sensors/dev{k}/data
	Payload    payloadTemplate // default {"temperature":{seq},"humidity":40}
	SubFilters []string
	Extract    extractKind
	Devices    int
	Count      int
	Rate       float64 // msg/s; 0 = saturation, limited by Window
	Window     int     // saturation: most messages sent and not yet received
	QoS        byte
	// SeqBase is added to every sequence number in the payload, so that
	// temperatures stay unique across the runs against one server and
	// each message changes its topic's temperature.
	SeqBase int64
	// Timeout bounds the whole run; 0 means 2×expected time + 5 s, where
	// at saturation the expected time assumes 5000 msg/s (at least 30 s).
	Timeout time.Duration
	// Stall ends the run when nothing has been received for this long
	// (default 5 s).
	Stall    time.Duration
	ClientID string // prefix of the two client IDs
}

// loadResult is what one run measured.
type loadResult struct {
	Sent       int     `json:"sent"`
	Received   int     `json:"received"` // distinct sequence numbers
	Lost       int     `json:"lost"`     // sent and never received
	Duplicates int     `json:"duplicates"`
	Stray      int     `json:"stray,omitempty"` // unparsable or out of range
	ElapsedSec float64 `json:"elapsed_s"`       // first send to last receive
	MsgPerSec  float64 `json:"msg_per_s"`       // received / elapsed
	P50us      float64 `json:"p50_us"`
	P99us      float64 `json:"p99_us"`
	MaxUs      float64 `json:"max_us"`
	TimedOut   bool    `json:"timed_out,omitempty"`
	// DeliveredQoS is the highest QoS the subscriber received messages
	// at (the example flow publishes its alerts at QoS 0).
	DeliveredQoS int `json:"delivered_qos"`
	// ClientCPUus is this process's CPU time per delivered message
	// (publisher and subscriber together, plus anything else running in
	// this process).
	ClientCPUus float64 `json:"client_cpu_us_per_msg"`
	// Filled in by the caller for child servers.
	ServerCPUus float64 `json:"server_cpu_us_per_msg,omitempty"`
}

// maxUnacked bounds the QoS 1 PUBLISHes awaiting PUBACK: below mochi's
// default receive maximum (1024), which disconnects clients that exceed it.
const maxUnacked = 1000

// maxBenchCount bounds the messages of one run (about 17 bytes of state
// each).
const maxBenchCount = 20_000_000

func (c *loadConfig) validate() error {
	switch {
	case c.Addr == "":
		return errors.New("no address")
	case len(c.SubFilters) == 0:
		return errors.New("no subscription filter")
	case c.Count < 1 || c.Count > maxBenchCount:
		return fmt.Errorf("count %d out of range 1..%d", c.Count, maxBenchCount)
	case c.Devices < 1:
		return errors.New("devices must be at least 1")
	case c.Rate < 0:
		return errors.New("rate must not be negative")
	case c.Rate == 0 && c.Window < 1:
		return errors.New("window must be at least 1")
	case c.QoS > 1:
		return errors.New("qos must be 0 or 1")
	}
	return nil
}

// load is the state the publisher and subscriber share.
type load struct {
	cfg    loadConfig
	t0     time.Time
	sentAt []atomic.Int64 // by seq: ns since t0, written before the message is flushed

	sent     atomic.Int64 // messages handed to the connection
	received atomic.Int64 // distinct messages received
	unacked  atomic.Int64 // QoS 1 PUBLISHes without PUBACK
	lastRecv atomic.Int64 // ns since t0 of the last distinct receive
	pubDone  atomic.Bool

	ackIDs []atomic.Bool // QoS 1 packet IDs awaiting PUBACK

	pubWaiting atomic.Bool
	wake       chan struct{} // the subscriber wakes a waiting publisher

	allIn chan struct{} // closed when every message was received
}

func (l *load) now() int64 { return int64(time.Since(l.t0)) }

// resumable says whether a waiting publisher should resume: not as soon
// as there is room for one message but for a batch (an eighth of the
// window, 100 PUBACKs), so that it writes and the server reads in larger
// chunks, with fewer system calls and wake-ups on either side.
func (l *load) resumable() bool {
	if l.cfg.QoS > 0 && l.unacked.Load() > maxUnacked-100 {
		return false
	}
	if l.cfg.Rate > 0 {
		return true
	}
	return l.sent.Load()-l.received.Load() <= int64(l.cfg.Window-max(l.cfg.Window/8, 1))
}

// signal wakes the publisher if it waits and may resume.
func (l *load) signal() {
	if l.pubWaiting.Load() && l.resumable() {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// runLoad runs one measurement: it connects a subscriber and a publisher,
// sends cfg.Count messages, waits until all arrived (or the run times out
// or stalls) and returns the figures. Errors are for runs that could not
// start or whose connections failed; a timeout is a result with losses.
func runLoad(ctx context.Context, cfg loadConfig) (loadResult, error) {
	if err := cfg.validate(); err != nil {
		return loadResult{}, err
	}
	if cfg.Stall <= 0 {
		cfg.Stall = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		if cfg.Rate > 0 {
			cfg.Timeout = 2*time.Duration(float64(cfg.Count)/cfg.Rate*float64(time.Second)) + 5*time.Second
		} else {
			cfg.Timeout = max(2*time.Duration(float64(cfg.Count)/5000*float64(time.Second))+5*time.Second, 30*time.Second)
		}
	}
	if cfg.ClientID == "" {
		cfg.ClientID = fmt.Sprintf("runnel-bench-%d", os.Getpid())
	}
	sub, err := dialBench(ctx, cfg.Addr, cfg.ClientID+"-sub")
	if err != nil {
		return loadResult{}, err
	}
	defer sub.close()
	if err := sub.subscribeAll(subscriptions(cfg.SubFilters, cfg.QoS), 5*time.Second); err != nil {
		return loadResult{}, err
	}
	pub, err := dialBench(ctx, cfg.Addr, cfg.ClientID+"-pub")
	if err != nil {
		return loadResult{}, err
	}
	defer pub.close()

	l := &load{
		cfg:    cfg,
		sentAt: make([]atomic.Int64, cfg.Count+1),
		wake:   make(chan struct{}, 1),
		allIn:  make(chan struct{}),
	}
	if cfg.QoS > 0 {
		l.ackIDs = make([]atomic.Bool, 65536)
	}
	seen := make([]bool, cfg.Count+1)
	lat := make([]int64, 0, cfg.Count)
	var dups, stray int
	var maxQoS byte

	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)

	runCtx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	l.t0 = time.Now()

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Add(2)
	go func() { // subscriber
		defer wg.Done()
		errs <- l.subscribe(sub, seen, &lat, &dups, &stray, &maxQoS)
	}()
	go func() { // publisher
		defer wg.Done()
		errs <- l.publish(runCtx, pub)
	}()
	if cfg.QoS > 0 {
		wg.Add(1)
		go func() { // the publisher's PUBACKs
			defer wg.Done()
			errs <- l.readAcks(pub)
		}()
	}

	// Wait for everything, a failure, the timeout or a stall.
	var runErr error
	timedOut := false
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
wait:
	for {
		select {
		case <-l.allIn:
			// Linger briefly to count late duplicates.
			time.Sleep(100 * time.Millisecond)
			break wait
		case err := <-errs:
			if err != nil {
				runErr = err
				break wait
			}
		case <-runCtx.Done():
			timedOut = ctx.Err() == nil
			runErr = ctx.Err()
			break wait
		case <-tick.C:
			// Stalled: something is outstanding and nothing arrived for
			// cfg.Stall.
			if l.sent.Load() > l.received.Load() && l.now()-l.lastRecv.Load() > int64(cfg.Stall) {
				timedOut = true
				break wait
			}
		}
	}
	cancel()
	// Unblock the readers, and writers stuck on a server that does not
	// read; the publisher also stops on the cancelled context.
	sub.c.SetDeadline(time.Now())
	pub.c.SetDeadline(time.Now())
	wg.Wait()

	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)

	res := loadResult{
		Sent:       int(l.sent.Load()),
		Received:   len(lat),
		Duplicates: dups,
		Stray:      stray,
		TimedOut:   timedOut,

		DeliveredQoS: int(maxQoS),
	}
	res.Lost = res.Sent - res.Received
	if len(lat) > 0 {
		first := l.sentAt[1].Load()
		elapsed := time.Duration(l.lastRecv.Load() - first)
		res.ElapsedSec = elapsed.Seconds()
		if elapsed > 0 {
			res.MsgPerSec = float64(len(lat)) / elapsed.Seconds()
		}
		slices.Sort(lat)
		res.P50us = float64(percentile(lat, 50)) / 1e3
		res.P99us = float64(percentile(lat, 99)) / 1e3
		res.MaxUs = float64(lat[len(lat)-1]) / 1e3
		cpu := tvDur(ru1.Utime) + tvDur(ru1.Stime) - tvDur(ru0.Utime) - tvDur(ru0.Stime)
		res.ClientCPUus = float64(cpu) / 1e3 / float64(len(lat))
	}
	if runErr != nil && !timedOut {
		return res, runErr
	}
	return res, nil
}

func tvDur(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// percentile returns the p-th percentile (nearest rank) of sorted v.
func percentile(v []int64, p int) int64 {
	i := (len(v)*p + 99) / 100
	return v[max(i-1, 0)]
}

// publish sends the messages: at saturation, as many as the window allows,
// flushing whenever it must wait; at a fixed rate, the messages due on
// each ~1 ms tick, flushed at once.
func (l *load) publish(ctx context.Context, c *benchConn) error {
	defer l.pubDone.Store(true)
	cfg := &l.cfg
	topics := pubTopics(cfg.PubTopics, cfg.Devices)
	tmpl := cfg.Payload
	if tmpl == nil {
		tmpl = defaultPayloadTemplate
	}
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Publish, Qos: cfg.QoS},
		ProtocolVersion: benchProtocol,
	}
	payload := make([]byte, 0, 64)
	nextID := uint16(0)
	count := int64(cfg.Count)

	// room says whether another message may be sent now.
	room := func(seq int64) bool {
		if cfg.QoS > 0 && l.unacked.Load() >= maxUnacked {
			return false
		}
		return cfg.Rate > 0 || seq-1-l.received.Load() < int64(cfg.Window)
	}
	send := func(seq int64) error {
		pk.TopicName = topics[seq%int64(len(topics))]
		payload = tmpl.appendPayload(payload[:0], cfg.SeqBase+seq)
		pk.Payload = payload
		if cfg.QoS > 0 {
			for {
				nextID++
				if nextID == 0 {
					nextID = 1
				}
				if !l.ackIDs[nextID].Load() {
					break
				}
			}
			l.ackIDs[nextID].Store(true) // cleared by readAcks
			pk.PacketID = nextID
			l.unacked.Add(1)
		}
		l.sentAt[seq].Store(l.now())
		if err := c.write(&pk); err != nil {
			return err
		}
		l.sent.Store(seq)
		return nil
	}
	// wait flushes and sleeps until the subscriber or a PUBACK makes room.
	wait := func(seq int64) error {
		if err := c.w.Flush(); err != nil {
			return err
		}
		l.pubWaiting.Store(true)
		defer l.pubWaiting.Store(false)
		for !l.resumable() {
			select {
			case <-l.wake:
			case <-ctx.Done():
				return nil
			}
		}
		return nil
	}

	if cfg.Rate == 0 {
		for seq := int64(1); seq <= count; {
			if ctx.Err() != nil {
				return nil
			}
			if !room(seq) {
				if err := wait(seq); err != nil {
					return err
				}
				continue
			}
			if err := send(seq); err != nil {
				return err
			}
			seq++
		}
		return c.w.Flush()
	}

	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := l.now()
	for seq := int64(1); seq <= count; {
		due := min(int64(float64(l.now()-start)*cfg.Rate/1e9)+1, count)
		for ; seq <= due && room(seq); seq++ {
			if err := send(seq); err != nil {
				return err
			}
		}
		if err := c.w.Flush(); err != nil {
			return err
		}
		if seq > count {
			break
		}
		if !room(seq) {
			if err := wait(seq); err != nil {
				return err
			}
			continue
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		}
	}
	return nil
}

// pubTopics expands the topic templates (default sensors/dev{k}/data)
// for devices devices: the topics of template i are at i*devices+k.
func pubTopics(templates []string, devices int) []string {
	if len(templates) == 0 {
		templates = []string{defaultPubTopic}
	}
	topics := make([]string, 0, len(templates)*devices)
	for _, t := range templates {
		for k := range devices {
			topics = append(topics, strings.ReplaceAll(t, deviceVar, strconv.Itoa(k)))
		}
	}
	return topics
}

// subscriptions are the filters at QoS qos.
func subscriptions(filters []string, qos byte) packets.Subscriptions {
	subs := make(packets.Subscriptions, len(filters))
	for i, f := range filters {
		subs[i] = packets.Subscription{Filter: f, Qos: qos}
	}
	return subs
}

// readAcks consumes the publisher's PUBACKs.
func (l *load) readAcks(c *benchConn) error {
	var pk packets.Packet
	for {
		if err := c.read(&pk); err != nil {
			if l.pubDone.Load() && isTimeout(err) {
				return nil
			}
			return fmt.Errorf("publisher: %w", err)
		}
		if pk.FixedHeader.Type == packets.Puback {
			l.ackIDs[pk.PacketID].Store(false)
			l.unacked.Add(-1)
			if c.r.Buffered() == 0 {
				l.signal()
				coalesce(c, l.unacked.Load())
			}
		}
	}
}

// subscribe receives until its connection is closed or times out, records
// latencies and wakes the publisher whenever it has drained what arrived.
func (l *load) subscribe(c *benchConn, seen []bool, lat *[]int64, dups, stray *int, maxQoS *byte) error {
	cfg := &l.cfg
	var pk packets.Packet
	ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: benchProtocol}
	want := len(seen) - 1
	n := 0
	lastQoS := byte(0)
	for {
		if err := c.read(&pk); err != nil {
			if isTimeout(err) {
				return nil // ended by runLoad
			}
			return fmt.Errorf("subscriber: %w", err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		lastQoS = pk.FixedHeader.Qos
		*maxQoS = max(*maxQoS, lastQoS)
		if pk.FixedHeader.Qos > 0 {
			ack.PacketID = pk.PacketID
			if err := c.write(&ack); err != nil {
				return fmt.Errorf("subscriber: %w", err)
			}
		}
		t := l.now()
		v, ok := extractSeq(pk.Payload, cfg.Extract)
		seq := v - cfg.SeqBase
		switch {
		case ok && v < 0:
			// A late answer to the readiness probe (which publishes
			// negative numbers until one comes through): a slow
			// server's backlog of them may still be arriving.
		case !ok || seq < 1 || seq > int64(want):
			*stray++
		case seen[seq]:
			*dups++
		default:
			seen[seq] = true
			*lat = append(*lat, t-l.sentAt[seq].Load())
			l.lastRecv.Store(t)
			l.received.Add(1)
			n++
			if n == want {
				close(l.allIn)
			}
			if n&63 == 0 {
				l.signal()
			}
		}
		if c.r.Buffered() == 0 {
			if err := c.w.Flush(); err != nil {
				return fmt.Errorf("subscriber: %w", err)
			}
			l.signal()
			if cfg.Rate == 0 && lastQoS == 0 {
				coalesce(c, l.sent.Load()-l.received.Load())
			}
		}
	}
}

// A server that writes every message on its own, as mosquitto does, wakes
// a reader for every few dozen bytes, and each wake-up costs system calls
// and scheduling that compete with the server for the CPU. So after a
// small read, readers whose timing does not matter wait a little for more
// to arrive, when at least coalesceBacklog messages are outstanding, so
// that the wait does not starve the pipeline: the PUBACK reader, and the
// subscriber at saturation when it receives QoS 0, where the latency is
// then the window's queue, milliseconds. (With QoS 1 the server waits for
// the subscriber's PUBACKs, mosquitto after 20 messages, so the subscriber
// must not dawdle.) A Go sleep this short takes up to about a millisecond.
const (
	coalesceBytes   = 4 << 10
	coalesceDelay   = 300 * time.Microsecond
	coalesceBacklog = 256
)

func coalesce(c *benchConn, backlog int64) {
	if backlog >= coalesceBacklog && c.lastRead < coalesceBytes {
		time.Sleep(coalesceDelay)
	}
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// extractSeq finds the number after the marker of kind in payload.
func extractSeq(payload []byte, kind extractKind) (int64, bool) {
	marker := kind
	i := bytes.Index(payload, marker)
	if i < 0 {
		return 0, false
	}
	b := payload[i+len(marker):]
	for len(b) > 0 && b[0] == ' ' {
		b = b[1:]
	}
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	var v int64
	j := 0
	for ; j < len(b) && b[j] >= '0' && b[j] <= '9' && j < 18; j++ {
		v = v*10 + int64(b[j]-'0')
	}
	if j == 0 {
		return 0, false
	}
	if j < len(b) && (b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
		// A float rendering, such as 1e+06 or 12.0: parse it properly.
		k := j
		for k < len(b) && bytes.IndexByte([]byte("0123456789.eE+-"), b[k]) >= 0 {
			k++
		}
		f, err := strconv.ParseFloat(string(b[:k]), 64)
		if err != nil || f != float64(int64(f)) {
			return 0, false
		}
		v = int64(f)
	}
	if neg {
		v = -v
	}
	return v, true
}
