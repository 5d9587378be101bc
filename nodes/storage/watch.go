package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/runnel-io/runnel/engine"
)

// WatchConfig is the configuration of a watch node. The property names are
// Node-RED's.
type WatchConfig struct {
	Files     string `json:"files" label:"Files" required:"true" help:"Comma-separated files or directories, relative to the files directory or absolute under it"`
	Recursive bool   `json:"recursive" label:"Watch sub-directories recursively"`
}

// WatchType is the watch node type.
var WatchType = engine.NewType(engine.Meta{
	Type:     "watch",
	Category: "storage",
	Inputs:   0,
	Outputs:  1,
	Color:    "BurlyWood",
	Icon:     "watch.svg",
	Help: `Watches files and directories for changes, as Node-RED's **watch** node does: a message for each path that changed, after 200 ms without further events on it.

- msg.payload and msg.filename: the path that changed, as the configured path joined with the name; msg.file: its last element; msg.topic: the *Files* setting (one path, or the list as a JSON array); msg.event: "update" when the path exists, "remove" when it is gone (a rename gives a remove and an update); msg.type: "file" (then msg.size too), "directory", "fifo", "socket", "characterdevice", "blockdevice", or "none" when removed.
- A directory reports changes to its entries; with *recursive*, to the entries of its sub-directories too, new ones included.

**Restricted to the files directory**, as the file nodes are: the data directory, or the [files] dir setting (RUNNEL_FILES_DIR). A relative path is taken from that directory (Node-RED takes it from its working directory). A path outside it, a missing one, or one that cannot be watched is an error of the node and a red status when the flow starts, not a deploy error, so the other flows of a document written for another machine still run; the node's other paths are watched. Symbolic links are not followed into sub-directories.

Bounds: 10,000 watched directories per node (the rest are not watched: an error says so) and 10,000 distinct paths in one 200 ms window (further ones are dropped and counted in a warning).`,
}, newWatch)

func init() { engine.Register(WatchType) }

const (
	watchMaxDirs    = 10000
	watchMaxPending = 10000
	watchDelay      = 200 * time.Millisecond
)

// watchEntry is one configured path.
type watchEntry struct {
	display string // as configured
	abs     string // in the files directory
	dir     bool
}

type watchNode struct {
	h         *engine.Host
	files     []string
	topic     string
	recursive bool
	sb        *sandbox

	mu      sync.Mutex
	w       *fsnotify.Watcher
	entries []watchEntry
	dirs    int
	done    chan struct{}
}

func newWatch(cfg *WatchConfig, h *engine.Host) (engine.Node, error) {
	n := &watchNode{h: h, recursive: cfg.Recursive, sb: newSandbox(h)}
	for _, f := range strings.Split(cfg.Files, ",") {
		n.files = append(n.files, strings.TrimSpace(f))
	}
	if len(n.files) == 1 {
		n.topic = n.files[0]
	} else {
		b, _ := json.Marshal(n.files)
		n.topic = string(b)
	}
	return n, nil
}

// Start begins watching; paths that cannot be watched are reported as
// errors of the node.
func (n *watchNode) Start(context.Context) error {
	root, err := n.sb.open()
	if err != nil {
		n.fail(err)
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		n.fail(fmt.Errorf("watch: %w", err))
		return nil
	}
	n.mu.Lock()
	n.w = w
	n.done = make(chan struct{})
	n.mu.Unlock()
	var errs []error
	for _, f := range n.files {
		if err := n.add(root, f); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		n.fail(errors.Join(errs...))
	}
	n.h.Go(n.loop)
	return nil
}

func (n *watchNode) fail(err error) {
	n.h.Status(engine.Status{Fill: "red", Shape: "ring", Text: "error"})
	n.h.Error(err, engine.NewMessage("", ""))
}

// add watches one configured path, confined to the files directory.
func (n *watchNode) add(root *os.Root, name string) error {
	_, rel, err := n.sb.rel(name)
	if err != nil {
		return err
	}
	fi, err := root.Stat(rel)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s does not exist", name)
		}
		return n.sb.wrap(name, err)
	}
	abs := n.sb.abs(rel)
	// The path itself may be a link: it must lead to a place inside.
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		inside := false
		for _, base := range n.sb.bases() {
			if r, err := filepath.Rel(base, real); err == nil && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
				inside = true
			}
		}
		if !inside {
			return n.sb.outside(name)
		}
	}
	e := watchEntry{display: name, abs: filepath.Clean(abs), dir: fi.IsDir()}
	n.mu.Lock()
	n.entries = append(n.entries, e)
	n.mu.Unlock()
	if !e.dir {
		return n.addDir(filepath.Dir(e.abs), false)
	}
	return n.addDir(e.abs, n.recursive)
}

