#include "common/shutdown.h"

#include <pthread.h>
#include <signal.h>

namespace ngsi_bridge::common {
namespace {

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockShutdownSignals() {
  const sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that closes a socket mid-write must not kill the process.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForShutdownSignal(void (*on_hangup)()) {
  const sigset_t set = ShutdownSignals();
  while (true) {
    int signal_number = 0;
    if (sigwait(&set, &signal_number) != 0) continue;
    if (signal_number == SIGHUP) {
      if (on_hangup != nullptr) on_hangup();
      continue;
    }
    return signal_number;
  }
}

}  // namespace ngsi_bridge::common
