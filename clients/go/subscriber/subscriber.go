// Package subscriber follows an ngsi-receiver's EventStream: it subscribes
// from a start position with server-side filters and, when the stream
// breaks, resubscribes after the last sequence it delivered, so the caller
// sees every matching event once, in order, with no gap and no duplicate.
//
//	sub := subscriber.New(ngsibridgev1.NewEventStreamClient(conn),
//		subscriber.Earliest(), subscriber.WithFilter(&ngsibridgev1.EventFilter{EntityType: "Room"}))
//	err := sub.Run(ctx, func(e *ngsibridgev1.NgsiEvent) error { ...; return nil })
package subscriber

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
)

// Start is where a subscription begins.
type Start struct {
	kind  pb.SubscribeRequest_Start
	after uint64
}

// Latest starts with the first event appended after the subscription.
func Latest() Start { return Start{kind: pb.SubscribeRequest_LATEST} }

// Earliest starts with the earliest event the receiver retains.
func Earliest() Start { return Start{kind: pb.SubscribeRequest_EARLIEST} }

// After starts with the event after sequence seq (resume).
func After(seq uint64) Start { return Start{kind: pb.SubscribeRequest_AFTER, after: seq} }

// ParseStart reads "latest", "earliest" or a sequence number SEQ, which
// means "starting with SEQ" (that is After(SEQ-1)).
func ParseStart(s string) (Start, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "latest", "":
		return Latest(), nil
	case "earliest":
		return Earliest(), nil
	}
	seq, err := strconv.ParseUint(s, 10, 64)
	if err != nil || seq == 0 {
		return Start{}, fmt.Errorf("start %q is not latest, earliest or a sequence >= 1", s)
	}
	return After(seq - 1), nil
}

func (s Start) String() string {
	if s.kind == pb.SubscribeRequest_AFTER {
		return fmt.Sprintf("after %d", s.after)
	}
	return strings.ToLower(s.kind.String())
}

// Option configures a Subscriber.
type Option func(*Subscriber)

// WithFilter sets the server-side filter (nil: every event).
func WithFilter(f *pb.EventFilter) Option { return func(s *Subscriber) { s.filter = f } }

// WithEndSequence makes Run return nil after delivering the event with this
// sequence (inclusive), or once the server completes the stream there.
func WithEndSequence(seq uint64) Option { return func(s *Subscriber) { s.end = seq } }

// WithBackoff sets the reconnect delays: first delay, doubled up to max.
func WithBackoff(initial, max time.Duration) Option {
	return func(s *Subscriber) { s.initialBackoff, s.maxBackoff = initial, max }
}

// WithBatches chooses EventStream.SubscribeBatches (the default) or, false,
// Subscribe (one event per message). delayMs is the request's
// max_batch_delay_ms: how long the receiver lets a message that holds an
// event wait for more (default 5; 0 sends every event at once). Under a
// steady flow a few milliseconds turn one gRPC message per event into one
// per several, which costs the receiver and this process far less. A
// receiver without SubscribeBatches is read through Subscribe.
func WithBatches(on bool, delayMs uint32) Option {
	return func(s *Subscriber) { s.batches, s.batchDelayMs = on, delayMs }
}

// WithMaxRetries bounds consecutive failed reconnects (0: retry forever).
// The count resets whenever an event arrives.
func WithMaxRetries(n int) Option { return func(s *Subscriber) { s.maxRetries = n } }

// Subscriber is one logical subscription that survives reconnects. Run is
// not reentrant; LastSequence may be called from any goroutine.
type Subscriber struct {
	client         pb.EventStreamClient
	start          Start
	filter         *pb.EventFilter
	end            uint64
	initialBackoff time.Duration
	maxBackoff     time.Duration
	maxRetries     int
	batches        bool
	batchDelayMs   uint32
	last           atomic.Uint64 // 0: nothing delivered yet
	reconnects     atomic.Int64
}

// New returns a Subscriber; nothing is sent before Run.
func New(client pb.EventStreamClient, start Start, opts ...Option) *Subscriber {
	s := &Subscriber{client: client, start: start,
		initialBackoff: 100 * time.Millisecond, maxBackoff: 5 * time.Second,
		batches: true, batchDelayMs: 5}
	for _, o := range opts {
		o(s)
	}
	return s
}

