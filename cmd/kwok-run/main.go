// Command kwok-run turns one HCL scenario file into a reproducible Kubernetes
// scale test against a KWOK-simulated control plane.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/kwok-run/kwok-run/cmd/kwok-run/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Run(ctx, cli.Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}
