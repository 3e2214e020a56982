// Message records: every message Herald decides on has one hash under its
// deterministic id (status, reason, content, and for in-app messages the
// feed item and its state). Here: the records of messages that do not go
// to the feed (not_sent, undelivered), the hand-off of email/sms/push/chat
// messages to the delivery services (recorded `queued`, one entry of
// herald:{p}:deliveries), the per-user index of those records, and
// GetMessage. Feed items themselves are written by feed/. Every message
// created is logged in its partition's message log (the index ListMessages
// reads) and expires after the retention with its events list.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::messages {

// A message that was not delivered to the feed (status not_sent or
// undelivered, with a reason). Idempotent by message id; reply 1 written, 0 already there.
struct NotDelivered {
  std::string message_id;
  std::string recipient;
  std::string workflow;
  std::string tenant;
  std::string channel;
  std::string status;  // "not_sent" | "undelivered"
  std::string reason;  // e.g. "unknown_recipient", "template_error: ...", "preference"
  int64_t at_us = 0;
  std::string rule;    // the preference setting that decided, "<level>:<setting>"
  std::string channel_type;
  std::string workflow_run_id;  // the run (batch id) the message id derives from
};

struct WriteOptions {
  // How long the message hash and its events list live.
  int64_t message_retention_ms = feed::kDefaultMessageRetentionMs;
};

// Also logs the message and appends its creation event (message.<status>).
redis::Command RecordNotDeliveredCommand(const Keys& keys, const NotDelivered& record,
                                         const WriteOptions& options = {});

// An email/sms/push/chat message rendered for its channel: recorded
// `queued` and handed to the delivery services through
// herald:{p}:deliveries. Idempotent by message id; reply 1/0.
struct QueuedMessage {
  std::string message_id;
  std::string recipient;
  std::string workflow;
  std::string tenant;
  std::string channel;
  std::string channel_type;
  v1::MessageContent content;
  std::string preferences;  // how preferences were applied when that needs saying (critical workflows)
  int64_t accepted_at_us = 0;
  int64_t at_us = 0;
  std::string workflow_run_id;  // the run (batch id) the message id derives from
  // Serialized BatchEnvelope (only_step = the step's fallback) the delivery
  // dispatcher XADDs to the partition's batches stream when this message
  // ends undelivered; "" = the step has no fallback. Stored in the hash
  // field `fallback` only when set.
  std::string fallback;
};
// Also logs the message and appends its creation event (message.queued).
redis::Command QueueMessageCommand(const Keys& keys, const QueuedMessage& message, const WriteOptions& options = {});

// Where a message stands, as conditions on `refs.<step>` see it.
struct MessageState {
  std::string status;  // queued | sent | delivered | undelivered | not_sent | bounced | ...
  // The furthest engagement set (seen < read < interacted < link_clicked <
  // archived), else the status.
  std::string engagement_status;
};
// Reads one message's state (read-only; pipeline many of them).
redis::Command MessageStateCommand(const Keys& keys, const std::string& recipient, const std::string& message_id);
// nullopt when the message does not exist (never written, or expired).
std::optional<MessageState> MessageStateFromReply(const redis::Reply& reply);

// Any message of `user_id` (feed item or record); NOT_FOUND naming
// message_id when it does not exist or belongs to someone else.
redis::Command GetMessageCommand(const Keys& keys, const std::string& recipient, const std::string& message_id);
absl::StatusOr<v1::Message> MessageFromReply(const std::string& user_id, const std::string& message_id,
                                             const redis::Reply& reply);

// The message a hash holds (HGETALL-style `fields`), whoever it belongs to:
// status, content, engagement (engagement_status is the furthest of seen <
// read < interacted < link_clicked < archived that is set) and delivery
// fields.
v1::Message MessageFromFields(const std::string& message_id, const std::vector<redis::Reply>& fields);

}  // namespace herald::messages
