#pragma once

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

typedef struct x509_st X509;
typedef struct evp_pkey_st EVP_PKEY;
typedef struct ssl_st SSL;

namespace httplib {
class Server;
}

namespace ngsi_bridge::common {

// A server certificate and key that can be swapped while connections are
// open: every TLS handshake takes the current pair (OpenSSL's cert callback),
// so established connections are untouched and new ones get the new pair.
// Reload() re-reads the files (SIGHUP); handshakes also reload on their own
// when a file's modification time changed (checked at most once a second).
// Owned by the server that serves with it; thread-safe.
class ReloadableCertificate {
 public:
  // kNotFound / kInvalidArgument naming the file when the pair cannot be
  // loaded or does not match. Never quotes key material.
  static absl::StatusOr<std::unique_ptr<ReloadableCertificate>> Create(
      const std::string& cert_file, const std::string& key_file);
  ~ReloadableCertificate();

  // Re-reads both files; on error keeps serving the previous pair.
  absl::Status Reload();
  // How many times a new pair was loaded (the first load included).
  int generation() const;

  // OpenSSL's SSL_CTX_set_cert_cb callback; `arg` is this.
  static int CertCallback(SSL* ssl, void* arg);

 private:
  struct Pair;
  ReloadableCertificate(std::string cert_file, std::string key_file);
  void ReloadIfChanged();

  const std::string cert_file_;
  const std::string key_file_;
  mutable absl::Mutex mu_;
  std::shared_ptr<Pair> pair_ ABSL_GUARDED_BY(mu_);
  int generation_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t loaded_mtime_ns_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time last_check_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
};

// An httplib::SSLServer (TLS 1.2+) serving `certificate`, which must outlive
// it. kInternal when OpenSSL cannot set up a context.
absl::StatusOr<std::unique_ptr<httplib::Server>> MakeHttpsServer(
    ReloadableCertificate* certificate);

}  // namespace ngsi_bridge::common
