package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/runnel-io/runnel/engine"
)

// ExecConfig is the configuration of an exec node, with Node-RED's
// property names.
type ExecConfig struct {
	Command  string  `json:"command" label:"Command" required:"true"`
	Addpay   string  `json:"addpay" label:"Append msg." default:"payload" keepempty:"true" help:"The message property appended to the command (payload); empty or false: none"`
	Append   string  `json:"append" label:"Extra parameters" help:"Appended after the property"`
	UseSpawn string  `json:"useSpawn" label:"Output" default:"false" options:"false=when the command is complete - exec mode,true=while the command is running - spawn mode"`
	Timer    float64 `json:"timer" label:"Timeout (s)" min:"0" help:"Kill the command after this many seconds (SIGTERM, then SIGKILL 2 s later if it is still running); 0 or empty: never"`
	Oldrc    bool    `json:"oldrc" label:"Return code as a number" kind:"hidden"`
	WinHide  bool    `json:"winHide" label:"Hide console" kind:"hidden"`
}

func init() {
	engine.Register(engine.NewType(engine.Meta{
		Type:     "exec",
		Category: "function",
		Label:    "exec",
		Inputs:   1,
		Outputs:  3,
		Color:    "darksalmon",
		Icon:     "cog.svg",
		Labels:   []engine.LabelRule{{Text: "{command}"}},
		Help: `Runs a command and sends its output: stdout on the first output, stderr on the second, the
return code on the third ({code}, with signal when a signal ended it, and message when it failed). The
command is followed by the message property chosen (msg.payload by default) and the extra parameters.
Exec mode runs it in a shell (bash where there is one) and sends the output when the command ends,
with msg.rc; spawn mode runs the program directly (arguments split at spaces, "quoted" kept whole) and
sends output as it comes. A timeout kills the command; msg.kill (a signal name, SIGTERM by default)
kills the running command (the one msg.pid names, or the only one).

Disabled unless runnel.toml has [nodes] exec = true (RUNNEL_NODES_EXEC): running commands from a flow
is the first thing an intruder who reaches the editor looks for. Without it the node deploys with a
warning, shows "exec is disabled", and fails each message (a catch node sees the error), so that the
rest of an imported flow runs.

In exec mode the appended property is read by the shell, as in Node-RED: a payload such as
"x; rm -rf ~" runs both commands. Quote it in the command, or use spawn mode, when it comes from
outside.

Differs from Node-RED: a kill reaches the processes the command started too (its process group), and
a command still running 2 s after a timeout's or a deploy's SIGTERM is killed (SIGKILL); at
most 64 commands run at once per node; output beyond 10 MB kills the command, as Node-RED's maxBuffer
does in exec mode, and in spawn mode too.`,
	}, newExec))
}

// Limits of the exec node.
const (
	execMaxRunning = 64
	execMaxBuffer  = 10000000 // Node-RED's execMaxBufferSize default
)

// execNode is an exec node.
type execNode struct {
	// kills are the SIGKILL timers of commands asked to end (see
	// terminate), by pid, under kmu.
	kmu      sync.Mutex
	kills    map[int]*time.Timer
	h        *engine.Host
	cfg      ExecConfig
	addpay   *engine.Path // nil: nothing appended
	disabled bool
	shell    string

	mu      sync.Mutex
	running map[int]*exec.Cmd
	closed  bool
	wg      sync.WaitGroup
}

const disabledText = "exec is disabled: set [nodes] exec = true in runnel.toml (RUNNEL_NODES_EXEC) to run commands"

func newExec(cfg *ExecConfig, h *engine.Host) (engine.Node, error) {
	n := &execNode{h: h, cfg: *cfg, running: map[int]*exec.Cmd{}, shell: "/bin/sh"}
	n.cfg.Command = strings.TrimSpace(cfg.Command)
	n.cfg.Append = strings.TrimSpace(cfg.Append)
	switch strings.TrimSpace(cfg.Addpay) {
	case "", "false":
	default:
		prop := strings.TrimSpace(cfg.Addpay)
		if prop == "true" {
			prop = "payload"
		}
		p, err := engine.ParsePath(prop)
		if err != nil {
			return nil, engine.ErrFieldf("addpay", "%v", err)
		}
		n.addpay = &p
	}
	if _, err := os.Stat("/bin/bash"); err == nil {
		n.shell = "/bin/bash"
	}
	if !h.ExecEnabled() {
		n.disabled = true
		h.Warn("command", "%s", disabledText)
	}
	return n, nil
}

// Start shows that the node is disabled, if it is.
func (n *execNode) Start(context.Context) error {
	if n.disabled {
		n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "exec is disabled"})
	}
	return nil
}

