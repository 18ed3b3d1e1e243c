#pragma once

#include <cstdint>
#include <functional>

namespace ngsi_bridge::bench {

// When a consumer stops: the orchestrator writes the number of accepted
// notifications on the consumer's stdin once its load generator is done; the
// consumer then stops as soon as every stream has that many, or `idle_ms`
// after the last event (or after the number arrived), or at `max_s`.
// Polls stdin and `delivered_min()` every 20 ms; blocks until a stop.
// Returns the expected count (-1 when none arrived).
int64_t WaitForStop(const std::function<uint64_t()>& delivered_min,
                    const std::function<int64_t()>& last_event_ns,
                    int idle_ms, double max_s);

}  // namespace ngsi_bridge::bench
