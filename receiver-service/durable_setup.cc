#include "receiver-service/durable_setup.h"

#include <memory>
#include <utility>

#include "common/log.h"
#include "common/status_macros.h"
#include "receiver-service/disk_log.h"

namespace ngsi_bridge::receiver {

absl::Status OpenDiskLog(const ReceiverConfig& config, EventLog* log,
                         common::MetricsRegistry* metrics) {
  if (config.data_dir.empty()) return absl::OkStatus();
  NB_ASSIGN_OR_RETURN(DiskLog::Options options,
                      DiskLogOptionsFromConfig(config));
  NB_ASSIGN_OR_RETURN(std::unique_ptr<DiskLog> disk, DiskLog::Open(options));
  const DiskLogRecovery& recovery = disk->recovery();
  if (!recovery.problem.empty()) {
    // Expected after a crash (the last write torn); anything acknowledged
    // was fsync'ed before its 2xx, so what is cut was never promised.
    common::LogWarning("event log tail truncated",
                       {{"data_dir", config.data_dir},
                        {"problem", recovery.problem},
                        {"truncated_bytes",
                         static_cast<int64_t>(recovery.truncated_bytes)}});
  }
  common::LogInfo(
      "event log opened",
      {{"data_dir", config.data_dir},
       {"fsync", config.fsync},
       {"segments", static_cast<int64_t>(recovery.segments)},
       {"records", static_cast<int64_t>(recovery.records)},
       {"next_sequence", static_cast<int64_t>(recovery.next_sequence)}});
  const DiskLog* raw = disk.get();
  NB_RETURN_IF_ERROR(log->AttachDisk(std::move(disk)));
  RegisterDiskLogMetrics(raw, metrics);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<ConsumerGroups>> CreateConsumerGroups(
    const ReceiverConfig& config, EventLog* log, EventHub* hub) {
  ConsumerGroups::Options options;
  if (!config.data_dir.empty()) {
    options.offsets_file = config.data_dir + "/consumer-groups.json";
  }
  options.session_timeout = absl::Milliseconds(config.group_session_timeout_ms);
  options.subscribe.queue_capacity =
      static_cast<size_t>(config.subscriber_queue);
  return ConsumerGroups::Create(options, log, hub);
}

}  // namespace ngsi_bridge::receiver
