package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ngsi-bridge/ngsi-bridge/clients/go/eventjson"
	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/replier"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/subscriber"
)

// env returns the variable or skips the test.
func env(t *testing.T, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Skipf("%s is not set: run tests/clients/test_java_go_clients.py", name)
	}
	return v
}

func envUint(t *testing.T, name string) uint64 {
	n, err := strconv.ParseUint(env(t, name), 10, 64)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

func dial(t *testing.T, addr string) *grpc.ClientConn {
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func receive(t *testing.T, s *subscriber.Subscriber) []*pb.NgsiEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var events []*pb.NgsiEvent
	if err := s.Run(ctx, func(e *pb.NgsiEvent) error {
		events = append(events, e)
		return nil
	}); err != nil {
		t.Fatalf("after %d events: %v", len(events), err)
	}
	return events
}

// The replay as the pytest saw it: sequences earliest..end, all retained.
func replay(t *testing.T) (pb.EventStreamClient, uint64, uint64) {
	conn := dial(t, env(t, "NGSI_BRIDGE_RECEIVER_GRPC"))
	return pb.NewEventStreamClient(conn), envUint(t, "NGSI_BRIDGE_FIRST_SEQUENCE"),
		envUint(t, "NGSI_BRIDGE_END_SEQUENCE")
}

func checkContiguous(t *testing.T, events []*pb.NgsiEvent, first, end uint64) {
	t.Helper()
	if uint64(len(events)) != end-first+1 {
		t.Fatalf("%d events, want %d (%d..%d)", len(events), end-first+1, first, end)
	}
	for i, e := range events {
		if e.GetSequence() != first+uint64(i) {
			t.Fatalf("event %d has sequence %d, want %d", i, e.GetSequence(), first+uint64(i))
		}
	}
}

func TestReceivesEveryEventOfTheReplay(t *testing.T) {
	client, first, end := replay(t)
	events := receive(t, subscriber.New(client, subscriber.Earliest(), subscriber.WithEndSequence(end)))
	checkContiguous(t, events, first, end)
	if out := os.Getenv("NGSI_BRIDGE_EVENTS_OUT"); out != "" {
		f, err := os.Create(out)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for _, e := range events {
			line, err := eventjson.Canonical(e)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "%s\n", line)
		}
	}
}

func TestResumesAfterTheLastSequenceInANewSubscription(t *testing.T) {
	client, first, end := replay(t)
	all := receive(t, subscriber.New(client, subscriber.Earliest(), subscriber.WithEndSequence(end)))
	mid := first + (end-first)/3
	head := receive(t, subscriber.New(client, subscriber.Earliest(), subscriber.WithEndSequence(mid)))
	last := head[len(head)-1].GetSequence()
	tail := receive(t, subscriber.New(client, subscriber.After(last), subscriber.WithEndSequence(end)))
	got := append(head, tail...)
	checkContiguous(t, got, first, end)
	for i := range got {
		if !proto.Equal(got[i], all[i]) {
			t.Fatalf("event %d differs after resume", got[i].GetSequence())
		}
	}
}

// A TCP proxy whose connections can be cut, to break streams for real.
type proxy struct {
	lis    net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{lis: lis, target: target}
	go p.serve()
	t.Cleanup(func() { lis.Close(); p.cut() })
	return p
}

func (p *proxy) serve() {
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { slowCopy(c, u); c.Close() }()
	}
}

