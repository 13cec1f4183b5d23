// Command kwok-run turns one HCL scenario file into a reproducible Kubernetes
// scale test against a KWOK-simulated control plane.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/kwok-run/kwok-run/cmd/kwok-run/cli"
)

func main() {
	// SIGINT and SIGTERM cancel the context, so whatever runs tears down
	// what it started; the exit code then says which signal it was.
	ctx, cancel := context.WithCancelCause(context.Background())
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	var got atomic.Int32
	go func() {
		sig := (<-signals).(syscall.Signal)
		got.Store(int32(sig))
		fmt.Fprintf(os.Stderr, "kwok-run: %s, stopping and cleaning up\n", sig)
		cancel(cli.Signal{Signal: sig})
		for range signals {
			fmt.Fprintln(os.Stderr, "kwok-run: still cleaning up, nearly done")
		}
	}()
	code := cli.Run(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	if sig := got.Load(); sig != 0 {
		code = 128 + int(sig)
	}
	os.Exit(code)
}
