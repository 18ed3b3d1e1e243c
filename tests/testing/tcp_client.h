#pragma once

namespace ngsi_bridge::testing {

// A TCP connection from `source` (any 127/8 address: all of it is loopback
// on Linux, so tests can play several clients) to 127.0.0.1:`port`, with a
// 20 s receive timeout so that a hang fails a test instead of blocking it.
// The caller closes it. -1 when it cannot connect.
int ConnectFrom(int port, const char* source = "127.0.0.1");

}  // namespace ngsi_bridge::testing