// Close kills the running commands and waits for them.
func (n *execNode) Close(context.Context) error {
	n.mu.Lock()
	n.closed = true
	for _, c := range n.running {
		n.terminate(c)
	}
	n.running = map[int]*exec.Cmd{}
	n.mu.Unlock()
	n.wg.Wait()
	return nil
}

// Receive kills (msg.kill) or starts a command.
func (n *execNode) Receive(_ context.Context, m *engine.Message, out engine.Output) error {
	if n.disabled {
		return errors.New(disabledText)
	}
	if k, ok := m.Prop("kill"); ok {
		sig, _ := k.(string)
		sig = strings.ToUpper(sig)
		if !strings.HasPrefix(sig, "SIG") {
			sig = "SIGTERM"
		}
		n.mu.Lock()
		defer n.mu.Unlock()
		var c *exec.Cmd
		if p, ok := m.Prop("pid"); ok {
			pid, _ := strconv.Atoi(engine.ToString(p))
			c = n.running[pid]
		} else if len(n.running) == 1 {
			for _, only := range n.running {
				c = only
			}
		}
		if c != nil {
			_ = signal(c, sig)
			n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: "killed"})
		}
		return nil
	}
	arg := n.cfg.Command
	if n.addpay != nil {
		if v, ok := m.Lookup(*n.addpay); ok {
			arg += " " + engine.ToString(v)
		}
	}
	if n.cfg.Append != "" {
		arg += " " + n.cfg.Append
	}
	var cmd *exec.Cmd
	spawn := n.cfg.UseSpawn == "true"
	if spawn {
		args := splitArgs(arg)
		if len(args) == 0 {
			return errors.New("exec: no command")
		}
		cmd = exec.Command(args[0], args[1:]...)
	} else {
		cmd = exec.Command(n.shell, "-c", arg)
	}
	inGroup(cmd)
	cmd.WaitDelay = 2 * time.Second
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	if len(n.running) >= execMaxRunning {
		return fmt.Errorf("exec: %d commands already running", execMaxRunning)
	}
	if spawn {
		return n.spawn(cmd, m, out)
	}
	return n.exec(cmd, arg, m, out)
}

// argRE is Node-RED's split of a spawn command line: runs of non-space,
// with "quoted" parts kept whole.
var argRE = regexp.MustCompile(`(?:[^\s"]+|"[^"]*")+`)

func splitArgs(s string) []string {
	args := argRE.FindAllString(s, -1)
	for i, a := range args {
		if len(a) >= 2 && strings.HasPrefix(a, `"`) && strings.HasSuffix(a, `"`) {
			args[i] = a[1 : len(a)-1]
		}
	}
	return args
}

// text is b as a string when it is UTF-8, else a Buffer, as Node-RED's
// isUtf8 check does.
func text(b []byte) any {
	if utf8.Valid(b) {
		return string(b)
	}
	return bytes.Clone(b)
}

// capped is a buffer that kills its command when it passes the limit.
type capped struct {
	buf  bytes.Buffer
	over func()
}

func (c *capped) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > execMaxBuffer {
		c.over()
		return len(p), nil
	}
	return c.buf.Write(p)
}

// start starts cmd, registers it, shows its pid and arms the timeout;
// the returned function unregisters it. With n.mu held.
func (n *execNode) start(cmd *exec.Cmd) (func(), error) {
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	pid := cmd.Process.Pid
	n.running[pid] = cmd
	n.h.Status(engine.Status{Fill: "blue", Shape: "dot", Text: "pid:" + strconv.Itoa(pid)})
	var timer *time.Timer
	if n.cfg.Timer > 0 {
		timer = time.AfterFunc(time.Duration(n.cfg.Timer*float64(time.Second)), func() { n.terminate(cmd) })
	}
	return func() {
		if timer != nil {
			timer.Stop()
		}
		n.kmu.Lock()
		if k := n.kills[pid]; k != nil {
			k.Stop()
			delete(n.kills, pid)
		}
		n.kmu.Unlock()
		n.mu.Lock()
		delete(n.running, pid)
		n.mu.Unlock()
	}, nil
}

// execKillGrace is how long a command asked to end (SIGTERM) has before
// it is ended (SIGKILL).
const execKillGrace = 2 * time.Second

// terminate asks cmd's process group to end (SIGTERM) and ends it
// (SIGKILL) if it is still running execKillGrace later: a command that
// ignores SIGTERM would otherwise hold Close, and so every deploy,
// forever. The timer stops when the command has been waited for, so the
// SIGKILL never reaches a process that reused the pid.
func (n *execNode) terminate(cmd *exec.Cmd) {
	_ = signal(cmd, "SIGTERM")
	pid := cmd.Process.Pid
	n.kmu.Lock()
	defer n.kmu.Unlock()
	if n.kills == nil {
		n.kills = map[int]*time.Timer{}
	}
	if n.kills[pid] == nil {
		n.kills[pid] = time.AfterFunc(execKillGrace, func() { _ = signal(cmd, "SIGKILL") })
	}
}

