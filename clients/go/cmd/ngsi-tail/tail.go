package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/ngsi-bridge/ngsi-bridge/clients/go/eventjson"
	pb "github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1"
	"github.com/ngsi-bridge/ngsi-bridge/clients/go/subscriber"
)

type options struct {
	addr, from, format string
	end                uint64
	filter             *pb.EventFilter
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	fs := flag.NewFlagSet("ngsi-tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{filter: &pb.EventFilter{}}
	defaultAddr := os.Getenv("NGSI_TAIL_ADDR")
	if defaultAddr == "" {
		defaultAddr = "localhost:50051"
	}
	var attrs string
	fs.StringVar(&o.addr, "addr", defaultAddr, "receiver gRPC address host:port (env NGSI_TAIL_ADDR)")
	fs.StringVar(&o.filter.Service, "service", "", "only this tenant (Fiware-Service / NGSILD-Tenant)")
	fs.StringVar(&o.filter.ServicePathPrefix, "service-path", "", "only this service path or below")
	fs.StringVar(&o.filter.EntityType, "type", "", "only entities of this type")
	fs.StringVar(&o.filter.EntityId, "id", "", "only the entity with this id")
	fs.StringVar(&o.filter.EntityIdPattern, "id-pattern", "", "only entity ids fully matching this RE2 pattern")
	fs.StringVar(&attrs, "attrs", "", "comma-separated attributes to keep (default all)")
	fs.StringVar(&o.from, "from", "latest", "earliest, latest, or a sequence to start with")
	fs.Uint64Var(&o.end, "end", 0, "stop after this sequence (0: follow forever)")
	fs.StringVar(&o.format, "format", "json", "json (one event-json line each) or line (one readable line per entity)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if o.format != "json" && o.format != "line" {
		return nil, fmt.Errorf("--format %q is not json or line", o.format)
	}
	for _, a := range strings.Split(attrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			o.filter.Attrs = append(o.filter.Attrs, a)
		}
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ngsi-tail:", err)
		return 2
	}
	start, err := subscriber.ParseStart(o.from)
	if err != nil {
		fmt.Fprintln(stderr, "ngsi-tail: --from:", err)
		return 2
	}
	conn, err := grpc.NewClient(o.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintln(stderr, "ngsi-tail:", err)
		return 1
	}
	defer conn.Close()
	return tail(ctx, pb.NewEventStreamClient(conn), start, o, stdout, stderr)
}

func tail(ctx context.Context, client pb.EventStreamClient, start subscriber.Start, o *options,
	stdout, stderr io.Writer) int {
	out := bufio.NewWriter(stdout)
	opts := []subscriber.Option{subscriber.WithFilter(o.filter)}
	if o.end > 0 {
		opts = append(opts, subscriber.WithEndSequence(o.end))
	}
	sub := subscriber.New(client, start, opts...)
	err := sub.Run(ctx, func(e *pb.NgsiEvent) error {
		if o.format == "line" {
			for _, l := range formatLines(e) {
				fmt.Fprintln(out, l)
			}
		} else {
			line, err := eventjson.Canonical(e)
			if err != nil {
				return err
			}
			out.Write(line)
			out.WriteByte('\n')
		}
		return out.Flush() // as they arrive: one flush per event
	})
	out.Flush()
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(stderr, "ngsi-tail: %v (last sequence %d)\n", err, sub.LastSequence())
		return 1
	}
	return 0
}

// formatLines renders an event for a terminal: one line per entity,
// "SEQ TIME TENANT PATH FORMAT TYPE ID name=value ...".
func formatLines(e *pb.NgsiEvent) []string {
	received := "-"
	if e.GetReceivedAt() != nil {
		received = e.GetReceivedAt().AsTime().UTC().Format("2006-01-02T15:04:05.000Z")
	}
	service := e.GetService()
	if service == "" {
		service = "-"
	}
	path := e.GetServicePath()
	if path == "" {
		path = "-"
	}
	head := fmt.Sprintf("%d %s %s %s %s", e.GetSequence(), received, service, path, e.GetFormat())
	if len(e.GetEntities()) == 0 {
		body := strings.ReplaceAll(e.GetBody(), "\n", `\n`)
		if len(body) > 200 {
			body = body[:200] + "..."
		}
		ct := e.GetContentType()
		if ct == "" {
			ct = "-"
		}
		return []string{fmt.Sprintf("%s %s %s", head, ct, body)}
	}
	lines := make([]string, 0, len(e.GetEntities()))
	for _, ent := range e.GetEntities() {
		typ, id := "-", "-"
		if ent.Type != nil {
			typ = ent.GetType()
		}
		if ent.Id != nil {
			id = ent.GetId()
		}
		parts := []string{head, typ, id}
		if ent.GetDeleted() {
			parts = append(parts, "(deleted)")
		}
		names := make([]string, 0, len(ent.GetAttrs()))
		for n := range ent.GetAttrs() {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			parts = append(parts, n+"="+attrValue(ent.GetAttrs()[n]))
		}
		for i, v := range ent.GetValues() {
			parts = append(parts, fmt.Sprintf("[%d]=%s", i, jsonValue(v)))
		}
		lines = append(lines, strings.Join(parts, " "))
	}
	return lines
}

func attrValue(a *pb.Attribute) string {
	for _, v := range []*structpb.Value{a.GetValue(), a.GetObject(), a.GetLanguageMap(),
		a.GetVocab(), a.GetJson()} {
		if v != nil {
			return jsonValue(v)
		}
	}
	if len(a.GetInstances()) > 0 {
		vals := make([]string, 0, len(a.GetInstances()))
		for _, i := range a.GetInstances() {
			vals = append(vals, attrValue(i))
		}
		return "[" + strings.Join(vals, ",") + "]"
	}
	return "null"
}

func jsonValue(v *structpb.Value) string {
	b, err := protojson.Marshal(v)
	if err != nil {
		return "?"
	}
	if n, err := eventjson.Normalize(b); err == nil {
		return string(n)
	}
	return string(b)
}