// LastSequence is the sequence of the last event the handler accepted (0
// before the first): pass it to After to resume in another process.
func (s *Subscriber) LastSequence() uint64 { return s.last.Load() }

// Reconnects counts the resubscriptions after a broken stream.
func (s *Subscriber) Reconnects() int64 { return s.reconnects.Load() }

// ErrStop may be returned by a handler to end Run with a nil error.
var ErrStop = errors.New("subscriber: stop")

// Retryable tells whether a stream error is transient: the receiver was
// unreachable, restarting or draining. OUT_OF_RANGE (the resume point is no
// longer retained), INVALID_ARGUMENT and the like are final.
func Retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted, codes.Internal, codes.Unknown,
		codes.ResourceExhausted, codes.DeadlineExceeded:
		return true
	}
	return false
}

func (s *Subscriber) request() *pb.SubscribeRequest {
	req := &pb.SubscribeRequest{Start: s.start.kind, AfterSequence: s.start.after,
		EndSequence: s.end, Filter: s.filter}
	if s.batches {
		req.MaxBatchDelayMs = s.batchDelayMs
	}
	if last := s.last.Load(); last > 0 {
		req.Start, req.AfterSequence = pb.SubscribeRequest_AFTER, last
	}
	return req
}

// Run delivers events to handle, in sequence order, until ctx is done
// (returns ctx.Err()), the handler returns an error (returned, or nil for
// ErrStop), the end sequence is reached (nil), or the stream fails with a
// non-retryable status or past the retry budget (that error). Blocks.
func (s *Subscriber) Run(ctx context.Context, handle func(*pb.NgsiEvent) error) error {
	backoff := s.initialBackoff
	failures := 0
	for {
		progressed, err := s.once(ctx, handle)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, ErrStop):
			return nil
		case ctx.Err() != nil:
			return ctx.Err()
		}
		var h handlerError
		if errors.As(err, &h) {
			return h.err
		}
		if !Retryable(err) {
			return err
		}
		if progressed {
			backoff, failures = s.initialBackoff, 0
		}
		failures++
		if s.maxRetries > 0 && failures > s.maxRetries {
			return fmt.Errorf("subscriber: giving up after %d reconnects: %w", s.maxRetries, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.maxBackoff)
		s.reconnects.Add(1)
	}
}

type handlerError struct{ err error }

func (h handlerError) Error() string { return h.err.Error() }
func (h handlerError) Unwrap() error { return h.err }

// once runs one stream; progressed says whether it delivered an event.
func (s *Subscriber) once(ctx context.Context, handle func(*pb.NgsiEvent) error) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	recv, err := s.open(ctx)
	if err != nil {
		return false, err
	}
	progressed := false
	for {
		events, err := recv()
		if status.Code(err) == codes.Unimplemented && s.batches && !progressed {
			// An older receiver: read it one event per message from now on.
			s.batches = false
			return s.once(ctx, handle)
		}
		if err == io.EOF {
			return progressed, nil // the server completed at end_sequence
		}
		if err != nil {
			return progressed, err
		}
		for _, event := range events {
			seq := event.GetSequence()
			if last := s.last.Load(); last > 0 && seq <= last {
				continue // never deliver twice, whatever the server resends
			}
			if err := handle(event); err != nil {
				if errors.Is(err, ErrStop) {
					s.last.Store(seq)
					return true, err
				}
				return progressed, handlerError{err}
			}
			s.last.Store(seq)
			progressed = true
			if s.end > 0 && seq >= s.end {
				return true, nil
			}
		}
	}
}

// open starts one stream and returns its reader: the events of the next
// message (one for Subscribe, a batch for SubscribeBatches).
func (s *Subscriber) open(ctx context.Context) (func() ([]*pb.NgsiEvent, error), error) {
	if s.batches {
		stream, err := s.client.SubscribeBatches(ctx, s.request())
		if err != nil {
			return nil, err
		}
		return func() ([]*pb.NgsiEvent, error) {
			batch, err := stream.Recv()
			return batch.GetEvents(), err
		}, nil
	}
	stream, err := s.client.Subscribe(ctx, s.request())
	if err != nil {
		return nil, err
	}
	return func() ([]*pb.NgsiEvent, error) {
		event, err := stream.Recv()
		if err != nil {
			return nil, err
		}
		return []*pb.NgsiEvent{event}, nil
	}, nil
}
