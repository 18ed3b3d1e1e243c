#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics.h"
#include "receiver-service/consumer_groups.h"
#include "receiver-service/event_hub.h"
#include "receiver-service/event_log.h"
#include "receiver-service/receiver_config.h"

namespace ngsi_bridge::receiver {

// Makes `log` durable when config.data_dir is set (no-op otherwise): opens
// and recovers the folder (logging what a torn tail cost), attaches it to
// `log` and registers its metrics. Call from ReceiverServer::Start() before
// intake. kFailedPrecondition when the folder cannot be used.
absl::Status OpenDiskLog(const ReceiverConfig& config, EventLog* log,
                         common::MetricsRegistry* metrics);

// Consumer groups with their offsets in data_dir (in memory without one).
absl::StatusOr<std::unique_ptr<ConsumerGroups>> CreateConsumerGroups(
    const ReceiverConfig& config, EventLog* log, EventHub* hub);

}  // namespace ngsi_bridge::receiver
