package subscriber_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ngsi-bridge/ngsi-bridge/clients/go/internal/fake"
	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/subscriber"
)

func client(t *testing.T, r *fake.Receiver) pb.EventStreamClient {
	conn := fake.Serve(t, func(s *grpc.Server) { pb.RegisterEventStreamServer(s, r) })
	return pb.NewEventStreamClient(conn)
}

func collect(t *testing.T, s *subscriber.Subscriber) ([]uint64, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var seqs []uint64
	err := s.Run(ctx, func(e *pb.NgsiEvent) error {
		seqs = append(seqs, e.GetSequence())
		return nil
	})
	return seqs, err
}

func seqRange(first, last uint64) []uint64 {
	var out []uint64
	for s := first; s <= last; s++ {
		out = append(out, s)
	}
	return out
}

func equal(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestEarliestDeliversEveryEventInOrderUntilEnd(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(5, 10), Earliest: 5}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithEndSequence(14))
	got, err := collect(t, s)
	if err != nil || !equal(got, seqRange(5, 14)) {
		t.Fatalf("got %v, %v", got, err)
	}
	if s.LastSequence() != 14 {
		t.Fatalf("LastSequence = %d", s.LastSequence())
	}
	req := r.SubscribeRequests()[0]
	if req.GetStart() != pb.SubscribeRequest_EARLIEST || req.GetEndSequence() != 14 {
		t.Fatalf("request %v", req)
	}
}

func TestAfterStartsWithTheNextSequence(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 10), Earliest: 1}
	got, err := collect(t, subscriber.New(client(t, r), subscriber.After(7), subscriber.WithEndSequence(10)))
	if err != nil || !equal(got, seqRange(8, 10)) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestResumesAfterBrokenStreamsWithoutGapOrDuplicate(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 20), Earliest: 1, BreakAfter: []int{3, 0, 5, 4}}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithEndSequence(20),
		subscriber.WithBackoff(time.Millisecond, 5*time.Millisecond))
	got, err := collect(t, s)
	if err != nil || !equal(got, seqRange(1, 20)) {
		t.Fatalf("got %v, %v", got, err)
	}
	reqs := r.SubscribeRequests()
	if len(reqs) != 5 || s.Reconnects() != 4 {
		t.Fatalf("%d requests, %d reconnects", len(reqs), s.Reconnects())
	}
	wantAfter := []uint64{3, 3, 8, 12}
	for i, w := range wantAfter {
		if reqs[i+1].GetStart() != pb.SubscribeRequest_AFTER || reqs[i+1].GetAfterSequence() != w {
			t.Fatalf("resubscription %d: %v, want after %d", i, reqs[i+1], w)
		}
	}
}

func TestResumeKeepsTheFilterAndSkipsResentEvents(t *testing.T) {
	filter := &pb.EventFilter{EntityType: "Room", Attrs: []string{"temperature"}}
	r := &fake.Receiver{Events: fake.Events(1, 12), Earliest: 1, BreakAfter: []int{2}, Resend: true}
	s := subscriber.New(client(t, r), subscriber.After(1), subscriber.WithFilter(filter),
		subscriber.WithEndSequence(12), subscriber.WithBackoff(time.Millisecond, time.Millisecond))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var got []uint64
	err := s.Run(ctx, func(e *pb.NgsiEvent) error {
		got = append(got, e.GetSequence())
		if _, ok := e.GetEntities()[0].GetAttrs()["pressure"]; ok {
			t.Errorf("event %d not projected", e.GetSequence())
		}
		return nil
	})
	if err != nil || !equal(got, []uint64{2, 4, 6, 8, 10, 12}) {
		t.Fatalf("got %v, %v", got, err)
	}
	for _, req := range r.SubscribeRequests() {
		if req.GetFilter().GetEntityType() != "Room" {
			t.Fatalf("filter lost on %v", req)
		}
	}
}

func TestOutOfRangeIsFinal(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(50, 5), Earliest: 50}
	_, err := collect(t, subscriber.New(client(t, r), subscriber.After(10)))
	if status.Code(err) != codes.OutOfRange || len(r.SubscribeRequests()) != 1 {
		t.Fatalf("err %v after %d requests", err, len(r.SubscribeRequests()))
	}
}

