// Package ngsibridgev1 holds the Go stubs of proto/ngsi_bridge/v1, generated
// at build time (never committed, never hand-edited):
//
//	go generate ./ngsibridgev1
//
// It needs protoc (Debian's protobuf-compiler, with the well-known types in
// /usr/include) and protoc-gen-go / protoc-gen-go-grpc at the versions pinned
// in scripts/deps.d/java-go.sh. The output path follows go_package.
package ngsibridgev1

//go:generate protoc -I ../../../proto -I /usr/include --go_out=. --go_opt=module=github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1 --go-grpc_out=. --go-grpc_opt=module=github.com/ngsi-bridge/ngsi-bridge/clients/go/ngsibridgev1 ngsi_bridge/v1/ngsi.proto ngsi_bridge/v1/receiver.proto ngsi_bridge/v1/replier.proto
