#include "core/http_headers.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"

namespace herald {

bool IsHeaderName(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return absl::ascii_isalnum(static_cast<unsigned char>(c)) || absl::StrContains("!#$%&'*+-.^_`|~", c);
  });
}

bool IsHeaderValue(const std::string& value) {
  return std::none_of(value.begin(), value.end(), [](char c) { return c == '\r' || c == '\n' || c == '\0'; });
}

bool IsReservedWebhookHeader(const std::string& name) {
  const std::string lower = absl::AsciiStrToLower(name);
  return lower == "content-type" || lower == "content-length" || lower == "host" || lower == "transfer-encoding" ||
         lower == "idempotency-key" || lower == "expect" || absl::StartsWith(lower, "x-herald-");
}

}  // namespace herald
