package cli

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/runnel-io/runnel/engine"
	"github.com/runnel-io/runnel/flows"
)

// watcher redeploys a flow file when its content changes: the GitOps way
// to update an edge gateway. It polls, so that it sees every way a file
// can be replaced (written in place, renamed over, checked out by git) on
// every file system, at the cost of a stat per interval. The credentials
// file beside the flow file (flows_cred.json) is watched with it.
type watcher struct {
	file, credFile string
	secret         string
	rt             *engine.Runtime
	log            *slog.Logger
	interval       time.Duration

	modTime, credModTime time.Time
	size, credSize       int64
	sum                  [sha256.Size]byte
}

func newWatcher(file, secret string, rt *engine.Runtime, log *slog.Logger, interval time.Duration) *watcher {
	w := &watcher{file: file, credFile: flows.CredentialsFile(file), secret: secret, rt: rt, log: log, interval: interval}
	if fi, err := os.Stat(file); err == nil {
		w.modTime, w.size = fi.ModTime(), fi.Size()
	}
	w.credModTime, w.credSize = statOrZero(w.credFile)
	if b, err := os.ReadFile(file); err == nil {
		w.sum = w.contentSum(b)
	}
	return w
}

// statOrZero returns a file's modification time and size; a size of -1
// when it does not exist.
func statOrZero(path string) (time.Time, int64) {
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}, -1
	}
	return fi.ModTime(), fi.Size()
}

// contentSum hashes the flow file's content with the credentials file's.
func (w *watcher) contentSum(flowBytes []byte) [sha256.Size]byte {
	h := sha256.New()
	h.Write(flowBytes)
	h.Write([]byte{0})
	if b, err := os.ReadFile(w.credFile); err == nil {
		h.Write(b)
	}
	var sum [sha256.Size]byte
	h.Sum(sum[:0])
	return sum
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
			w.guardedCheck(ctx)
		}
	}
}

// guardedCheck is check that survives a panic: a flow file that makes the
// runner panic is logged and ignored, and the running flows stay.
func (w *watcher) guardedCheck(ctx context.Context) {
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("flow file changed but deploying it panicked; the running flows stay", slog.String("file", w.file),
				slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack())))
		}
	}()
	w.check(ctx)
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
	credMod, credSize := statOrZero(w.credFile)
	if fi.ModTime().Equal(w.modTime) && fi.Size() == w.size && credMod.Equal(w.credModTime) && credSize == w.credSize {
		return
	}
	w.modTime, w.size = fi.ModTime(), fi.Size()
	w.credModTime, w.credSize = credMod, credSize
	b, err := os.ReadFile(w.file)
	if err != nil {
		w.log.Warn("flow file", slog.String("file", w.file), slog.String("error", err.Error()))
		return
	}
	sum := w.contentSum(b)
	if sum == w.sum {
		return
	}
	w.sum = sum
	doc, plain, err := readFlows(w.file, w.secret)
	if err == nil {
		warnPlainCredentials(w.log, w.file, plain)
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
