#include "common/env_flags.h"

#include <cstdlib>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace ngsi_bridge::common {
namespace {

// absl's usage config takes plain function pointers, so the filter lives in
// a static set once at start-up.
std::string& HelpFileFilter() {
  static std::string* filter = new std::string();
  return *filter;
}

bool IsOurFlagFile(absl::string_view file) {
  return absl::StrContains(file, HelpFileFilter());
}

}  // namespace

std::string EnvNameForFlag(absl::string_view prefix, absl::string_view flag) {
  return absl::StrCat(prefix, absl::AsciiStrToUpper(flag));
}

absl::Status ApplyEnvironmentToFlags(absl::string_view prefix,
                                     absl::string_view defined_in) {
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (!absl::StrContains(flag->Filename(), defined_in)) continue;
    const std::string env_name = EnvNameForFlag(prefix, name);
    const char* value = std::getenv(env_name.c_str());
    if (value == nullptr) continue;
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", env_name, " (flag --", name,
                       ") has bad value '", value, "': ", error));
    }
  }
  return absl::OkStatus();
}

std::vector<std::string> CollectRepeatedFlag(int argc, char** argv,
                                             absl::string_view name,
                                             absl::string_view env_prefix) {
  std::vector<std::string> values;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--") break;
    if (!absl::ConsumePrefix(&arg, "--")) {
      if (!absl::ConsumePrefix(&arg, "-")) continue;
    }
    if (!absl::ConsumePrefix(&arg, name)) continue;
    if (absl::ConsumePrefix(&arg, "=")) {
      values.emplace_back(arg);
    } else if (arg.empty() && i + 1 < argc) {
      values.emplace_back(argv[++i]);
    }
  }
  if (!values.empty()) return values;
  const char* env = std::getenv(EnvNameForFlag(env_prefix, name).c_str());
  if (env == nullptr) return values;
  for (absl::string_view part : absl::StrSplit(env, ';', absl::SkipEmpty())) {
    values.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return values;
}

void ConfigureFlagUsage(absl::string_view program_summary,
                        absl::string_view env_prefix,
                        absl::string_view defined_in) {
  HelpFileFilter() = std::string(defined_in);
  absl::FlagsUsageConfig config;
  config.contains_help_flags = &IsOurFlagFile;
  config.contains_helpshort_flags = &IsOurFlagFile;
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(absl::StrCat(
      program_summary,
      "\n\nEvery flag can also be set through an environment variable named "
      "after it: --http_port -> ",
      env_prefix,
      "HTTP_PORT. The command line wins over the environment.\n\nFlags:"));
}

absl::Status ParseFlagsWithEnvironment(int argc, char** argv,
                                       absl::string_view program_summary,
                                       absl::string_view env_prefix,
                                       absl::string_view defined_in) {
  ConfigureFlagUsage(program_summary, env_prefix, defined_in);
  NB_RETURN_IF_ERROR(ApplyEnvironmentToFlags(env_prefix, defined_in));
  absl::ParseCommandLine(argc, argv);
  return absl::OkStatus();
}

}  // namespace ngsi_bridge::common
