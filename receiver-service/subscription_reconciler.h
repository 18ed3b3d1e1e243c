#pragma once

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/metrics.h"
#include "receiver-service/backfill.h"
#include "receiver-service/backfill_watermarks.h"
#include "receiver-service/broker_client.h"
#include "receiver-service/subscription_spec.h"
#include "receiver-service/subscription_status.h"

namespace ngsi_bridge::receiver {

// What one reconcile pass did.
struct ReconcileSummary {
  int created = 0;
  int updated = 0;      // drifted members rewritten
  int reactivated = 0;  // failed / paused / inactive made active again
  int deleted = 0;      // ours, gone from the file (--prune_subscriptions)
  int unchanged = 0;
  int errors = 0;  // subscriptions that could not be reconciled
  int64_t backfilled_entities = 0;

  int changes() const { return created + updated + reactivated + deleted; }
};

// Keeps the broker subscriptions of the subscriptions file as declared. A
// pass lists each broker's (and tenant's) subscriptions, recognises ours by
// OwnershipMarker() in the description, creates the missing ones, PATCHes
// drifted ones, re-activates the ones the broker marked failed or paused,
// and (with `prune`) deletes ours that left the file. A pass over a broker
// that already matches the file sends no write: passes are idempotent.
// Every change is logged.
//
// Gap backfill: per subscription a watermark (BackfillWatermarks, persisted
// under --state_dir) marks the instant up to which every change was
// delivered: it advances to the start of each pass that finds the
// subscription healthy. The first pass after start (downtime), and any
// pass that finds the subscription failing, paused, or with a lastFailure
// after the watermark, first re-activates it, then backfills from the
// watermark minus `backfill_overlap` (broker and receiver clocks differ;
// an entity twice is harmless, a missed one is not).
//
// Owned by ReceiverServer. Start() runs a pass at once and then every
// `interval` on a thread of its own; Shutdown() stops and joins
// (idempotent, also from the destructor). Thread-compatible: the board it
// writes is thread-safe, but ReconcileOnce() runs one pass at a time, so it
// is called directly only when the thread is not started (tests).
class SubscriptionReconciler {
 public:
  struct Options {
    std::vector<SubscriptionSpec> specs;
    std::string callback_url;  // for specs without their own
    absl::Duration interval = absl::Seconds(60);
    bool prune = false;
    bool backfill = true;
    absl::Duration backfill_overlap = absl::Seconds(5);
    std::string state_file;  // "" = watermarks in memory only
    Backfiller::Options backfill_options;
  };

  // kInvalidArgument when a spec has no callback URL or the state file is
  // not ours.
  static absl::StatusOr<std::unique_ptr<SubscriptionReconciler>> Create(
      const Options& options, BrokerTransport* transport, EventLog* log,
      EventHub* hub, SubscriptionStatusBoard* board,
      common::MetricsRegistry* metrics);
  ~SubscriptionReconciler();

  absl::Status Start();
  void Shutdown();

  // One pass over every broker. Blocks on the brokers.
  ReconcileSummary ReconcileOnce();

 private:
  struct Group;  // the specs sharing one broker, flavor and tenant

  SubscriptionReconciler(const Options& options, BrokerTransport* transport,
                         EventLog* log, EventHub* hub,
                         SubscriptionStatusBoard* board,
                         common::MetricsRegistry* metrics,
                         std::unique_ptr<BackfillWatermarks> watermarks);
  void Run();
  void ReconcileGroup(const Group& group, ReconcileSummary* summary);
  void CountChange(absl::string_view action);

  const Options options_;
  BrokerTransport* const transport_;
  SubscriptionStatusBoard* const board_;
  common::MetricsRegistry* const metrics_;
  const std::unique_ptr<BackfillWatermarks> watermarks_;
  absl::Notification stop_;  // before backfiller_, which points at it
  Backfiller backfiller_;

  // Touched only by the pass running: the thread's, or a test's when the
  // thread is not started (ReconcileOnce() is thread-compatible).
  bool first_pass_ = true;
  // Ours left the file and kept (no --prune_subscriptions): logged once.
  std::set<std::string> reported_orphans_;

  std::thread thread_;
  bool started_ = false;
};

}  // namespace ngsi_bridge::receiver
