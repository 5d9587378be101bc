// Package cli is the runnel command line: serve (broker, flows and admin
// API), run (the headless runner), validate and bench. A custom build of
// Runnel with extra node types is a main package that imports them and
// calls Main:
//
//	package main
//
//	import (
//		"os"
//
//		"github.com/runnel-io/runnel/engine/cli"
//		_ "github.com/runnel-io/runnel/nodes" // the built-in node types
//		_ "example.com/mynodes"               // your own
//	)
//
//	func main() { os.Exit(cli.Main(os.Args[1:])) }
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/runnel-io/runnel/broker"
	"github.com/runnel-io/runnel/editor"
	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/engine/cli/bench"
	"github.com/runnel-io/runnel/engine/config"
	"github.com/runnel-io/runnel/flows"
	"github.com/runnel-io/runnel/flows/store"
)

const usage = `Runnel: a flow-based MQTT stream processor with an embedded broker.

Usage:
  runnel [serve] [flags]          broker, flows and admin API (the default)
                                  settings: --config FILE (default DATA/runnel.toml), RUNNEL_* variables
  runnel run [flags] FLOWFILE     headless: broker and flows from a file, no HTTP
  runnel validate FLOWFILE        check a flow file; print every problem and warning
  runnel bench [flags]            load test over TCP (see runnel bench -h)
  runnel passwd [flags] NAME      print a bcrypt password hash for the config file

Run "runnel COMMAND -h" for a command's flags.
`

// Main runs the command line with args (without the program name) and
// returns the process exit status.
func Main(args []string) int {
	return MainContext(context.Background(), args, os.Stdout, os.Stderr)
}

