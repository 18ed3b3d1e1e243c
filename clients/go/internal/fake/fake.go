// Package fake has in-process fakes of ngsi-receiver's EventStream and
// ngsi-replier's Replier for unit tests, served over bufconn.
package fake

import (
	"context"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"

	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
)

// Receiver serves a fixed log of events with the receiver's start, end and
// filter semantics. BreakAfter makes the next streams fail with UNAVAILABLE
// after sending that many events (one entry per stream, consumed in order).
type Receiver struct {
	pb.UnimplementedEventStreamServer
	mu         sync.Mutex
	Events     []*pb.NgsiEvent // sequences ascending
	Earliest   uint64          // sequences below are "no longer retained"
	BreakAfter []int
	Requests   []*pb.SubscribeRequest
	// Resend makes every stream resend the event at after_sequence first
	// (a misbehaving server) so the client's duplicate guard shows.
	Resend bool
	// NoBatches answers SubscribeBatches with UNIMPLEMENTED (an older
	// receiver); BatchSizes records the events of every batch sent.
	NoBatches  bool
	BatchSizes []int
	// BatchOf groups that many consecutive events per batch (0: 2).
	BatchOf int
}

// SubscribeBatches implements EventStream: the Subscribe stream, its events
// grouped BatchOf at a time (the last batch of a stream may be shorter).
func (r *Receiver) SubscribeBatches(req *pb.SubscribeRequest, stream pb.EventStream_SubscribeBatchesServer) error {
	r.mu.Lock()
	if r.NoBatches {
		r.mu.Unlock()
		return status.Error(codes.Unimplemented, "unknown method SubscribeBatches")
	}
	size := r.BatchOf
	r.mu.Unlock()
	if size <= 0 {
		size = 2
	}
	batcher := &batchingStream{ServerStream: stream, out: stream, size: size, receiver: r}
	err := r.Subscribe(req, batcher)
	if flushErr := batcher.flush(); err == nil || status.Code(err) == codes.Unavailable {
		// What was sent before a break or the end still goes out.
		if flushErr != nil {
			return flushErr
		}
	}
	return err
}

// batchingStream takes Subscribe's events and sends them as batches.
type batchingStream struct {
	grpc.ServerStream
	out      pb.EventStream_SubscribeBatchesServer
	size     int
	pending  []*pb.NgsiEvent
	receiver *Receiver
}

func (b *batchingStream) Send(e *pb.NgsiEvent) error {
	b.pending = append(b.pending, e)
	if len(b.pending) < b.size {
		return nil
	}
	return b.flush()
}

func (b *batchingStream) flush() error {
	if len(b.pending) == 0 {
		return nil
	}
	b.receiver.mu.Lock()
	b.receiver.BatchSizes = append(b.receiver.BatchSizes, len(b.pending))
	b.receiver.mu.Unlock()
	err := b.out.Send(&pb.NgsiEventBatch{Events: b.pending})
	b.pending = nil
	return err
}

// Subscribe implements EventStream.
func (r *Receiver) Subscribe(req *pb.SubscribeRequest, stream pb.EventStream_SubscribeServer) error {
	r.mu.Lock()
	r.Requests = append(r.Requests, proto.Clone(req).(*pb.SubscribeRequest))
	breakAfter := -1
	if len(r.BreakAfter) > 0 {
		breakAfter, r.BreakAfter = r.BreakAfter[0], r.BreakAfter[1:]
	}
	events := append([]*pb.NgsiEvent(nil), r.Events...)
	earliest := r.Earliest
	resend := r.Resend
	r.mu.Unlock()

	var from uint64
	switch req.GetStart() {
	case pb.SubscribeRequest_EARLIEST:
		from = earliest
	case pb.SubscribeRequest_AFTER:
		from = req.GetAfterSequence() + 1
		if resend && from > 1 {
			from--
		}
		if from < earliest {
			return status.Errorf(codes.OutOfRange, "sequence %d is no longer retained; earliest is %d",
				from, earliest)
		}
	default:
		<-stream.Context().Done() // nothing is appended to a fixed log
		return status.FromContextError(stream.Context().Err()).Err()
	}
	sent := 0
	for _, e := range events {
		if e.GetSequence() < from {
			continue
		}
		if end := req.GetEndSequence(); end > 0 && e.GetSequence() > end {
			return nil
		}
		if !Matches(req.GetFilter(), e) {
			continue
		}
		if sent == breakAfter {
			return status.Error(codes.Unavailable, "receiver draining")
		}
		if err := stream.Send(Project(req.GetFilter(), e)); err != nil {
			return err
		}
		sent++
	}
	if sent == breakAfter {
		return status.Error(codes.Unavailable, "receiver draining")
	}
	if req.GetEndSequence() > 0 {
		return nil
	}
	if b, ok := stream.(*batchingStream); ok {
		if err := b.flush(); err != nil { // caught up: the batch leaves now
			return err
		}
	}
	<-stream.Context().Done() // follow: wait for live events that never come
	return status.FromContextError(stream.Context().Err()).Err()
}