// exec runs the command in a shell and sends its output when it ends.
func (n *execNode) exec(cmd *exec.Cmd, arg string, m *engine.Message, out engine.Output) error {
	var stdout, stderr capped
	kill := func() { n.terminate(cmd) }
	stdout.over, stderr.over = kill, kill
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done, err := n.start(cmd)
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	n.wg.Add(1)
	n.h.Go(func() {
		defer n.wg.Done()
		err := cmd.Wait()
		done()
		m.DeleteProp("payload")
		var m2, m3 *engine.Message
		if stderr.buf.Len() > 0 {
			m2 = m.Copy()
			m2.SetProp("payload", text(stderr.buf.Bytes()))
		}
		m.SetProp("payload", text(stdout.buf.Bytes()))
		var rc map[string]any
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			rc = map[string]any{"code": nil, "message": "Command failed: " + arg + "\n" + stderr.buf.String()}
			if sig := signalName(ee); sig != "" {
				rc["signal"] = sig
				n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: "killed"})
			} else {
				rc["code"] = float64(ee.ExitCode())
				n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: "error:" + strconv.Itoa(ee.ExitCode())})
			}
		case err != nil:
			rc = map[string]any{"code": nil, "message": err.Error()}
			n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: "error"})
		case !n.cfg.Oldrc:
			rc = map[string]any{"code": float64(0)}
			n.h.Status(engine.Status{})
		default:
			n.h.Status(engine.Status{})
		}
		if rc != nil {
			m3 = m.Copy()
			m3.SetProp("payload", rc)
			m.SetProp("rc", rc)
			if m2 != nil {
				m2.SetProp("rc", rc)
			}
		}
		out.Send(0, m)
		if m2 != nil {
			out.Send(1, m2)
		}
		if m3 != nil {
			out.Send(2, m3)
		}
	})
	return nil
}

// spawn runs the program and sends its output as it comes.
func (n *execNode) spawn(cmd *exec.Cmd, m *engine.Message, out engine.Output) error {
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	done, err := n.start(cmd)
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		// Node reports an unknown command with code -2 (ENOENT).
		m3 := m.Copy()
		m3.SetProp("payload", n.code(-2, ""))
		n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: "rc:-2"})
		out.Send(2, m3)
		return nil
	}
	if err != nil {
		return fmt.Errorf("exec: %w", err)
	}
	var total int64
	var mu sync.Mutex
	pipe := func(r io.Reader, port int, wg *sync.WaitGroup) {
		defer wg.Done()
		buf := make([]byte, 64<<10)
		for {
			k, err := r.Read(buf)
			if k > 0 {
				mu.Lock()
				total += int64(k)
				over := total > execMaxBuffer
				var c *engine.Message
				if !over {
					c = m.Copy() // Copy marks m shared: one goroutine at a time
				}
				mu.Unlock()
				if over {
					n.terminate(cmd)
				} else {
					c.SetProp("payload", text(buf[:k]))
					out.Send(port, c)
				}
			}
			if err != nil {
				return
			}
		}
	}
	n.wg.Add(1)
	n.h.Go(func() {
		defer n.wg.Done()
		var wg sync.WaitGroup
		wg.Add(2)
		n.h.Go(func() { pipe(stdout, 0, &wg) })
		n.h.Go(func() { pipe(stderr, 1, &wg) })
		wg.Wait()
		err := cmd.Wait()
		done()
		code, sig := 0, ""
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code, sig = ee.ExitCode(), signalName(ee)
		}
		switch {
		case sig != "":
			n.h.Status(engine.Status{Fill: "red", Shape: "dot", Text: "killed"})
		case code == 0:
			n.h.Status(engine.Status{})
		default:
			n.h.Status(engine.Status{Fill: "yellow", Shape: "dot", Text: "rc:" + strconv.Itoa(code)})
		}
		m3 := m.Copy()
		m3.SetProp("payload", n.code(code, sig))
		out.Send(2, m3)
	})
	return nil
}

// code is spawn mode's return code: {code} (code null and signal when
// a signal ended the program), or the number alone with oldrc.
func (n *execNode) code(code int, sig string) any {
	var c any = float64(code)
	if sig != "" {
		c = nil
	}
	if n.cfg.Oldrc {
		return c
	}
	rc := map[string]any{"code": c}
	if sig != "" {
		rc["signal"] = sig
	}
	return rc
}
