#include "messages/message_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "feed/feed_store.h"
#include "messages/get.lua.h"
#include "messages/queue.lua.h"
#include "messages/record.lua.h"
#include "redis/script.h"

namespace herald::messages {
namespace {

const redis::Script kRecord(lua::kMessagesRecord);
const redis::Script kQueue(lua::kMessagesQueue);
const redis::Script kGet(lua::kMessagesGet);

int64_t ToInt(const std::string& text) {
  int64_t value = 0;
  return absl::SimpleAtoi(text, &value) ? value : 0;
}

}  // namespace

redis::Command RecordNotDeliveredCommand(const Keys& keys, const NotDelivered& record, const WriteOptions& options) {
  return kRecord.Call({keys.Message(record.message_id), keys.UserRecords(record.recipient), keys.MessageLog(),
                       keys.MessageEvents(record.message_id)},
                      {std::to_string(options.message_retention_ms), "id", record.message_id, "recipient", record.recipient, "workflow", record.workflow, "tenant",
                       record.tenant, "channel", record.channel, "channel_type", record.channel_type, "status",
                       record.status, "reason", record.reason, "rule", record.rule, "inserted_at_us",
                       std::to_string(record.at_us), "workflow_run_id", record.workflow_run_id});
}

redis::Command QueueMessageCommand(const Keys& keys, const QueuedMessage& message, const WriteOptions& options) {
  std::vector<std::string> args = {
      std::to_string(options.message_retention_ms), "id", message.message_id, "recipient", message.recipient,
      "workflow", message.workflow, "tenant", message.tenant, "channel", message.channel, "channel_type",
      message.channel_type, "status", "queued", "content", message.content.SerializeAsString(), "preferences",
      message.preferences, "accepted_at_us", std::to_string(message.accepted_at_us), "inserted_at_us",
      std::to_string(message.at_us), "workflow_run_id", message.workflow_run_id};
  if (!message.fallback.empty()) {
    args.push_back("fallback");
    args.push_back(message.fallback);
  }
  return kQueue.Call({keys.Message(message.message_id), keys.UserRecords(message.recipient), keys.Deliveries(),
                      keys.MessageLog(), keys.MessageEvents(message.message_id)},
                     std::move(args));
}

// Engagement fields of a message hash, least advanced first (feed items
// keep seen_at/read_at/interacted_at/archived_at; link clicks come from
// delivery receipts).
constexpr const char* kEngagementFields[][2] = {{"seen_at", "seen"},
                                                {"read_at", "read"},
                                                {"interacted_at", "interacted"},
                                                {"link_clicked_at", "link_clicked"},
                                                {"archived_at", "archived"}};

redis::Command MessageStateCommand(const Keys& keys, const std::string& recipient, const std::string& message_id) {
  return kGet.Call({keys.Message(message_id)}, {recipient, message_id, "1"});
}

std::optional<MessageState> MessageStateFromReply(const redis::Reply& reply) {
  if (reply.elements.size() != 1 + std::size(kEngagementFields)) return std::nullopt;
  const redis::Reply& status = reply.elements[0];
  if (status.type == redis::Reply::Type::kNil || status.str.empty()) return std::nullopt;
  MessageState state{status.str, status.str};
  for (size_t i = 0; i < std::size(kEngagementFields); ++i) {
    const redis::Reply& at = reply.elements[1 + i];
    if (at.type != redis::Reply::Type::kNil && !at.str.empty()) state.engagement_status = kEngagementFields[i][1];
  }
  return state;
}

redis::Command GetMessageCommand(const Keys& keys, const std::string& recipient, const std::string& message_id) {
  return kGet.Call({keys.Message(message_id)}, {recipient, message_id, ""});
}

v1::Message MessageFromFields(const std::string& message_id, const std::vector<redis::Reply>& fields) {
  v1::Message message;
  message.set_id(message_id);
  bool in_app = false;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& field = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (field == "recipient") message.set_recipient(value);
    else if (field == "workflow") message.set_workflow(value);
    else if (field == "tenant") message.set_tenant(value);
    else if (field == "channel") message.set_channel(value);
    else if (field == "channel_type") message.set_channel_type(value);
    else if (field == "status") message.set_status(value);
    else if (field == "reason") message.set_reason(value);
    else if (field == "rule") message.set_rule(value);
    else if (field == "preferences") message.set_preferences(value);
    else if (field == "inserted_at_us") message.set_at_us(ToInt(value));
    else if (field == "content") {
      message.mutable_content()->ParseFromString(value);
      // A chat message carries the user's connections for its provider:
      // incoming-webhook URLs and access tokens are credentials, never
      // returned in a message.
      if (message.content().has_chat()) message.mutable_content()->mutable_chat()->clear_channel_data_json();
    }
    else if (field == "item") in_app = true;
    else if (field == "workflow_run_id") message.set_workflow_run_id(value);
    else if (field == "attempts") message.set_attempts(static_cast<int32_t>(ToInt(value)));
    else if (field == "updated_at_us") message.set_updated_at_us(ToInt(value));
    else if (field == "provider_message_id") message.set_provider_message_id(value);
    // Engagement: the feed marks store milliseconds.
    else if (field == "seen_at") message.set_seen_at_us(ToInt(value) * 1000);
    else if (field == "read_at") message.set_read_at_us(ToInt(value) * 1000);
    else if (field == "interacted_at") message.set_interacted_at_us(ToInt(value) * 1000);
    else if (field == "link_clicked_at") message.set_link_clicked_at_us(ToInt(value) * 1000);
    else if (field == "archived_at") message.set_archived_at_us(ToInt(value) * 1000);
  }
  if (in_app) {
    // The stored item with its engagement, next to it in the hash.
    *message.mutable_content()->mutable_in_app() = feed::ItemFromFields(fields);
    message.mutable_content()->mutable_in_app()->set_id(message_id);
    if (message.channel_type().empty()) message.set_channel_type("in_app_feed");
    if (message.workflow().empty()) message.set_workflow(message.content().in_app().workflow());
  }
  // The furthest engagement that is set.
  const std::pair<int64_t, const char*> engagement[] = {
      {message.archived_at_us(), "archived"}, {message.link_clicked_at_us(), "link_clicked"},
      {message.interacted_at_us(), "interacted"}, {message.read_at_us(), "read"}, {message.seen_at_us(), "seen"}};
  for (const auto& [at, name] : engagement) {
    if (at != 0) {
      message.set_engagement_status(name);
      break;
    }
  }
  return message;
}

absl::StatusOr<v1::Message> MessageFromReply(const std::string& user_id, const std::string& message_id,
                                             const redis::Reply& reply) {
  v1::Message message = MessageFromFields(message_id, reply.elements);
  // Another user's message is as absent as a missing one.
  if (reply.elements.empty() || message.recipient() != user_id) {
    return absl::NotFoundError(absl::StrCat("message_id: no message '", message_id, "' for user '", user_id, "'"));
  }
  return message;
}

}  // namespace herald::messages
