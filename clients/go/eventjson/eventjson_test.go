package eventjson_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ngsi-bridge/ngsi-bridge/clients/go/eventjson"
	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
)

const line = `{"sequence":"42","receivedAt":"2026-11-25T10:00:00.123Z",` +
	`"subscriptionId":"6717a1b2c3d4e5f60718293a","service":"smartcity","servicePath":"/madrid",` +
	`"flavor":"NGSI_V2","format":"VALUES","entities":[{"id":"Room1","type":"Room",` +
	`"attrs":{"temperature":{"type":"Number","value":23.5,"metadata":{"unit":{"type":"Text","value":"C"}}}}}]}`

func TestParseAndCanonicalRoundTrip(t *testing.T) {
	var e pb.NgsiEvent
	if err := eventjson.Parse([]byte(line), &e); err != nil {
		t.Fatal(err)
	}
	if e.GetSequence() != 42 || e.GetFormat() != pb.Format_VALUES ||
		e.GetEntities()[0].GetAttrs()["temperature"].GetValue().GetNumberValue() != 23.5 {
		t.Fatalf("parsed %v", &e)
	}
	out, err := eventjson.Canonical(&e)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := eventjson.Normalize([]byte(line))
	if string(out) != string(want) {
		t.Fatalf("canonical\n%s\nwant\n%s", out, want)
	}
	var back pb.NgsiEvent
	if err := eventjson.Parse(out, &back); err != nil || !proto.Equal(&e, &back) {
		t.Fatalf("round trip: %v", err)
	}
}

func TestCanonicalSortsKeysAndKeepsAbsentIdsAbsent(t *testing.T) {
	e := &pb.NgsiEvent{Sequence: 1, ReceivedAt: timestamppb.New(timestamppb.Now().AsTime()),
		Format:   pb.Format_VALUES,
		Entities: []*pb.Entity{{Values: []*structpb.Value{structpb.NewNumberValue(1)}}}}
	out, err := eventjson.Canonical(e)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if s[:12] != `{"entities":` {
		t.Fatalf("keys not sorted: %s", s)
	}
	var back pb.NgsiEvent
	if err := eventjson.Parse(out, &back); err != nil || back.GetEntities()[0].Id != nil {
		t.Fatalf("id invented: %s", s)
	}
}
