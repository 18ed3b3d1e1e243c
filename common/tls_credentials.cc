#include "common/tls_credentials.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "grpcpp/security/tls_certificate_provider.h"
#include "grpcpp/security/tls_credentials_options.h"

namespace ngsi_bridge::common {
namespace {

absl::Status CheckReadable(const std::string& path, const char* what) {
  FILE* file = fopen(path.c_str(), "rb");
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path));
  }
  fclose(file);
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckTlsFiles(const TlsFiles& files) {
  if (files.key_file.empty()) {
    return absl::InvalidArgumentError("a TLS certificate needs a key file");
  }
  if (absl::Status s = CheckReadable(files.cert_file, "certificate");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckReadable(files.key_file, "key"); !s.ok()) return s;
  FILE* cert_in = fopen(files.cert_file.c_str(), "rb");
  X509* cert = PEM_read_X509(cert_in, nullptr, nullptr, nullptr);
  fclose(cert_in);
  FILE* key_in = fopen(files.key_file.c_str(), "rb");
  EVP_PKEY* key = PEM_read_PrivateKey(key_in, nullptr, nullptr, nullptr);
  fclose(key_in);
  absl::Status status;
  if (cert == nullptr) {
    status = absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate in ", files.cert_file));
  } else if (key == nullptr) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "no unencrypted PEM private key in ", files.key_file));
  } else if (X509_check_private_key(cert, key) != 1) {
    status = absl::InvalidArgumentError(
        absl::StrCat("key ", files.key_file, " does not match certificate ",
                     files.cert_file));
  }
  X509_free(cert);
  EVP_PKEY_free(key);
  if (!status.ok() || files.client_ca_file.empty()) return status;
  if (absl::Status s = CheckReadable(files.client_ca_file, "client CA");
      !s.ok()) {
    return s;
  }
  FILE* ca_in = fopen(files.client_ca_file.c_str(), "rb");
  X509* ca = PEM_read_X509(ca_in, nullptr, nullptr, nullptr);
  fclose(ca_in);
  if (ca == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate in ", files.client_ca_file));
  }
  X509_free(ca);
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
MakeGrpcServerCredentials(const TlsFiles& files) {
  if (absl::Status status = CheckTlsFiles(files); !status.ok()) return status;
  auto provider =
      std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
          files.key_file, files.cert_file, files.client_ca_file,
          static_cast<unsigned int>(files.refresh_seconds > 0
                                        ? files.refresh_seconds
                                        : 1));
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (files.client_ca_file.empty()) {
    options.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  } else {
    options.watch_root_certs();
    options.set_cert_request_type(
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace ngsi_bridge::common
