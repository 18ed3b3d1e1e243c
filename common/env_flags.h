#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace ngsi_bridge::common {

// The environment twin of a flag: ("NGSI_RECEIVER_", "http_port") ->
// "NGSI_RECEIVER_HTTP_PORT".
std::string EnvNameForFlag(absl::string_view prefix, absl::string_view flag);

// Sets every flag defined in a file whose path contains `defined_in` from
// its environment twin, when that variable is set. Call before
// absl::ParseCommandLine so the command line wins over the environment.
// Fails with kInvalidArgument naming the variable, flag and value when a
// value does not parse. Not thread-safe: call at start-up only.
absl::Status ApplyEnvironmentToFlags(absl::string_view prefix,
                                     absl::string_view defined_in);

// Every value given for a repeatable flag, in order: absl keeps only the
// last `--name=value`, so repeatable flags (--broker, --line_listener) are
// collected from argv here. Accepts `--name=value`, `--name value`, and the
// single-dash forms. When argv has none, the environment twin (if set) is
// split on ';' instead.
std::vector<std::string> CollectRepeatedFlag(int argc, char** argv,
                                             absl::string_view name,
                                             absl::string_view env_prefix);

// Makes --help list our flags (absl only lists flags of a file named after
// the binary by default) and appends a note on environment twins.
void ConfigureFlagUsage(absl::string_view program_summary,
                        absl::string_view env_prefix,
                        absl::string_view defined_in);

// The start of every main(): ConfigureFlagUsage, then the environment
// twins, then the command line (which wins). Exits like absl does for a bad
// command-line flag or --help; returns kInvalidArgument for a bad
// environment value, naming the variable, flag and value.
absl::Status ParseFlagsWithEnvironment(int argc, char** argv,
                                       absl::string_view program_summary,
                                       absl::string_view env_prefix,
                                       absl::string_view defined_in);

}  // namespace ngsi_bridge::common
