// Package replier writes entities back to a broker through ngsi-replier and
// reports one result per entity.
//
//	c := replier.New(ngsibridgev1.NewReplierClient(conn), "orion")
//	res, err := c.Write(ctx, ngsibridgev1.Operation_OPERATION_UPSERT, entities,
//		replier.Service("smartcity"), replier.ServicePath("/madrid"))
//	for _, f := range res.Failures() { ... }
package replier

import (
	"context"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
)

// Client sends writes for one configured broker. Safe for concurrent use.
type Client struct {
	rpc    pb.ReplierClient
	broker string
}

// New returns a Client writing to broker (a name configured on the replier).
func New(rpc pb.ReplierClient, broker string) *Client { return &Client{rpc: rpc, broker: broker} }

// WriteOption sets a per-request field.
type WriteOption func(*pb.WriteRequest)

// Service sets Fiware-Service / NGSILD-Tenant.
func Service(s string) WriteOption { return func(r *pb.WriteRequest) { r.Service = s } }

// ServicePath sets Fiware-ServicePath.
func ServicePath(p string) WriteOption { return func(r *pb.WriteRequest) { r.ServicePath = p } }

// Correlator is passed on as Fiware-Correlator.
func Correlator(c string) WriteOption { return func(r *pb.WriteRequest) { r.Correlator = c } }

// RequestID is echoed in the response.
func RequestID(id string) WriteOption { return func(r *pb.WriteRequest) { r.RequestId = id } }

// DeleteAttributes makes OPERATION_DELETE remove the listed attributes only.
func DeleteAttributes() WriteOption { return func(r *pb.WriteRequest) { r.DeleteAttributes = true } }

// Contexts sets the NGSI-LD @context of the batch.
func Contexts(c ...*structpb.Value) WriteOption {
	return func(r *pb.WriteRequest) { r.Contexts = c }
}

// Result is the replier's answer: one EntityResult per entity, in order.
type Result struct{ *pb.WriteResponse }

// OK tells whether every entity was written.
func (r Result) OK() bool { return r.GetFailed() == 0 && allOK(r.GetResults()) }

// Failures lists the entities that were not written.
func (r Result) Failures() []*pb.EntityResult {
	var out []*pb.EntityResult
	for _, e := range r.GetResults() {
		if codes.Code(e.GetCode()) != codes.OK {
			out = append(out, e)
		}
	}
	return out
}

// Err summarises the failures as an error (nil when OK).
func (r Result) Err() error {
	f := r.Failures()
	if len(f) == 0 {
		return nil
	}
	parts := make([]string, 0, len(f))
	for _, e := range f {
		parts = append(parts, fmt.Sprintf("%s/%s: %s (%s, http %d)", e.GetType(), e.GetId(),
			e.GetMessage(), codes.Code(e.GetCode()), e.GetHttpStatus()))
	}
	return fmt.Errorf("replier: %d of %d entities failed: %s", len(f), len(r.GetResults()),
		strings.Join(parts, "; "))
}

func allOK(rs []*pb.EntityResult) bool {
	for _, e := range rs {
		if e.GetCode() != 0 {
			return false
		}
	}
	return true
}

// Write sends one batch. err is the RPC's failure (the replier unreachable,
// the broker name unknown, ...); per-entity failures are in the Result.
func (c *Client) Write(ctx context.Context, op pb.Operation, entities []*pb.Entity,
	opts ...WriteOption) (Result, error) {
	req := &pb.WriteRequest{Broker: c.broker, Operation: op, Entities: entities}
	for _, o := range opts {
		o(req)
	}
	resp, err := c.rpc.Write(ctx, req)
	if err != nil {
		return Result{}, err
	}
	if n := len(resp.GetResults()); n != len(entities) {
		return Result{resp}, fmt.Errorf("replier: %d results for %d entities", n, len(entities))
	}
	return Result{resp}, nil
}

// WriteAll splits entities into batches of at most batchSize and writes them
// in order, stopping at the first RPC error. Results are concatenated.
func (c *Client) WriteAll(ctx context.Context, op pb.Operation, entities []*pb.Entity,
	batchSize int, opts ...WriteOption) (Result, error) {
	if batchSize <= 0 {
		batchSize = 100
	}
	total := &pb.WriteResponse{}
	for startIdx := 0; startIdx < len(entities); startIdx += batchSize {
		end := min(startIdx+batchSize, len(entities))
		res, err := c.Write(ctx, op, entities[startIdx:end], opts...)
		if err != nil {
			return Result{total}, err
		}
		total.Results = append(total.Results, res.GetResults()...)
		total.Succeeded += res.GetSucceeded()
		total.Failed += res.GetFailed()
		total.BrokerCalls += res.GetBrokerCalls()
	}
	return Result{total}, nil
}
