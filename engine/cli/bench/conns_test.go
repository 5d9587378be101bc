package bench

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/runnel-io/runnel/broker"
)

// TestRunConns holds 1,000 connections to the embedded broker (10,000 are
// measured by hand with runnel bench --connections 10000), and checks that
// every client gets exactly its own message and the one sent to all.
func TestRunConns(t *testing.T) {
	const n = 1000
	if _, err := raiseNoFile(2*n + connsSpareFiles); err != nil { // both ends are in this process
		t.Skip(err)
	}
	b, err := broker.Start(broker.Options{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pid := os.Getpid()
	res, err := runConns(ctx, connsConfig{
		Addr:    b.Addr(),
		N:       n,
		Hold:    10 * time.Millisecond,
		Timeout: 30 * time.Second,
		Server: func() (time.Duration, int64, int64, error) {
			cpu, err := procCPU(pid)
			if err != nil {
				return 0, 0, 0, err
			}
			rss, hwm, err := procMem(pid)
			return cpu, rss, hwm, err
		},
		Progress: t.Logf,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", res)
	if res.Connections != n || res.OwnReceived != n || res.FanoutReceived != n || res.Wrong != 0 {
		t.Errorf("connections %d, own topic %d, fan-out %d, wrong %d; want %d, %d, %d, 0",
			res.Connections, res.OwnReceived, res.FanoutReceived, res.Wrong, n, n, n)
	}
	if !res.Server || res.ConnectSec <= 0 || res.ConnectP99ms < res.ConnectP50ms || res.RSSHeld <= 0 || res.OwnSec <= 0 || res.FanoutSec <= 0 {
		t.Errorf("implausible figures: %+v", res)
	}
}

// TestRunConnsRefused: a server that refuses connections is an error that
// names the connection, not a hang.
func TestRunConnsRefused(t *testing.T) {
	addr, err := freeLoopbackAddr() // nothing listens there now
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = runConns(ctx, connsConfig{Addr: addr, N: 10, Timeout: 5 * time.Second})
	if err == nil {
		t.Fatal("no error")
	}
	t.Log(err)
}

func TestRaiseNoFile(t *testing.T) {
	var before syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &before); err != nil {
		t.Fatal(err)
	}
	got, err := raiseNoFile(64)
	if err != nil {
		t.Fatal(err)
	}
	if got < 64 || got < before.Cur {
		t.Errorf("raiseNoFile(64) = %d; the limit was %d", got, before.Cur)
	}
	if _, err := raiseNoFile(1 << 40); err == nil && os.Geteuid() != 0 {
		t.Error("raising past the hard limit without privileges: no error")
	}
}
