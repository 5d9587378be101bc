package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// watcher redeploys a flow file when its content changes: the GitOps way
// to update an edge gateway. It polls, so that it sees every way a file
// can be replaced (written in place, renamed over, checked out by git) on
// every file system, at the cost of a stat per interval.
type watcher struct {
	file     string
	rt       *engine.Runtime
	log      *slog.Logger
	interval time.Duration

	modTime time.Time
	size    int64
	sum     [sha256.Size]byte
}

func newWatcher(file string, rt *engine.Runtime, log *slog.Logger, interval time.Duration) *watcher {
	w := &watcher{file: file, rt: rt, log: log, interval: interval}
	if fi, err := os.Stat(file); err == nil {
		w.modTime, w.size = fi.ModTime(), fi.Size()
	}
	if b, err := os.ReadFile(file); err == nil {
		w.sum = sha256.Sum256(b)
	}
	return w
}

// run polls until ctx ends.
func (w *watcher) run(ctx context.Context) {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.check(ctx)
		}
	}
}

// check redeploys the file if it changed. An invalid file is logged, with
// every problem, and ignored: the running flows stay.
func (w *watcher) check(ctx context.Context) {
	fi, err := os.Stat(w.file)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) || w.size >= 0 {
			w.log.Warn("flow file", slog.String("file", w.file), slog.String("error", err.Error()))
		}
		w.size = -1 // log once until the file is back
		return
	}
	if fi.ModTime().Equal(w.modTime) && fi.Size() == w.size {
		return
	}
	w.modTime, w.size = fi.ModTime(), fi.Size()
	b, err := os.ReadFile(w.file)
	if err != nil {
		w.log.Warn("flow file", slog.String("file", w.file), slog.String("error", err.Error()))
		return
	}
	sum := sha256.Sum256(b)
	if sum == w.sum {
		return
	}
	w.sum = sum
	doc, err := flows.Parse(b)
	if err == nil {
		var p *engine.Plan
		if p, err = w.rt.Plan(doc, engine.DeployNodes); err == nil {
			err = w.rt.Apply(ctx, p)
			if err == nil {
				w.log.Info("flow file changed: deployed", slog.String("file", w.file),
					slog.String("changes", p.Diff.Summary()), slog.Int("kept", p.Kept))
				return
			}
		}
	}
	w.log.Error("flow file changed but is invalid; the running flows stay", slog.String("file", w.file),
		slog.String("problems", problemsText(err)))
}

// problemsText puts a document's problems (one per line in its error) on
// one line for the log.
func problemsText(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
