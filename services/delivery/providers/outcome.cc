// The shared outcome mapping (outcome.h).
#include "services/delivery/providers/outcome.h"

#include <curl/curl.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "core/utf8.h"

namespace herald::delivery {
namespace {

using ::herald::delivery::v1::OUTCOME_DELIVERED;
using ::herald::delivery::v1::OUTCOME_FAILED;
using ::herald::delivery::v1::OUTCOME_RETRY;

// A provider asking for more than a day is not taken literally: Herald's
// retry policy still bounds the wait.
constexpr int64_t kMaxRetryAfterMs = 24 * 3600 * 1000LL;

void Retry(absl::string_view provider_status, absl::string_view reason, Result& result) {
  result.set_outcome(OUTCOME_RETRY);
  result.clear_status();
  result.set_provider_status(std::string(provider_status));
  result.set_reason(std::string(reason));
}

}  // namespace

int64_t RetryAfterMs(absl::string_view value, int64_t now_ms) {
  value = absl::StripAsciiWhitespace(value);
  if (value.empty()) return 0;
  int64_t seconds = 0;
  if (std::all_of(value.begin(), value.end(), absl::ascii_isdigit)) {
    if (!absl::SimpleAtoi(value, &seconds)) return kMaxRetryAfterMs;  // Too many digits.
    return std::min(seconds, kMaxRetryAfterMs / 1000) * 1000;
  }
  // curl_getdate parses every HTTP date format (IMF-fixdate, RFC 850, asctime).
  const time_t when = curl_getdate(std::string(value).c_str(), nullptr);
  if (when < 0) return 0;
  const int64_t delay = static_cast<int64_t>(when) * 1000 - now_ms;
  return std::clamp<int64_t>(delay, 0, kMaxRetryAfterMs);
}

std::string ShortBody(absl::string_view body) {
  std::string collapsed;
  bool space = false;
  for (char c : absl::StripAsciiWhitespace(body.substr(0, kMaxReasonBodyBytes * 4))) {
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      space = true;
      continue;
    }
    if (space && !collapsed.empty()) collapsed.push_back(' ');
    space = false;
    collapsed.push_back(c);
  }
  return BoundedUtf8(collapsed, kMaxReasonBodyBytes);
}

void FailUndelivered(absl::string_view reason, Result& result) {
  result.set_outcome(OUTCOME_FAILED);
  result.set_status("undelivered");
  result.set_reason(BoundedUtf8(reason, 1024));
}

void MapHttpResponse(const HttpResponse& response, int64_t now_ms, Result& result) {
  result.set_latency_us(response.latency_us);
  switch (response.error) {
    case TransportError::kNone:
      break;
    case TransportError::kTimeout:
      Retry("timeout", "timeout", result);
      return;
    case TransportError::kConnect:
      Retry("connect", absl::StrCat("connect: ", BoundedUtf8(response.error_detail, 200)), result);
      return;
    case TransportError::kTls:
      Retry("tls", absl::StrCat("tls: ", BoundedUtf8(response.error_detail, 200)), result);
      return;
    case TransportError::kInvalidUrl:
      FailUndelivered(absl::StrCat("invalid url: ", BoundedUtf8(response.error_detail, 200)), result);
      result.set_provider_status("invalid url");
      return;
    case TransportError::kOther:
      Retry("error", absl::StrCat("error: ", BoundedUtf8(response.error_detail, 200)), result);
      return;
  }
  const long code = response.status;
  result.set_provider_status(absl::StrCat("http ", code));
  result.set_provider_response(BoundedUtf8(response.body, kMaxProviderResponseBytes));
  if (code >= 200 && code < 300) {
    result.set_outcome(OUTCOME_DELIVERED);
    result.set_status("sent");
    result.clear_reason();
    return;
  }
  const std::string summary = response.body.empty() ? absl::StrCat("http ", code)
                                                    : absl::StrCat("http ", code, ": ", ShortBody(response.body));
  if (code == 429 || code >= 500) {
    Retry(result.provider_status(), summary, result);
    result.set_retry_after_ms(RetryAfterMs(response.Header("retry-after"), now_ms));
    return;
  }
  // Other 4xx, and 3xx (redirects are not followed, see http_client.cc).
  FailUndelivered(summary, result);
}

Result CombineTargetResults(std::vector<Result> targets) {
  const size_t total = targets.size();
  int64_t latency_us = 0;
  size_t delivered = 0, retry = 0;
  size_t first_delivered = total, longest_retry = total, first_other = total;
  for (size_t i = 0; i < total; ++i) {
    const Result& target = targets[i];
    latency_us = std::max(latency_us, target.latency_us());
    if (target.outcome() == OUTCOME_DELIVERED) {
      ++delivered;
      if (first_delivered == total) first_delivered = i;
      continue;
    }
    if (first_other == total) first_other = i;
    if (target.outcome() == OUTCOME_RETRY) {
      ++retry;
      if (longest_retry == total || target.retry_after_ms() > targets[longest_retry].retry_after_ms()) {
        longest_retry = i;
      }
    }
  }
  if (total == 1) return std::move(targets[0]);
  Result combined;
  if (delivered > 0) {
    combined = targets[first_delivered];
    if (delivered < total) {
      combined.set_reason(absl::StrCat("delivered to ", delivered, " of ", total, " targets; target ", first_other + 1,
                                       ": ", targets[first_other].reason()));
    }
  } else if (retry > 0) {
    combined = targets[longest_retry];
    combined.set_reason(absl::StrCat(retry, " of ", total, " targets to retry; target ", longest_retry + 1, ": ",
                                     combined.reason()));
  } else {
    combined = targets[first_other];
    combined.set_reason(absl::StrCat("all ", total, " targets failed; target 1: ", combined.reason()));
  }
  combined.set_latency_us(latency_us);
  return combined;
}

void RedactSecrets(const std::vector<std::string>& secrets, Result& result) {
  for (const std::string& secret : secrets) {
    if (secret.empty()) continue;
    for (std::string* field : {result.mutable_reason(), result.mutable_provider_response(),
                               result.mutable_provider_message_id(), result.mutable_provider_status()}) {
      if (field->find(secret) != std::string::npos) absl::StrReplaceAll({{secret, "[redacted]"}}, field);
    }
  }
}

}  // namespace herald::delivery
