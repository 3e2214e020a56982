#include "dispatcher/outcome.h"

#include "absl/strings/str_cat.h"
#include "core/utf8.h"
#include "dispatcher/backoff.h"

namespace herald::dispatcher {

using messages::DeliveryRecord;

DeliveryRecord RecordFor(const delivery::Result& result, int attempt, const delivery::RetryPolicy& policy,
                         int64_t now_ms, absl::BitGenRef random) {
  DeliveryRecord record;
  record.message_id = result.message_id();
  record.attempt = attempt;
  // A service's strings are stored in JSON events: bounded and valid UTF-8
  // whatever a provider (or a foreign service) answered.
  record.reason = BoundedUtf8(result.reason(), 1024);
  record.provider_status = BoundedUtf8(result.provider_status(), 64);
  record.provider_response = BoundedUtf8(result.provider_response(), 512);
  record.provider_message_id = BoundedUtf8(result.provider_message_id(), 256);
  record.latency_us = result.latency_us();
  switch (result.outcome()) {
    case delivery::v1::OUTCOME_DELIVERED:
      record.outcome = DeliveryRecord::Outcome::kDelivered;
      record.status = result.status() == "delivered" ? "delivered" : "sent";
      return record;
    case delivery::v1::OUTCOME_FAILED:
      record.outcome = DeliveryRecord::Outcome::kFailed;
      record.status = result.status() == "bounced" ? "bounced" : "undelivered";
      return record;
    default:
      break;  // OUTCOME_RETRY, and anything a foreign service made up
  }
  if (record.reason.empty()) record.reason = result.provider_status().empty() ? "retryable failure" : result.provider_status();
  if (attempt >= policy.max_attempts) {
    record.outcome = DeliveryRecord::Outcome::kFailed;
    record.status = "undelivered";
    record.reason = absl::StrCat("retries exhausted after ", attempt, " attempts: ", record.reason);
    return record;
  }
  record.outcome = DeliveryRecord::Outcome::kRetry;
  record.due_ms = now_ms + RetryDelayMs(policy, attempt, result.retry_after_ms(), random);
  return record;
}

DeliveryRecord Deferral(const std::string& message_id, int64_t due_ms) {
  DeliveryRecord record;
  record.message_id = message_id;
  record.outcome = DeliveryRecord::Outcome::kDefer;
  record.due_ms = due_ms;
  return record;
}

DeliveryRecord Undeliverable(const std::string& message_id, std::string reason) {
  DeliveryRecord record;
  record.message_id = message_id;
  record.outcome = DeliveryRecord::Outcome::kFailed;
  record.status = "undelivered";
  record.reason = std::move(reason);
  return record;
}

}  // namespace herald::dispatcher