// addDir watches dir and, with recursive, its sub-directories, within the
// bound on watched directories. Symbolic links are not followed.
func (n *watchNode) addDir(dir string, recursive bool) error {
	queue := []string{dir}
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		n.mu.Lock()
		if n.w == nil {
			n.mu.Unlock()
			return nil
		}
		if n.dirs >= watchMaxDirs {
			n.mu.Unlock()
			return fmt.Errorf("watching more than %d directories: %s and others are not watched", watchMaxDirs, d)
		}
		err := n.w.Add(d)
		if err == nil {
			n.dirs++
		}
		n.mu.Unlock()
		if err != nil {
			return fmt.Errorf("watch %s: %w", d, err)
		}
		if !recursive {
			continue
		}
		ents, err := os.ReadDir(d)
		if err != nil {
			continue // removed meanwhile
		}
		for _, de := range ents {
			if de.IsDir() { // a link to a directory is not a directory here
				queue = append(queue, filepath.Join(d, de.Name()))
			}
		}
	}
	return nil
}

// display gives the path of an event as Node-RED writes it: the
// configured path joined with the rest; ok is false for an event the node
// does not watch (another file of a watched file's directory).
func (n *watchNode) display(p string) (string, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, e := range n.entries {
		if !e.dir {
			if p == e.abs {
				return filepath.Clean(e.display), true
			}
			continue
		}
		if r, err := filepath.Rel(e.abs, p); err == nil && r != "." && r != ".." && !strings.HasPrefix(r, ".."+string(filepath.Separator)) {
			if !n.recursive && strings.ContainsRune(r, filepath.Separator) {
				continue
			}
			return filepath.Join(e.display, r), true
		}
	}
	return "", false
}

// loop gathers the events and sends them after watchDelay, as node-watch
// does: each distinct path once, "update" if it exists then, else
// "remove".
func (n *watchNode) loop() {
	n.mu.Lock()
	w, done := n.w, n.done
	n.mu.Unlock()
	defer close(done)
	var pending []string
	seen := map[string]bool{}
	dropped := 0
	var timer *time.Timer
	var tick <-chan time.Time
	for {
		select {
		case ev, ok := <-w.Events:
			if !ok {
				if timer != nil {
					timer.Stop()
				}
				return
			}
			if n.recursive && ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
					if _, watched := n.display(ev.Name); watched {
						if err := n.addDir(ev.Name, true); err != nil {
							n.h.Error(err, engine.NewMessage("", ""))
						}
					}
				}
			}
			if _, ok := n.display(ev.Name); !ok || seen[ev.Name] {
				continue
			}
			if len(pending) >= watchMaxPending {
				dropped++
				continue
			}
			seen[ev.Name] = true
			pending = append(pending, ev.Name)
			if timer == nil {
				timer = time.NewTimer(watchDelay)
				tick = timer.C
			}
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			n.h.Error(err, engine.NewMessage("", ""))
		case <-tick:
			timer, tick = nil, nil
			for _, p := range pending {
				n.send(p)
			}
			if dropped > 0 {
				n.h.Logger().Warn("watch: too many changes at once", "dropped", dropped)
			}
			pending, seen, dropped = pending[:0], map[string]bool{}, 0
		}
	}
}

// send sends the message for one changed path, in Node-RED's shape.
func (n *watchNode) send(p string) {
	name, ok := n.display(p)
	if !ok {
		return
	}
	m := engine.NewMessage(n.topic, name)
	m.SetProp("file", filepath.Base(name))
	m.SetProp("filename", name)
	typ := "none"
	// Through the files directory's root: a symbolic link that leads out
	// of it says nothing of its target (not even its size).
	var fi os.FileInfo
	err := os.ErrNotExist
	if root, rel, rerr := n.sb.rel(p); rerr == nil {
		if fi, err = root.Stat(rel); err != nil {
			if lfi, lerr := root.Lstat(rel); lerr == nil && lfi.Mode()&os.ModeSymlink != 0 {
				fi, err = lfi, nil // a link out, or to nothing: "n/a" below
			}
		}
	}
	if err == nil {
		m.SetProp("event", "update")
		switch mode := fi.Mode(); {
		case mode.IsRegular():
			typ = "file"
			m.SetProp("size", float64(fi.Size()))
		case mode&os.ModeDevice != 0 && mode&os.ModeCharDevice == 0:
			typ = "blockdevice"
		case mode&os.ModeCharDevice != 0:
			typ = "characterdevice"
		case mode&os.ModeSocket != 0:
			typ = "socket"
		case mode&os.ModeNamedPipe != 0:
			typ = "fifo"
		case mode.IsDir():
			typ = "directory"
		default:
			typ = "n/a"
		}
	} else {
		m.SetProp("event", "remove")
	}
	m.SetProp("type", typ)
	n.h.Send(0, m)
}

// Close stops watching and waits for the event loop to end.
func (n *watchNode) Close(context.Context) error {
	n.mu.Lock()
	w, done := n.w, n.done
	n.w = nil
	n.mu.Unlock()
	if w != nil {
		w.Close()
		<-done
	}
	n.sb.close()
	return nil
}