func TestGivesUpAfterMaxRetries(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 3), Earliest: 1, BreakAfter: []int{0, 0, 0, 0}}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithMaxRetries(2),
		subscriber.WithBackoff(time.Millisecond, time.Millisecond))
	_, err := collect(t, s)
	if status.Code(err) != codes.Unavailable || len(r.SubscribeRequests()) != 3 {
		t.Fatalf("err %v after %d requests", err, len(r.SubscribeRequests()))
	}
}

func TestHandlerErrorStopsAndErrStopIsClean(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 5), Earliest: 1}
	boom := errors.New("boom")
	s := subscriber.New(client(t, r), subscriber.Earliest())
	err := s.Run(context.Background(), func(e *pb.NgsiEvent) error {
		if e.GetSequence() == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || s.LastSequence() != 2 {
		t.Fatalf("err %v, last %d", err, s.LastSequence())
	}
	s = subscriber.New(client(t, r), subscriber.Earliest())
	err = s.Run(context.Background(), func(e *pb.NgsiEvent) error {
		if e.GetSequence() == 2 {
			return subscriber.ErrStop
		}
		return nil
	})
	if err != nil || s.LastSequence() != 2 {
		t.Fatalf("err %v, last %d", err, s.LastSequence())
	}
}

func TestCancelEndsALiveSubscription(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 2), Earliest: 1}
	ctx, cancel := context.WithCancel(context.Background())
	s := subscriber.New(client(t, r), subscriber.Earliest())
	err := s.Run(ctx, func(e *pb.NgsiEvent) error {
		if e.GetSequence() == 2 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || s.LastSequence() != 2 {
		t.Fatalf("err %v, last %d", err, s.LastSequence())
	}
}

func TestParseStart(t *testing.T) {
	for in, want := range map[string]string{"latest": "latest", "EARLIEST": "earliest",
		"42": "after 41", "1": "after 0"} {
		got, err := subscriber.ParseStart(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseStart(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"0", "-1", "soon"} {
		if _, err := subscriber.ParseStart(bad); err == nil {
			t.Errorf("ParseStart(%q) accepted", bad)
		}
	}
}

func TestBatchesAreReadWithTheirDelayAndUnpackedInOrder(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 10), Earliest: 1, BatchOf: 4}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithEndSequence(10))
	got, err := collect(t, s)
	if err != nil || !equal(got, seqRange(1, 10)) {
		t.Fatalf("got %v, %v", got, err)
	}
	if sizes := r.BatchSizes; len(sizes) != 3 || sizes[0] != 4 || sizes[2] != 2 {
		t.Fatalf("batch sizes %v, want [4 4 2]", sizes)
	}
	if delay := r.SubscribeRequests()[0].GetMaxBatchDelayMs(); delay != 5 {
		t.Fatalf("max_batch_delay_ms = %d, want the default 5", delay)
	}
}

func TestResumesInsideABatchWithoutGapOrDuplicate(t *testing.T) {
	// Breaks after 3 events: the stream's second batch of 2 is cut short.
	r := &fake.Receiver{Events: fake.Events(1, 12), Earliest: 1, BatchOf: 2, BreakAfter: []int{3, 5}}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithEndSequence(12),
		subscriber.WithBackoff(time.Millisecond, time.Millisecond))
	got, err := collect(t, s)
	if err != nil || !equal(got, seqRange(1, 12)) {
		t.Fatalf("got %v, %v", got, err)
	}
}

func TestAReceiverWithoutBatchesIsReadThroughSubscribe(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 5), Earliest: 1, NoBatches: true}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithEndSequence(5))
	got, err := collect(t, s)
	if err != nil || !equal(got, seqRange(1, 5)) {
		t.Fatalf("got %v, %v", got, err)
	}
	if s.Reconnects() != 0 || len(r.BatchSizes) != 0 {
		t.Fatalf("reconnects %d, batches %v", s.Reconnects(), r.BatchSizes)
	}
}

func TestBatchesOffReadsOneEventPerMessage(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 3), Earliest: 1}
	s := subscriber.New(client(t, r), subscriber.Earliest(), subscriber.WithEndSequence(3),
		subscriber.WithBatches(false, 0))
	got, err := collect(t, s)
	if err != nil || !equal(got, seqRange(1, 3)) || len(r.BatchSizes) != 0 {
		t.Fatalf("got %v, %v, batches %v", got, err, r.BatchSizes)
	}
	if r.SubscribeRequests()[0].GetMaxBatchDelayMs() != 0 {
		t.Fatalf("a Subscribe request asks no batch delay")
	}
}
