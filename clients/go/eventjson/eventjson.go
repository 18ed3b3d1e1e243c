// Package eventjson renders events as the receiver's event-json line:
// proto3 JSON mapping with the proto field names' lowerCamelCase JSON names,
// compact, keys sorted, so the same event prints byte-identically from any
// client (the cross-language tests compare these lines).
package eventjson

import (
	"bytes"
	"encoding/json"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Canonical returns m as canonical JSON: proto3 JSON, compact, object keys
// sorted, numbers as written by protojson.
func Canonical(m proto.Message) ([]byte, error) {
	raw, err := protojson.Marshal(m)
	if err != nil {
		return nil, err
	}
	return Normalize(raw)
}

// Normalize re-encodes any JSON document compactly with sorted keys.
func Normalize(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// Parse reads one event-json line into m (unknown fields are an error).
func Parse(line []byte, m proto.Message) error {
	return protojson.Unmarshal(line, m)
}
