// The in-app feed and message records in Redis. Each user's feed is five
// sorted sets scored by a per-user insertion sequence (active, unseen,
// unread, read, archived), so counts are ZCARD (O(1)), filtered pages are
// range reads, and cursors stay stable while new items arrive on top.
// Every mutation is one Lua script on the user's partition.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::feed {

// Lua shared by the feed scripts: feed_scopes(prefix, user, tenant) gives
// the set prefixes an item lives under — the user's whole feed and, for an
// item of a tenant, the user's feed in that tenant (the same five sets, so
// a tenant-scoped feed has O(1) counts too) — and scoped_zadd/zrem apply a
// set change to every scope.
extern const char kFeedScopesLua[];

// What the fan-out writes for one in-app message.
struct NewItem {
  // id (deterministic: a replay finds it and writes nothing), workflow,
  // tenant, blocks, actors, totals, data_json, inserted_at_ms.
  v1::FeedItem item;
  std::string recipient;
  std::string channel;
  int64_t accepted_at_us = 0;  // when the (newest) trigger was accepted
  int64_t inserted_at_us = 0;
  // How preferences were applied when that needs saying (critical
  // workflows: "critical_workflow: bypassed user:channel_types.in_app_feed").
  std::string preferences;
};

// One EVALSHA that inserts every item (all of partition `keys`) unless its
// message id exists: one script call per segment, not per recipient. Reply:
// an array with each item's new sequence number, or 0 when it was already
// there.
redis::Command InsertManyCommand(const Keys& keys, const std::vector<NewItem>& items);

// A message that was not delivered to the feed (status not_sent or
// undelivered, with a reason). Idempotent like InsertCommand; reply 1/0.
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
};
redis::Command RecordNotDeliveredCommand(const Keys& keys, const NotDelivered& record);

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
  std::string preferences;  // as NewItem::preferences
  int64_t accepted_at_us = 0;
  int64_t at_us = 0;
};
redis::Command QueueMessageCommand(const Keys& keys, const QueuedMessage& message);

// Any message of `user_id` (feed item or record); NOT_FOUND naming
// message_id when it does not exist or belongs to someone else.
redis::Command GetMessageCommand(const Keys& keys, const std::string& message_id);
absl::StatusOr<v1::Message> MessageFromReply(const std::string& user_id, const std::string& message_id,
                                             const redis::Reply& reply);

inline constexpr int kDefaultPageSize = 20;
inline constexpr int kMaxPageSize = 100;

// Validates the request and returns the list command; INVALID_ARGUMENT
// naming `page_size` or `after`.
absl::StatusOr<redis::Command> ListCommand(const Keys& keys, const v1::ListFeedRequest& request);
absl::StatusOr<v1::ListFeedResponse> ParseListReply(const v1::ListFeedRequest& request, const redis::Reply& reply);

// INVALID_ARGUMENT naming `action`, `ids` or `all` when the request is
// malformed. The script itself answers NOT_FOUND (naming the id) when an id
// is not in this user's feed, before changing anything.
absl::StatusOr<redis::Command> MarkCommand(const Keys& keys, const v1::MarkFeedItemsRequest& request, int64_t now_ms);
absl::StatusOr<v1::MarkFeedItemsResponse> ParseMarkReply(const redis::Reply& reply);

// HGETALL-style reply of a message hash -> FeedItem.
v1::FeedItem ItemFromFields(const std::vector<redis::Reply>& fields);

}  // namespace herald::feed
