package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/ngsi-bridge/ngsi-bridge/clients/go/eventjson"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/internal/fake"
	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/subscriber"
)

func runTail(t *testing.T, r *fake.Receiver, args ...string) (string, string, int) {
	t.Helper()
	var stderr bytes.Buffer
	o, err := parseFlags(args, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	start, err := subscriber.ParseStart(o.from)
	if err != nil {
		t.Fatal(err)
	}
	conn := fake.Serve(t, func(s *grpc.Server) { pb.RegisterEventStreamServer(s, r) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var stdout bytes.Buffer
	code := tail(ctx, pb.NewEventStreamClient(conn), start, o, &stdout, &stderr)
	return stdout.String(), stderr.String(), code
}

func TestFlagsBecomeTheSubscribeRequest(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 10), Earliest: 1}
	out, errOut, code := runTail(t, r, "--from", "3", "--end", "10", "--service", "smartcity",
		"--service-path", "/madrid", "--type", "Room", "--id-pattern", "Room[0-9]+",
		"--attrs", "temperature, humidity")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	req := r.SubscribeRequests()[0]
	f := req.GetFilter()
	if req.GetStart() != pb.SubscribeRequest_AFTER || req.GetAfterSequence() != 2 ||
		req.GetEndSequence() != 10 || f.GetService() != "smartcity" ||
		f.GetServicePathPrefix() != "/madrid" || f.GetEntityType() != "Room" ||
		f.GetEntityIdPattern() != "Room[0-9]+" || strings.Join(f.GetAttrs(), ",") != "temperature,humidity" {
		t.Fatalf("request %v", req)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 { // 4 6 8 10
		t.Fatalf("output %q", out)
	}
	for _, l := range lines {
		var e pb.NgsiEvent
		if err := eventjson.Parse([]byte(l), &e); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		if e.GetEntities()[0].GetType() != "Room" || len(e.GetEntities()[0].GetAttrs()) != 1 {
			t.Fatalf("event %v", &e)
		}
	}
}

func TestLineFormat(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(1, 2), Earliest: 1}
	custom := &pb.NgsiEvent{Sequence: 3, Format: pb.Format_CUSTOM, ContentType: "text/plain",
		Body: "a\nb"}
	r.Events = append(r.Events, custom)
	out, _, code := runTail(t, r, "--from", "earliest", "--end", "3", "--format", "line", "--id", "")
	if code != 0 {
		t.Fatal(code)
	}
	want := "1 - smartcity /valencia NORMALIZED Car Car1 pressure=1000 temperature=1\n" +
		"2 - smartcity /madrid NORMALIZED Room Room2 pressure=1000 temperature=2\n" +
		"3 - - - CUSTOM text/plain a\\nb\n"
	if out != want {
		t.Fatalf("got\n%s\nwant\n%s", out, want)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"--format", "xml"}, {"--from", "soon"}, {"extra"}} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), args, &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d", args, code)
		}
	}
}

func TestOutOfRangeExitsNonZero(t *testing.T) {
	r := &fake.Receiver{Events: fake.Events(10, 2), Earliest: 10}
	_, errOut, code := runTail(t, r, "--from", "2")
	if code != 1 || !strings.Contains(errOut, "no longer retained") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
}
