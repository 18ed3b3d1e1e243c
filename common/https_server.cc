#include "common/https_server.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "httplib.h"

namespace ngsi_bridge::common {

struct ReloadableCertificate::Pair {
  X509* cert = nullptr;
  EVP_PKEY* key = nullptr;
  STACK_OF(X509)* chain = nullptr;
  ~Pair() {
    X509_free(cert);
    EVP_PKEY_free(key);
    sk_X509_pop_free(chain, X509_free);
  }
};

namespace {

int64_t ModifiedNs(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) return 0;
  return int64_t{info.st_mtim.tv_sec} * 1000000000 + info.st_mtim.tv_nsec;
}

}  // namespace

ReloadableCertificate::ReloadableCertificate(std::string cert_file,
                                             std::string key_file)
    : cert_file_(std::move(cert_file)), key_file_(std::move(key_file)) {}

ReloadableCertificate::~ReloadableCertificate() = default;

absl::StatusOr<std::unique_ptr<ReloadableCertificate>>
ReloadableCertificate::Create(const std::string& cert_file,
                              const std::string& key_file) {
  std::unique_ptr<ReloadableCertificate> certificate(
      new ReloadableCertificate(cert_file, key_file));
  if (absl::Status status = certificate->Reload(); !status.ok()) {
    return status;
  }
  return certificate;
}

absl::Status ReloadableCertificate::Reload() {
  const int64_t mtime =
      std::max(ModifiedNs(cert_file_), ModifiedNs(key_file_));
  auto pair = std::make_shared<Pair>();
  FILE* cert_in = fopen(cert_file_.c_str(), "rb");
  if (cert_in == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read certificate ",
                                            cert_file_));
  }
  pair->cert = PEM_read_X509(cert_in, nullptr, nullptr, nullptr);
  pair->chain = sk_X509_new_null();
  while (X509* extra = PEM_read_X509(cert_in, nullptr, nullptr, nullptr)) {
    sk_X509_push(pair->chain, extra);
  }
  fclose(cert_in);
  FILE* key_in = fopen(key_file_.c_str(), "rb");
  if (key_in == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot read key ", key_file_));
  }
  pair->key = PEM_read_PrivateKey(key_in, nullptr, nullptr, nullptr);
  fclose(key_in);
  ERR_clear_error();
  if (pair->cert == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no PEM certificate in ", cert_file_));
  }
  if (pair->key == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("no unencrypted PEM private key in ", key_file_));
  }
  if (X509_check_private_key(pair->cert, pair->key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(absl::StrCat(
        "key ", key_file_, " does not match certificate ", cert_file_));
  }
  absl::MutexLock lock(&mu_);
  pair_ = std::move(pair);
  ++generation_;
  loaded_mtime_ns_ = mtime;
  return absl::OkStatus();
}

int ReloadableCertificate::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

void ReloadableCertificate::ReloadIfChanged() {
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now - last_check_ < absl::Seconds(1)) return;
    last_check_ = now;
    if (std::max(ModifiedNs(cert_file_), ModifiedNs(key_file_)) ==
        loaded_mtime_ns_) {
      return;
    }
  }
  // A half-written pair fails to load (or to match) and is retried on a
  // later handshake; the previous pair keeps serving meanwhile.
  if (absl::Status status = Reload(); status.ok()) {
    LogInfo("https certificate reloaded", {{"file", cert_file_}});
  } else {
    LogWarning("https certificate not reloaded",
               {{"error", std::string(status.message())}});
  }
}

int ReloadableCertificate::CertCallback(SSL* ssl, void* arg) {
  auto* self = static_cast<ReloadableCertificate*>(arg);
  self->ReloadIfChanged();
  std::shared_ptr<Pair> pair;
  {
    absl::MutexLock lock(&self->mu_);
    pair = self->pair_;
  }
  if (pair == nullptr) return 0;
  return SSL_use_cert_and_key(ssl, pair->cert, pair->key, pair->chain,
                              /*override=*/1) == 1
             ? 1
             : 0;
}

absl::StatusOr<std::unique_ptr<httplib::Server>> MakeHttpsServer(
    ReloadableCertificate* certificate) {
  auto server = std::make_unique<httplib::SSLServer>(
      [certificate](SSL_CTX& ctx) {
        SSL_CTX_set_min_proto_version(&ctx, TLS1_2_VERSION);
        SSL_CTX_set_options(&ctx, SSL_OP_NO_COMPRESSION |
                                      SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION);
        SSL_CTX_set_cert_cb(&ctx, &ReloadableCertificate::CertCallback,
                            certificate);
        return true;
      });
  if (!server->is_valid()) {
    return absl::InternalError("cannot set up an OpenSSL server context");
  }
  return std::unique_ptr<httplib::Server>(std::move(server));
}

}  // namespace ngsi_bridge::common