// MainContext is Main with a context that stops serve and run when
// cancelled (as SIGINT and SIGTERM do), and explicit output streams.
func MainContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	var err error
	switch cmd {
	case "serve":
		err = serve(ctx, args, stderr)
	case "run":
		err = run(ctx, args, stderr)
	case "validate":
		return validate(args, stdout, stderr)
	case "bench":
		bctx, cancel := signalContext(ctx)
		err = bench.Run(bctx, args, stdout, stderr)
		cancel()
	case "passwd":
		err = passwd(args, os.Stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "runnel: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "runnel %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

// common holds the flags serve and run share.
type common struct {
	mqtt       string
	logLevel   string
	cpuProfile string
	memProfile string
	procs      int
	fs         *flag.FlagSet
	configPath string         // --config
	cfg        *config.Config // set by resolve
	// credentialSecret is [edge] credential_secret from the configuration
	// file; RUNNEL_CREDENTIAL_SECRET wins over it (see credentialSecret).
	credentialSecret string
	persist          string // the broker's database file; "": in memory
	safe             bool   // --safe: start with the flows stopped
}

// defaultProcs is how many OS threads run Go code at once unless --procs
// or GOMAXPROCS says otherwise. One, as mosquitto and Node-RED run: every
// message crosses a reader and a writer goroutine, and handing it over on
// the same thread costs far less than waking another core. Measured with
// runnel bench on 2 cores: 5.6 µs of server CPU per message at saturation
// against 7.2 µs with two, at the same or higher throughput.
const defaultProcs = 1

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.mqtt, "mqtt", "127.0.0.1:1883", "MQTT listen `address` of the embedded broker")
	fs.StringVar(&c.logLevel, "log-level", "info", "log `level`: debug, info, warn, error")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` until the process stops")
	fs.StringVar(&c.memProfile, "memprofile", "", "write a profile of all allocations to `file` when the process stops (go tool pprof -sample_index=alloc_space)")
	fs.StringVar(&c.configPath, "config", "", "configuration `file` (TOML, see examples/runnel.toml); default $RUNNEL_CONFIG, else for serve DATA/runnel.toml if it exists")
	fs.BoolVar(&c.safe, "safe", false, "safe mode: start the broker (and the editor) with the flows stopped; deploy to start them")
	fs.IntVar(&c.procs, "procs", defaultProcs, "how many `threads` run flows and broker at once (GOMAXPROCS); 0: one per CPU. Busy flows with many publishers on more cores may want more")
	c.fs = fs
}

// setProcs applies --procs: an explicit flag wins, then the GOMAXPROCS
// environment variable, then defaultProcs.
func (c *common) setProcs() {
	explicit := false
	c.fs.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "procs" })
	if !explicit && os.Getenv("GOMAXPROCS") != "" {
		return
	}
	n := c.procs
	if n <= 0 {
		n = runtime.NumCPU()
	}
	runtime.GOMAXPROCS(n)
}

// setup makes the logger and starts the CPU profile if one was asked for;
// the caller defers stop.
func (c *common) setup(stderr io.Writer) (log *slog.Logger, stop func(), err error) {
	if log, err = c.logger(stderr); err != nil {
		return nil, nil, err
	}
	c.setProcs()
	if stop, err = c.profile(); err != nil {
		return nil, nil, err
	}
	return log, stop, nil
}

// profile starts the CPU profile if one was asked for and returns the
// function that stops it and writes the allocation profile, if that was
// asked for.
func (c *common) profile() (stop func(), err error) {
	var mem *os.File
	if c.memProfile != "" {
		if mem, err = os.Create(c.memProfile); err != nil {
			return nil, fmt.Errorf("--memprofile: %w", err)
		}
	}
	writeMem := func() {
		if mem != nil {
			_ = pprof.Lookup("allocs").WriteTo(mem, 0)
			mem.Close()
		}
	}
	if c.cpuProfile == "" {
		return writeMem, nil
	}
	f, err := os.Create(c.cpuProfile)
	if err != nil {
		writeMem()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		writeMem()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() { pprof.StopCPUProfile(); f.Close(); writeMem() }, nil
}

func (c *common) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(c.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lvl})), nil
}

// stack is a started broker and runtime.
type stack struct {
	log *slog.Logger
	b   *broker.Broker
	rt  *engine.Runtime
}

// start starts the broker and deploys doc on a runtime made with opts
// (whose OnStatus, OnDebug and OnError the caller may set).
//
// With --safe the flows are not deployed: the runtime holds them stopped
// (engine.Runtime.SetStopped). Flows that fail to start are held stopped
// the same way, with the problem logged, rather than ending the process:
// a restart would only fail again. With strict, flows that do not compile
// (an invalid document, as runnel run's file) are an error instead.
func start(c *common, log *slog.Logger, doc *flows.Document, opts engine.Options, strict bool) (*stack, error) {
	bo := broker.Options{Addr: c.mqtt, Logger: log.With("component", "broker"), Persist: c.persist}
	// A publisher sending in bulk has the flows run on their own
	// goroutine (see broker.Options.HandOff): in batches on one thread,
	// overlapping with reading on more.
	bo.HandOff = true
	c.brokerOptions(&bo)
	if c.cfg != nil {
		e := &c.cfg.Edge
		opts.Outbox.MaxMessages, opts.Outbox.MaxBytes, opts.Outbox.MaxAge = e.QueueMaxMessages, int64(e.QueueMaxBytes), e.QueueMaxAge.Duration
	}
	b, err := broker.Start(bo)
	if err != nil {
		return nil, err
	}
	opts.Broker, opts.BrokerAddr, opts.Logger = b, b.Addr(), log
	c.nodeOptions(&opts.Nodes)
	rt := engine.New(opts)
	if err := rt.LoadContext(context.Background()); err != nil {
		b.Close()
		return nil, err
	}
	if c.safe {
		rt.SetStopped(context.Background(), doc, errSafe)
		log.Warn("safe mode: the flows are stopped (--safe); deploy to start them", "nodes", len(doc.Nodes))
		return &stack{log: log, b: b, rt: rt}, nil
	}
	if err := rt.Deploy(context.Background(), doc); err != nil {
		var se *engine.StartError
		if strict && !errors.As(err, &se) {
			b.Close()
			return nil, fmt.Errorf("invalid flows:\n%w", err)
		}
		rt.SetStopped(context.Background(), doc, err)
		log.Error("safe mode: the flows are stopped because they do not start; fix them and deploy",
			"problems", problemsText(err))
	}
	return &stack{log: log, b: b, rt: rt}, nil
}

// errSafe is why the flows are stopped with --safe.
var errSafe = errors.New("started in safe mode (--safe): the flows are stopped; deploy to start them")

// stop refuses new messages from network clients, lets in-flight messages
// finish, closes the nodes (which flush their queues), writes the
// persistent context, then closes the broker.
func (s *stack) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	s.b.StopIntake()
	s.rt.Stop(ctx)
	s.b.Close()
}

func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	httpAddr := fs.String("http", "127.0.0.1:1880", "HTTP listen `address` of the admin API and editor")
	dataDir := fs.String("data", "runnel-data", "data `directory`")
	flowFile := fs.String("flows", "", "flow `file` (default DATA/flows.json)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := c.resolve(fs, dataDir, true); err != nil {
		return err
	}
	*httpAddr = string(c.cfg.Editor.HTTP)
	log, stopProfile, err := c.setup(stderr)
	if err != nil {
		return err
	}
	defer stopProfile()
	began := time.Now()
	if *flowFile == "" {
		*flowFile = filepath.Join(*dataDir, "flows.json")
	}
	if err := os.MkdirAll(*dataDir, 0o755); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	secret, err := credentialSecret(c.credentialSecret, *dataDir, true, log)
	if err != nil {
		return err
	}
	db, doc, err := openFlows(ctx, *dataDir, *flowFile, secret, log)
	if err != nil {
		return err
	}
	defer db.Close()
	c.persist = filepath.Join(*dataDir, dbName)
	ln, err := net.Listen("tcp", *httpAddr)
	if err != nil {
		return fmt.Errorf("http: %w", err)
	}
	routes, err := c.nodeRoutes(log)
	if err != nil {
		ln.Close()
		return err
	}
	live := editor.NewHub(editor.HubOptions{Logger: log.With("component", "editor")})
	st, err := start(&c, log, doc, engine.Options{OnStatus: live.OnStatus, OnDebug: live.OnDebug, OnError: live.OnError,
		ContextBackend: contextBackend{db}, Outbox: engine.OutboxOptions{Path: filepath.Join(*dataDir, dbName)},
		HTTPRoutes: routes, FilesDir: c.filesDir(*dataDir),
		Nodes: engine.NodeOptions{Reserved: []string{ln.Addr().String()}}}, false)
	if err != nil {
		ln.Close()
		return fmt.Errorf("%s: %w", filepath.Join(*dataDir, dbName), err)
	}
	liveCtx, stopLive := context.WithCancel(context.Background())
	liveDone := make(chan struct{})
	go func() {
		defer close(liveDone)
		live.Run(liveCtx, st.rt)
	}()
	apiOpts := editor.Options{Runtime: st.rt, FlowFile: *flowFile, Store: db, Logger: log, Live: live, Broker: st.b, CredentialSecret: secret,
		LibraryDir: filepath.Join(*dataDir, "lib", "flows")}
	api, err := c.newAPI(apiOpts)
	if err != nil {
		stopLive()
		<-liveDone
		st.stop()
		ln.Close()
		return err
	}
	lim := editor.DefaultServerLimits()
	hs := editor.NewServer(editor.Mount(api, routes), lim, log)
	go hs.Serve(editor.LimitListener(ln, lim.MaxConns))
	log.Info("runnel started", append([]any{"mqtt", st.b.Addr(), "http", ln.Addr().String(), "flows", *flowFile,
		"nodes", len(doc.Nodes), "took", time.Since(began).Round(time.Microsecond)}, c.accessAttrs(true)...)...)
	ctx, cancel := signalContext(ctx)
	defer cancel()
	<-ctx.Done()
	log.Info("stopping")
	stopLive() // closes the editors' websockets, which Shutdown does not wait for
	<-liveDone
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	st.stop()
	log.Info("stopped")
	return nil
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	watch := fs.Duration("watch", time.Second, "how often to check FLOWFILE for changes, which are deployed as they are saved (0: never)")
	dataDir := fs.String("data", "", "`directory` for the persistent context store, the broker's retained messages and persistent sessions, and the store-and-forward queues (DIR/"+dbName+"); without it they last only as long as the process")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: runnel run [flags] FLOWFILE")
	}
	if err := c.resolve(fs, dataDir, false); err != nil {
		return err
	}
	log, stopProfile, err := c.setup(stderr)
	if err != nil {
		return err
	}
	defer stopProfile()
	began := time.Now()
	file := fs.Arg(0)
	secret, err := credentialSecret(c.credentialSecret, *dataDir, false, log)
	if err != nil {
		return err
	}
	doc, plain, err := readFlows(file, secret)
	if err != nil {
		return err
	}
	warnPlainCredentials(log, file, plain)
	opts := engine.Options{FilesDir: c.filesDir(*dataDir)}
	if *dataDir != "" {
		if err := os.MkdirAll(*dataDir, 0o755); err != nil {
			return fmt.Errorf("data directory: %w", err)
		}
		db, err := store.Open(ctx, filepath.Join(*dataDir, dbName))
		if err != nil {
			return err
		}
		defer db.Close()
		opts.ContextBackend = contextBackend{db}
		opts.Outbox.Path = filepath.Join(*dataDir, dbName)
		c.persist = filepath.Join(*dataDir, dbName)
	}
	st, err := start(&c, log, doc, opts, true)
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	log.Info("runnel running", append([]any{"mqtt", st.b.Addr(), "flows", file, "nodes", len(doc.Nodes),
		"took", time.Since(began).Round(time.Microsecond)}, c.accessAttrs(false)...)...)
	ctx, cancel := signalContext(ctx)
	defer cancel()
	if *watch > 0 {
		go newWatcher(file, secret, st.rt, log, *watch).run(ctx)
	}
	<-ctx.Done()
	log.Info("stopping")
	st.stop()
	log.Info("stopped")
	return nil
}

func validate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	mqttAddr := fs.String("mqtt", "127.0.0.1:1883", "the embedded broker's `address`, to tell local broker config nodes from remote ones")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: runnel validate FLOWFILE")
		return 2
	}
	file := fs.Arg(0)
	// report prints every problem, one per line, prefixed with the file.
	report := func(err error) int {
		var probs flows.Problems
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintf(stdout, "%s: %s\n", file, p.Error())
			}
		} else {
			fmt.Fprintln(stdout, err) // ReadFile's errors name the file
		}
		return 1
	}
	doc, err := flows.ReadFile(file)
	if err != nil {
		return report(err)
	}
	rt := engine.New(engine.Options{BrokerAddr: *mqttAddr})
	g, err := rt.Compile(doc)
	if err != nil {
		return report(err)
	}
	// What Node-RED loads but does not work as written: reported, and the
	// file is still valid (exit 0), as runnel run and POST /flows take it.
	ws := g.Warnings()
	for _, w := range ws {
		fmt.Fprintf(stdout, "%s: warning: %s\n", file, w)
	}
	switch len(ws) {
	case 0:
		fmt.Fprintf(stdout, "%s: ok (%d objects)\n", file, len(doc.Nodes))
	case 1:
		fmt.Fprintf(stdout, "%s: ok (%d objects, 1 warning)\n", file, len(doc.Nodes))
	default:
		fmt.Fprintf(stdout, "%s: ok (%d objects, %d warnings)\n", file, len(doc.Nodes), len(ws))
	}
	return 0
}
