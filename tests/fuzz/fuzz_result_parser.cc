// libFuzzer target: the replier's broker response parsers. Input: a
// "Status: NNN" header line (and others, ignored), an empty line, the body.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "replier-service/result_parser.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace nb = ngsi_bridge;
  nb::fuzz::HeadersAndBody input = nb::fuzz::SplitInput(data, size);
  int status = 0;
  for (const auto& [name, value] : input.headers) {
    if (name == "Status") (void)absl::SimpleAtoi(value, &status);
  }
  const std::vector<nb::replier::SentEntity> batch = {
      {"E1", "T"}, {"urn:ngsi-ld:entities:E1", ""}, {"E2", "T2"}, {"", ""}};
  nb::replier::AttributeV2Response(batch, status, input.body);
  nb::replier::AttributeLdResponse(batch, status, input.body);
  nb::replier::ParseV2FailureDescription(input.body).IgnoreError();
  nb::replier::BrokerErrorText(input.body);
  nb::replier::StatusFromOrionResponse(status, input.body).IgnoreError();
  nb::replier::CodeForHttpStatus(status, input.body);
  return 0;
}
