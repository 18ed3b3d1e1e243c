#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpcpp/security/server_credentials.h"

namespace ngsi_bridge::common {

// The files of a TLS listener. Empty cert_file = plaintext.
struct TlsFiles {
  std::string cert_file;       // PEM certificate chain
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // "" = no client certificates; else mTLS:
                               // required and verified against this CA
  // How often gRPC re-reads the files (a rotated certificate is served
  // from then on; open streams keep their connection).
  int refresh_seconds = 5;

  bool enabled() const { return !cert_file.empty(); }
};

// Checks that cert_file, key_file (and client_ca_file) parse as PEM and the
// key matches the certificate. kInvalidArgument / kNotFound naming the file;
// never quotes key material.
absl::Status CheckTlsFiles(const TlsFiles& files);

// gRPC server credentials over `files` that re-read them every
// refresh_seconds (grpc::experimental::FileWatcherCertificateProvider), so
// certificate rotation needs no restart. Errors of CheckTlsFiles().
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeGrpcServerCredentials(const TlsFiles& files);

}  // namespace ngsi_bridge::common
