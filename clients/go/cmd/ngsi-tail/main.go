// Command ngsi-tail prints the events of an ngsi-receiver as they arrive.
//
//	ngsi-tail --addr localhost:50051 --from earliest --type Room --format line
//
// Flags: --addr, --service, --service-path (prefix), --type, --id,
// --id-pattern (RE2, full match), --attrs a,b (projection),
// --from earliest|latest|SEQ (SEQ: starting with that sequence),
// --end SEQ (stop after it), --format json|line. On a broken stream it
// resumes after the last printed event: no gap, no duplicate.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}
