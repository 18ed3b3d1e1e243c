#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "receiver-service/broker_client.h"

namespace ngsi_bridge::testing {

// An in-memory broker behind the receiver's BrokerTransport, enough of
// Orion (/v2) and Orion-LD (/ngsi-ld/v1) for the subscription reconciler
// and the backfill: subscriptions (list with limit/offset, create with a
// Location, PATCH merging members, DELETE) and entity queries with
// id / idPattern (".*" or a prefix followed by ".*") / type,
// q=dateModified>T / modifiedAt>T, limit/offset. Every tenant shares one
// store (tests use one). Records each call. Thread-safe.
class FakeSubscriptionBroker : public receiver::BrokerTransport {
 public:
  absl::StatusOr<receiver::BrokerResponse> Send(
      absl::string_view base_url,
      const receiver::BrokerRequest& request) override;

  // Adds (or replaces) a subscription as the broker would list it; returns
  // its id. `json` is the subscription's JSON without "id".
  std::string AddSubscriptionForTest(bool ld, const std::string& json);
  // The subscription as listed (JSON text), "" when absent.
  std::string SubscriptionForTest(const std::string& id) const;
  // Sets a top-level member of a stored subscription (JSON value text),
  // e.g. ("status", "\"failed\"").
  void SetMemberForTest(const std::string& id, const std::string& member,
                        const std::string& json_value);
  std::vector<std::string> SubscriptionIdsForTest() const;

  // Stores an entity (normalized JSON) modified at `modified`.
  void PutEntityForTest(bool ld, const std::string& json, absl::Time modified);

  // "METHOD path" of every call so far, and of the writes only.
  std::vector<std::string> calls() const;
  std::vector<std::string> writes() const;
  void ClearCallsForTest();

  // While set, every call fails as if the broker were down.
  void SetDownForTest(bool down);

 private:
  struct Entity {
    bool ld = false;
    std::string json;
    absl::Time modified;
  };
  struct Sub {
    bool ld = false;
    std::string json;  // without "id"
  };

  mutable absl::Mutex mu_;
  std::map<std::string, Sub> subs_ ABSL_GUARDED_BY(mu_);  // by id, in order
  std::vector<Entity> entities_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
  int next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ngsi_bridge::testing