// Matches applies an EventFilter the way the receiver does: an event
// matches when one of its entities does.
func Matches(f *pb.EventFilter, e *pb.NgsiEvent) bool {
	if f == nil {
		return true
	}
	if f.GetService() != "" && f.GetService() != e.GetService() {
		return false
	}
	if p := f.GetServicePathPrefix(); p != "" && e.GetServicePath() != p &&
		!strings.HasPrefix(e.GetServicePath(), strings.TrimSuffix(p, "/")+"/") {
		return false
	}
	if f.GetEntityType() == "" && f.GetEntityId() == "" && f.GetEntityIdPattern() == "" {
		return true
	}
	var re *regexp.Regexp
	if f.GetEntityIdPattern() != "" {
		re = regexp.MustCompile("^(?:" + f.GetEntityIdPattern() + ")$")
	}
	for _, ent := range e.GetEntities() {
		if (f.GetEntityType() == "" || ent.GetType() == f.GetEntityType()) &&
			(f.GetEntityId() == "" || ent.GetId() == f.GetEntityId()) &&
			(re == nil || re.MatchString(ent.GetId())) {
			return true
		}
	}
	return false
}

// Project keeps only the filter's attributes.
func Project(f *pb.EventFilter, e *pb.NgsiEvent) *pb.NgsiEvent {
	if len(f.GetAttrs()) == 0 {
		return e
	}
	out := proto.Clone(e).(*pb.NgsiEvent)
	keep := map[string]bool{}
	for _, a := range f.GetAttrs() {
		keep[a] = true
	}
	for _, ent := range out.GetEntities() {
		for n := range ent.GetAttrs() {
			if !keep[n] {
				delete(ent.Attrs, n)
			}
		}
	}
	return out
}

// SubscribeRequests returns the requests received so far.
func (r *Receiver) SubscribeRequests() []*pb.SubscribeRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*pb.SubscribeRequest(nil), r.Requests...)
}

// Replier answers every Write with one result per entity; entities whose
// id is in Fail get code FailCode. Writes are recorded.
type Replier struct {
	pb.UnimplementedReplierServer
	mu       sync.Mutex
	Fail     map[string]bool
	FailCode codes.Code
	Writes   []*pb.WriteRequest
}

// Write implements Replier.
func (r *Replier) Write(_ context.Context, req *pb.WriteRequest) (*pb.WriteResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if req.GetBroker() != "orion" {
		return nil, status.Errorf(codes.NotFound, "broker %q is not configured", req.GetBroker())
	}
	r.Writes = append(r.Writes, proto.Clone(req).(*pb.WriteRequest))
	resp := &pb.WriteResponse{RequestId: req.GetRequestId(), BrokerCalls: 1}
	for _, e := range req.GetEntities() {
		res := &pb.EntityResult{Id: e.GetId(), Type: e.GetType()}
		if r.Fail[e.GetId()] {
			res.Code, res.HttpStatus = int32(r.FailCode), 422
			res.Message, res.BrokerError = "rejected", `{"error":"Unprocessable"}`
			resp.Failed++
		} else {
			resp.Succeeded++
		}
		resp.Results = append(resp.Results, res)
	}
	return resp, nil
}

// Serve starts a gRPC server with the given registrations on a bufconn
// listener and returns a client connection; both close with the test.
func Serve(t testing.TB, register func(*grpc.Server)) *grpc.ClientConn {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer()
	register(srv)
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		conn.Close()
		srv.Stop()
	})
	return conn
}

// Events makes n events with sequences first..first+n-1; entity i is a
// Room ("Room<seq>") in tenant "smartcity", path "/madrid" when seq is even
// and a Car in "/valencia" otherwise.
func Events(first uint64, n int) []*pb.NgsiEvent {
	out := make([]*pb.NgsiEvent, 0, n)
	for i := 0; i < n; i++ {
		seq := first + uint64(i)
		typ, path := "Room", "/madrid"
		if seq%2 == 1 {
			typ, path = "Car", "/valencia"
		}
		id := typ + itoa(seq)
		out = append(out, &pb.NgsiEvent{
			Sequence: seq, Service: "smartcity", ServicePath: path,
			Flavor: pb.Flavor_NGSI_V2, Format: pb.Format_NORMALIZED,
			Entities: []*pb.Entity{{Id: &id, Type: &typ, Attrs: map[string]*pb.Attribute{
				"temperature": {Type: "Number", Value: numberValue(float64(seq))},
				"pressure":    {Type: "Number", Value: numberValue(1000)},
			}}},
		})
	}
	return out
}
