#include "events/outbox_event.h"

#include "absl/strings/str_cat.h"
#include "dispatcher/backoff.h"
#include "nlohmann/json.hpp"

namespace herald::events {
namespace {

std::string StringField(const nlohmann::json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

absl::StatusOr<OutboxEvent> ParseOutboxEntry(absl::string_view payload, int partition, absl::string_view entry_id) {
  nlohmann::json json = nlohmann::json::parse(payload.begin(), payload.end(), nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return absl::InvalidArgumentError("event: not a JSON object");
  OutboxEvent event;
  nlohmann::json body;
  if (auto envelope = json.find("event"); envelope != json.end()) {
    auto attempts = json.find("attempts");
    if (!envelope->is_object() || attempts == json.end() || !attempts->is_number_integer()) {
      return absl::InvalidArgumentError("event: malformed retry envelope");
    }
    event.id = StringField(json, "id");
    event.attempts = attempts->get<int>();
    body = std::move(*envelope);
  } else {
    event.id = absl::StrCat("evt_", partition, "_", entry_id);
    body = std::move(json);
    body["id"] = event.id;
  }
  event.type = StringField(body, "type");
  if (event.id.empty() || event.type.empty() || event.attempts < 0) {
    return absl::InvalidArgumentError("event: no id or type");
  }
  event.message_id = StringField(body, "message_id");
  event.recipient = StringField(body, "recipient");
  event.workflow = StringField(body, "workflow");
  event.tenant = StringField(body, "tenant");
  event.body = body.dump();
  return event;
}

std::string RetryEnvelope(const OutboxEvent& event) {
  nlohmann::json body = nlohmann::json::parse(event.body, nullptr, /*allow_exceptions=*/false);
  return nlohmann::json{{"id", event.id}, {"attempts", event.attempts}, {"event", std::move(body)}}.dump();
}

delivery::Delivery DeliveryFor(const OutboxEvent& event, const std::string& channel) {
  delivery::Delivery delivery;
  delivery.set_message_id(event.id);
  delivery.set_channel_type("webhook");
  delivery.set_channel(channel);
  delivery.set_recipient(event.recipient);
  delivery.set_workflow(event.workflow);
  delivery.set_tenant(event.tenant);
  delivery.set_attempt(event.attempts + 1);
  delivery.mutable_content()->mutable_webhook()->set_body_json(event.body);
  return delivery;
}

Decision Decide(const delivery::Result& result, int attempt, const delivery::RetryPolicy& policy, int64_t now_ms,
                absl::BitGenRef random) {
  switch (result.outcome()) {
    case delivery::v1::OUTCOME_DELIVERED:
      return {Verdict::kDelivered, 0};
    case delivery::v1::OUTCOME_RETRY:
      if (attempt >= policy.max_attempts) return {Verdict::kExhausted, 0};
      return {Verdict::kRetry, now_ms + dispatcher::RetryDelayMs(policy, attempt, result.retry_after_ms(), random)};
    default:
      return {Verdict::kFailed, 0};
  }
}

}  // namespace herald::events
