#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "receiver-service/notification_parser.h"
#include "tests/fuzz/fuzz_input.h"

namespace ngsi_bridge::fuzz {

// The fuzz input (SplitInput's format) as a notification POSTed to /notify.
inline receiver::NotificationRequest NotificationFromInput(const uint8_t* data,
                                                           size_t size) {
  HeadersAndBody input = SplitInput(data, size);
  receiver::NotificationRequest request;
  request.method = "POST";
  request.path = "/notify";
  request.headers = std::move(input.headers);
  request.body = std::move(input.body);
  return request;
}

}  // namespace ngsi_bridge::fuzz
