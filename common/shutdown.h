#pragma once

namespace ngsi_bridge::common {

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread. Call it first in
// main(), before any thread starts, so every thread inherits the mask and the
// signals are only ever taken by WaitForShutdownSignal().
void BlockShutdownSignals();

// Blocks until SIGTERM or SIGINT arrives (Kubernetes sends SIGTERM) and
// returns it. SIGHUP calls `on_hangup` (when given) and keeps waiting.
int WaitForShutdownSignal(void (*on_hangup)() = nullptr);

}  // namespace ngsi_bridge::common
