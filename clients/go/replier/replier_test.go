package replier_test

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ngsi-bridge/ngsi-bridge/clients/go/internal/fake"
	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/replier"
)

func entities(ids ...string) []*pb.Entity {
	out := make([]*pb.Entity, 0, len(ids))
	for _, id := range ids {
		id, typ := id, "Room"
		out = append(out, &pb.Entity{Id: &id, Type: &typ})
	}
	return out
}

func newClient(t *testing.T, f *fake.Replier, broker string) *replier.Client {
	conn := fake.Serve(t, func(s *grpc.Server) { pb.RegisterReplierServer(s, f) })
	return replier.New(pb.NewReplierClient(conn), broker)
}

func TestWriteSendsTenancyAndReportsPerEntityResults(t *testing.T) {
	f := &fake.Replier{Fail: map[string]bool{"R2": true}, FailCode: codes.FailedPrecondition}
	c := newClient(t, f, "orion")
	res, err := c.Write(context.Background(), pb.Operation_OPERATION_UPSERT, entities("R1", "R2", "R3"),
		replier.Service("smartcity"), replier.ServicePath("/madrid"), replier.Correlator("c-1"),
		replier.RequestID("req-7"))
	if err != nil {
		t.Fatal(err)
	}
	if res.OK() || res.GetSucceeded() != 2 || res.GetRequestId() != "req-7" {
		t.Fatalf("result %v", res)
	}
	if f := res.Failures(); len(f) != 1 || f[0].GetId() != "R2" || f[0].GetHttpStatus() != 422 {
		t.Fatalf("failures %v", f)
	}
	if err := res.Err(); err == nil || !strings.Contains(err.Error(), "Room/R2") {
		t.Fatalf("Err() = %v", err)
	}
	w := f.Writes[0]
	if w.GetService() != "smartcity" || w.GetServicePath() != "/madrid" || w.GetCorrelator() != "c-1" ||
		w.GetOperation() != pb.Operation_OPERATION_UPSERT {
		t.Fatalf("request %v", w)
	}
}

func TestWriteAllSplitsIntoBatches(t *testing.T) {
	f := &fake.Replier{}
	c := newClient(t, f, "orion")
	ids := make([]string, 7)
	for i := range ids {
		ids[i] = "R" + string(rune('a'+i))
	}
	res, err := c.WriteAll(context.Background(), pb.Operation_OPERATION_APPEND, entities(ids...), 3)
	if err != nil || !res.OK() || len(res.GetResults()) != 7 || res.GetBrokerCalls() != 3 {
		t.Fatalf("%v, %v", res, err)
	}
	if len(f.Writes) != 3 || len(f.Writes[2].GetEntities()) != 1 {
		t.Fatalf("%d writes", len(f.Writes))
	}
	if res.Err() != nil {
		t.Fatal(res.Err())
	}
}

func TestUnknownBrokerIsAnRPCError(t *testing.T) {
	c := newClient(t, &fake.Replier{}, "nope")
	_, err := c.Write(context.Background(), pb.Operation_OPERATION_CREATE, entities("R1"))
	if status.Code(err) != codes.NotFound {
		t.Fatalf("err %v", err)
	}
}
