#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "receiver-service/broker_client.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/event_log.h"
#include "receiver-service/subscription_spec.h"

namespace ngsi_bridge::receiver {

// Gap backfill: asks the broker for the entities a subscription selects
// that were modified after an instant (NGSIv2 `q=dateModified>T` with the
// builtins dateModified and servicePath among `attrs`; NGSI-LD
// `q=modifiedAt>T`), pages through them
// with limit/offset, and appends each entity as one event marked
// `backfill`, format NORMALIZED, with the subscription's id, service and
// service path, so consumers see the current state of everything that
// changed while no notification arrived. Entities are read with the
// notification readers (ParseV2Envelope / ParseLdNotification), so a
// backfilled entity has exactly the shape of a notified one.
// Owned by SubscriptionReconciler; used from its thread only.
class Backfiller {
 public:
  struct Options {
    int page_size = 100;            // limit= per query (Orion caps at 1000)
    int64_t max_entities = 100000;  // stop (and report) beyond this
    // Also build a v2-notification-shaped request for the line formats
    // that replay the request (fpc, body), so old fpc jobs see backfilled
    // entities too.
    bool keep_request = false;
  };

  // Run() stops early with kCancelled once `cancel` (may be null) is
  // notified: the receiver is shutting down.
  Backfiller(const Options& options, BrokerTransport* transport,
             EventLog* log, EventHub* hub,
             const absl::Notification* cancel = nullptr);

  // Backfills `spec` (whose broker id is `subscription_id`) with what
  // changed after `since`. Returns the entities appended. kUnavailable
  // when the broker cannot be reached or the log is closed;
  // kInvalidArgument when the broker's answer is not an entity list;
  // kResourceExhausted past max_entities (what was appended stays);
  // kCancelled on shutdown.
  // Blocks on the broker.
  absl::StatusOr<int64_t> Run(const SubscriptionSpec& spec,
                              absl::string_view subscription_id,
                              absl::Time since);

 private:
  const Options options_;
  BrokerTransport* const transport_;
  EventLog* const log_;
  EventHub* const hub_;
  const absl::Notification* const cancel_;
};

// "2026-11-25T10:00:00.000Z", the form brokers show and accept.
std::string BrokerIsoTime(absl::Time time);

}  // namespace ngsi_bridge::receiver
