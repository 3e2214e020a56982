#include "messages/message_history.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "messages/message_store.h"
#include "messages/receipt.lua.h"
#include "nlohmann/json.hpp"
#include "redis/script.h"
#include "users/user_store.h"

namespace herald::messages {
namespace {

const redis::Script kReceipt(lua::kMessagesReceipt);

constexpr size_t kMaxReasonBytes = 1024;

using json = nlohmann::json;

// cjson writes numbers as JSON numbers (big ones possibly as 1.7e+15);
// Herald's own scripts may write them as strings.
int64_t IntOf(const json& object, const char* name) {
  auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_integer()) return it->get<int64_t>();
  if (it->is_number()) return static_cast<int64_t>(it->get<double>());
  int64_t value = 0;
  if (it->is_string() && absl::SimpleAtoi(it->get<std::string>(), &value)) return value;
  return 0;
}

std::string StringOf(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : "";
}

// The events of an in-app item, from its hash: delivered when inserted,
// then each engagement that is set.
std::vector<v1::MessageEvent> InAppEvents(const v1::Message& message) {
  std::vector<v1::MessageEvent> events;
  auto add = [&](const char* type, int64_t at_us, const std::string& status) {
    if (at_us == 0) return;
    v1::MessageEvent event;
    event.set_type(type);
    event.set_at_us(at_us);
    event.set_status(status);
    events.push_back(std::move(event));
  };
  add("message.delivered", message.at_us(), "delivered");
  add("message.seen", message.seen_at_us(), "");
  add("message.read", message.read_at_us(), "");
  add("message.interacted", message.interacted_at_us(), "");
  add("message.link_clicked", message.link_clicked_at_us(), "");
  add("message.archived", message.archived_at_us(), "");
  return events;
}

}  // namespace

absl::StatusOr<std::vector<redis::Command>> EventsCommands(const Keys& keys,
                                                           const v1::GetMessageEventsRequest& request) {
  absl::Status valid = users::ValidateId(request.user_id(), "user_id");
  if (valid.ok()) valid = users::ValidateId(request.message_id(), "message_id");
  if (!valid.ok()) return valid;
  return std::vector<redis::Command>{GetMessageCommand(keys, request.user_id(), request.message_id()),
                                     {"LRANGE", keys.MessageEvents(request.message_id()), "0", "-1"}};
}

absl::StatusOr<v1::MessageEvent> EventFromJson(const std::string& text) {
  json object = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return absl::InternalError("message event: not a JSON object");
  v1::MessageEvent event;
  event.set_type(StringOf(object, "type"));
  event.set_at_us(IntOf(object, "at_us"));
  event.set_status(StringOf(object, "status"));
  event.set_reason(StringOf(object, "reason"));
  auto attempt = object.find("attempt");
  if (attempt != object.end() && attempt->is_object()) {
    v1::DeliveryAttempt* out = event.mutable_attempt();
    out->set_attempt(static_cast<int32_t>(IntOf(*attempt, "attempt")));
    out->set_at_us(IntOf(*attempt, "at_us"));
    out->set_outcome(StringOf(*attempt, "outcome"));
    out->set_provider_status(StringOf(*attempt, "provider_status"));
    out->set_provider_response(StringOf(*attempt, "provider_response"));
    out->set_latency_us(IntOf(*attempt, "latency_us"));
    out->set_next_attempt_at_us(IntOf(*attempt, "next_attempt_at_us"));
  }
  return event;
}

absl::StatusOr<v1::GetMessageEventsResponse> EventsFromReplies(const v1::GetMessageEventsRequest& request,
                                                               const redis::Reply& message_reply,
                                                               const redis::Reply& events_reply) {
  auto message = MessageFromReply(request.user_id(), request.message_id(), message_reply);
  if (!message.ok()) return message.status();
  std::vector<v1::MessageEvent> events;
  if (message->content().has_in_app()) events = InAppEvents(*message);
  for (const redis::Reply& entry : events_reply.elements) {
    auto event = EventFromJson(entry.str);
    if (!event.ok()) return event.status();
    events.push_back(std::move(*event));
  }
  // Oldest first: the list is in order already (its times may be rounded,
  // so it is never re-sorted); synthesized events interleave by time.
  if (message->content().has_in_app()) {
    std::stable_sort(events.begin(), events.end(),
                     [](const v1::MessageEvent& a, const v1::MessageEvent& b) { return a.at_us() < b.at_us(); });
  }
  v1::GetMessageEventsResponse response;
  for (v1::MessageEvent& event : events) *response.add_events() = std::move(event);
  return response;
}

absl::StatusOr<redis::Command> ReceiptCommand(const Keys& keys, const v1::UpdateMessageStatusRequest& request,
                                              int64_t now_us) {
  absl::Status valid = users::ValidateId(request.user_id(), "user_id");
  if (valid.ok()) valid = users::ValidateId(request.message_id(), "message_id");
  if (!valid.ok()) return valid;
  const std::string& status = request.status();
  if (status != "delivered" && status != "undelivered" && status != "bounced") {
    return absl::InvalidArgumentError("status: must be delivered, undelivered or bounced");
  }
  if (request.reason().size() > kMaxReasonBytes) {
    return absl::InvalidArgumentError(absl::StrCat("reason: longer than ", kMaxReasonBytes, " bytes"));
  }
  return kReceipt.Call({keys.Message(request.message_id()), keys.MessageEvents(request.message_id())},
                       {request.user_id(), status, request.reason(), std::to_string(now_us)});
}

}  // namespace herald::messages
