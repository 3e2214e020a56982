// How a provider's answer becomes a DeliveryResult: the outcome mapping
// every HTTP adapter shares (PROVIDERS.md, "Outcome mapping"), Retry-After,
// combining the results of a message sent to several targets (push tokens,
// chat connections), and the bounds and scrubbing every result gets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/utf8.h"
#include "services/delivery/delivery_service.h"
#include "services/delivery/providers/http_client.h"

namespace herald::delivery {

// provider_response keeps at most this many bytes of an answer.
inline constexpr size_t kMaxProviderResponseBytes = 512;
// A reason quotes at most this many bytes of an answer.
inline constexpr size_t kMaxReasonBodyBytes = 160;

// Sets outcome, status, reason, retry_after_ms, provider_status,
// provider_response and latency_us from one HTTP exchange:
//   2xx                       DELIVERED, "sent"
//   429, 5xx                  RETRY (retry_after_ms from Retry-After)
//   timeout, connect, TLS     RETRY ("timeout", "connect", "tls")
//   other 4xx, 3xx            FAILED, "undelivered", "http <code>: <short body>"
//   invalid URL               FAILED, "undelivered"
// `now_ms` (Unix milliseconds) turns a Retry-After date into a delay.
void MapHttpResponse(const HttpResponse& response, int64_t now_ms, Result& result);

// Marks `result` FAILED "undelivered" with `reason` (a message that cannot
// be sent as given: no provider was asked).
void FailUndelivered(absl::string_view reason, Result& result);

// Milliseconds to wait from a Retry-After value: delay-seconds or an HTTP
// date (RFC 9110 10.2.3). 0 when empty, unparsable or in the past.
int64_t RetryAfterMs(absl::string_view value, int64_t now_ms);


// A one-line excerpt of an answer for a reason: whitespace runs collapsed,
// at most kMaxReasonBodyBytes.
std::string ShortBody(absl::string_view body);

// One result for a message that went to several targets: DELIVERED when any
// target accepted it, else RETRY when any target may succeed later (the
// longest retry_after_ms), else FAILED. Latency is the longest exchange.
// REQUIRES: !targets.empty().
Result CombineTargetResults(std::vector<Result> targets);

// Replaces every occurrence of each non-empty secret in the result's text
// fields by "[redacted]".
void RedactSecrets(const std::vector<std::string>& secrets, Result& result);

}  // namespace herald::delivery
