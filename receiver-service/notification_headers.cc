#include "receiver-service/notification_headers.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/ngsi_json.h"

namespace ngsi_bridge::receiver {
namespace {

enum class HeaderUse {
  kKeep,  // into event.headers
  kDrop,  // secret, hop-by-hop or transport noise
  kService,
  kServicePath,
  kCorrelator,
  kContentType,
  kV2AttrsFormat,
  kLdAttrsFormat,
  kLink,
  kUserAgent,
};

// `lower` is the lower-cased header name.
HeaderUse UseOf(absl::string_view lower) {
  // Secrets never reach consumers: events fan out to anyone subscribed.
  if (lower == "authorization" || lower == "x-auth-token" ||
      lower == "cookie" || lower == "proxy-authorization") {
    return HeaderUse::kDrop;
  }
  // Hop-by-hop (RFC 9110 7.6.1) and transport details that say nothing
  // about the notification. libcurl (Orion) adds Expect for large bodies.
  if (lower == "connection" || lower == "keep-alive" ||
      lower == "proxy-connection" || lower == "te" || lower == "trailer" ||
      lower == "transfer-encoding" || lower == "upgrade" ||
      lower == "host" || lower == "content-length" || lower == "accept" ||
      lower == "expect") {
    return HeaderUse::kDrop;
  }
  if (lower == "fiware-service" || lower == "ngsild-tenant") {
    return HeaderUse::kService;
  }
  if (lower == "fiware-servicepath") return HeaderUse::kServicePath;
  if (lower == "fiware-correlator") return HeaderUse::kCorrelator;
  if (lower == "content-type") return HeaderUse::kContentType;
  if (lower == "ngsiv2-attrsformat") return HeaderUse::kV2AttrsFormat;
  if (lower == "ngsild-attribute-format") return HeaderUse::kLdAttrsFormat;
  if (lower == "link") return HeaderUse::kLink;
  if (lower == "user-agent") return HeaderUse::kUserAgent;
  return HeaderUse::kKeep;
}

void KeepHeader(std::string name, absl::string_view value,
                v1::NgsiEvent* event) {
  auto& headers = *event->mutable_headers();
  auto [it, inserted] = headers.try_emplace(std::move(name), value);
  // A repeated header means the same as one with the values comma-joined.
  if (!inserted) absl::StrAppend(&it->second, ", ", value);
}

// Adds the URL of every `rel="http://www.w3.org/ns/json-ld#context"` link
// to event.contexts. Returns false when the header holds anything else
// (another relation or an unreadable value): it is then kept verbatim.
bool ConsumeLinkContexts(absl::string_view value, v1::NgsiEvent* event,
                         bool* has_context) {
  bool only_contexts = true;
  size_t pos = value.find('<');
  if (pos == absl::string_view::npos) return false;
  while (pos != absl::string_view::npos) {
    const size_t end = value.find('>', pos);
    if (end == absl::string_view::npos) return false;
    const absl::string_view url = value.substr(pos + 1, end - pos - 1);
    const size_t next = value.find('<', end);
    const absl::string_view params = value.substr(
        end + 1, next == absl::string_view::npos ? next : next - end - 1);
    if (absl::StrContains(params, "json-ld#context")) {
      event->add_contexts()->set_string_value(std::string(url));
      *has_context = true;
    } else {
      only_contexts = false;
    }
    pos = next;
  }
  return only_contexts;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences only: '+' stays literal because Orion-LD appends ids to
// the URL without encoding them, so a '+' there is a real '+'.
std::string PercentDecode(absl::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = HexDigit(text[i + 1]);
      const int low = HexDigit(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out.push_back(static_cast<char>(high * 16 + low));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

}  // namespace

absl::Status ConsumeNotificationHeader(absl::string_view name,
                                       absl::string_view value,
                                       NotificationHeaders* headers,
                                       v1::NgsiEvent* event) {
  std::string lower = absl::AsciiStrToLower(name);
  const HeaderUse use = UseOf(lower);
  if (use == HeaderUse::kDrop) return absl::OkStatus();
  if (absl::Status utf8 = common::ValidateUtf8(value); !utf8.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("header ", lower, ": ", utf8.message()));
  }
  switch (use) {
    case HeaderUse::kDrop:
      break;
    case HeaderUse::kService:
      // Both Fiware-Service and NGSILD-Tenant: the first names the
      // tenant, the other is kept so that nothing is lost.
      if (event->service().empty()) {
        event->set_service(std::string(value));
      } else {
        KeepHeader(std::move(lower), value, event);
      }
      break;
    case HeaderUse::kServicePath:
      event->set_service_path(std::string(value));
      break;
    case HeaderUse::kCorrelator:
      event->set_correlator(std::string(value));
      break;
    case HeaderUse::kContentType: {
      event->set_content_type(std::string(value));
      const absl::string_view media = value.substr(0, value.find(';'));
      headers->media_type =
          absl::AsciiStrToLower(absl::StripAsciiWhitespace(media));
      break;
    }
    case HeaderUse::kV2AttrsFormat:
      headers->v2_attrs_format = std::string(value);
      break;
    case HeaderUse::kLdAttrsFormat:
      headers->ld_attrs_format = std::string(value);
      break;
    case HeaderUse::kLink:
      if (!ConsumeLinkContexts(value, event, &headers->has_link_context)) {
        KeepHeader(std::move(lower), value, event);
      }
      break;
    case HeaderUse::kUserAgent:
      headers->user_agent = std::string(value);
      break;
    case HeaderUse::kKeep:
      KeepHeader(std::move(lower), value, event);
      break;
  }
  return absl::OkStatus();
}

std::optional<std::string> FindQueryParameter(absl::string_view query,
                                              absl::string_view name) {
  for (absl::string_view pair : absl::StrSplit(query, '&')) {
    const size_t equals = pair.find('=');
    const absl::string_view key = pair.substr(0, equals);
    if (PercentDecode(key) != name) continue;
    if (equals == absl::string_view::npos) return std::string();
    return PercentDecode(pair.substr(equals + 1));
  }
  return std::nullopt;
}

}  // namespace ngsi_bridge::receiver