// slowCopy relays receiver-to-client bytes in small slow chunks, so that a
// cut lands mid-stream rather than after the whole replay sat in the
// client's buffers.
func slowCopy(dst io.Writer, src io.Reader) {
	buf := make([]byte, 512)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestResumesAcrossBrokenConnectionsWithoutGapOrDuplicate(t *testing.T) {
	_, first, end := replay(t)
	p := newProxy(t, env(t, "NGSI_BRIDGE_RECEIVER_GRPC"))
	conn := dial(t, p.lis.Addr().String())
	// Subscribe, one event per message: SubscribeBatches would bring the
	// whole retained replay in its first message, before any cut could land
	// (its resume inside a batch is unit-tested against the fake).
	s := subscriber.New(pb.NewEventStreamClient(conn), subscriber.Earliest(),
		subscriber.WithEndSequence(end), subscriber.WithBackoff(10*time.Millisecond, 100*time.Millisecond),
		subscriber.WithBatches(false, 0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var events []*pb.NgsiEvent
	cuts := map[int]bool{3: true, 10: true, 25: true}
	err := s.Run(ctx, func(e *pb.NgsiEvent) error {
		events = append(events, e)
		if cuts[len(events)] {
			p.cut() // the stream breaks with UNAVAILABLE; the subscriber resumes
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkContiguous(t, events, first, end)
	// Cuts close together may fall on one broken stream, but the first one,
	// three events into a throttled replay, always breaks one.
	if s.Reconnects() < 1 {
		t.Fatalf("%d reconnects after %d cuts", s.Reconnects(), len(cuts))
	}
	t.Logf("%d reconnects", s.Reconnects())
}

func TestServerSideFiltersMatchTheFullStream(t *testing.T) {
	client, _, end := replay(t)
	all := receive(t, subscriber.New(client, subscriber.Earliest(), subscriber.WithEndSequence(end)))
	var typ string
	for _, e := range all {
		for _, ent := range e.GetEntities() {
			if ent.Type != nil && typ == "" {
				typ = ent.GetType()
			}
		}
	}
	if typ == "" {
		t.Fatal("no typed entity in the replay")
	}
	filtered := receive(t, subscriber.New(client, subscriber.Earliest(), subscriber.WithEndSequence(end),
		subscriber.WithFilter(&pb.EventFilter{EntityType: typ})))
	var want []uint64
	for _, e := range all {
		for _, ent := range e.GetEntities() {
			if ent.GetType() == typ {
				want = append(want, e.GetSequence())
				break
			}
		}
	}
	if len(filtered) != len(want) {
		t.Fatalf("type %q: %d events, want %d", typ, len(filtered), len(want))
	}
	for i, e := range filtered {
		if e.GetSequence() != want[i] {
			t.Fatalf("type %q: event %d is %d, want %d", typ, i, e.GetSequence(), want[i])
		}
	}
}

func TestWritesBackAndReadsBackAtTheBroker(t *testing.T) {
	conn := dial(t, env(t, "NGSI_BRIDGE_REPLIER_GRPC"))
	broker := env(t, "NGSI_BRIDGE_REPLIER_BROKER")
	brokerURL := env(t, "NGSI_BRIDGE_BROKER_URL")
	prefix := env(t, "NGSI_BRIDGE_RUN_ID") + "-go-"
	c := replier.New(pb.NewReplierClient(conn), broker)
	var entities []*pb.Entity
	for i := 1; i <= 3; i++ {
		id, typ := prefix+strconv.Itoa(i), "Room"
		entities = append(entities, &pb.Entity{Id: &id, Type: &typ, Attrs: map[string]*pb.Attribute{
			"temperature": {Type: "Number", Value: structpb.NewNumberValue(20 + float64(i))},
		}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := c.Write(ctx, pb.Operation_OPERATION_UPSERT, entities,
		replier.Service("clients"), replier.ServicePath("/go"), replier.RequestID("go-upsert"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.OK() || res.GetRequestId() != "go-upsert" {
		t.Fatalf("upsert: %v (%v)", res.WriteResponse, res.Err())
	}
	for i, e := range entities {
		if r := res.GetResults()[i]; r.GetId() != e.GetId() {
			t.Fatalf("result %d is for %q", i, r.GetId())
		}
		got := readBack(t, brokerURL, e.GetId(), "clients", "/go")
		temp, _ := got["temperature"].(map[string]any)
		if temp["value"] != 21+float64(i) || got["type"] != "Room" {
			t.Fatalf("broker has %v for %s", got, e.GetId())
		}
	}
	// Creating an entity that exists fails for that entity only.
	dupID, newID, typ := prefix+"1", prefix+"new", "Room"
	dup := &pb.Entity{Id: &dupID, Type: &typ, Attrs: map[string]*pb.Attribute{
		"temperature": {Type: "Number", Value: structpb.NewNumberValue(99)}}}
	res, err = c.Write(ctx, pb.Operation_OPERATION_CREATE,
		[]*pb.Entity{dup, {Id: &newID, Type: &typ}},
		replier.Service("clients"), replier.ServicePath("/go"))
	if err != nil {
		t.Fatal(err)
	}
	if f := res.Failures(); len(f) != 1 || f[0].GetId() != dupID || codes.Code(f[0].GetCode()) == codes.OK {
		t.Fatalf("create of an existing entity: %v", res.WriteResponse)
	}
	if got := readBack(t, brokerURL, newID, "clients", "/go"); got["id"] != newID {
		t.Fatalf("broker has %v for %s", got, newID)
	}
}

func readBack(t *testing.T, base, id, service, path string) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/v2/entities/"+id, nil)
	req.Header.Set("Fiware-Service", service)
	req.Header.Set("Fiware-ServicePath", path)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", id, resp.StatusCode, body)
	}
	var out map[string]any
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out
}
