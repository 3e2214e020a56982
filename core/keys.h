// Redis key layout. Every key of partition p carries the hash tag {p}, so any
// Lua script that touches one partition stays in one Redis Cluster slot.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

namespace herald {

class Keys {
 public:
  explicit Keys(int partition);

  int partition() const { return partition_; }
  // Stream of triggered events (consumer group "batcher").
  const std::string& Events() const { return events_; }
  // Stream of segments ready to fan out (consumer group "fanout").
  const std::string& Segments() const { return segments_; }
  // ZSET: wait key -> due time in ms (batches and delays).
  const std::string& Due() const { return due_; }
  // Stream of object fan-out pages (consumer group "expander").
  const std::string& Expansions() const { return expansions_; }
  // Stream of rendered email/sms/push/chat messages for the delivery
  // services (status queued until they report).
  const std::string& Deliveries() const { return deliveries_; }
  // Prefix under which scripts build per-item keys ("herald:{p}:").
  const std::string& Prefix() const { return prefix_; }

  std::string User(absl::string_view user_id) const;
  // HASH of a user's preference sets: "default", "tenant:<id>" -> JSON.
  std::string Preferences(absl::string_view user_id) const;
  // STRING: a tenant's default preference set (partition of the tenant id).
  std::string TenantPreferences(absl::string_view tenant) const;
  // HASH: channel name -> channel data JSON.
  std::string ChannelData(absl::string_view user_id) const;
  // SET of object refs ("collection/id") the user subscribes to.
  std::string UserSubscriptions(absl::string_view user_id) const;
  // SET of the user's message ids that are not in the feed (not_sent,
  // undelivered, queued email/sms/push/chat), so deleting a user finds them.
  std::string UserRecords(absl::string_view user_id) const;
  // Objects live in the partition of their ref "collection/id".
  std::string Object(absl::string_view ref) const;
  // ZSET (all scores 0, paged by lex order) of subscribed user ids.
  std::string Subscribers(absl::string_view ref) const;
  std::string Tenant(absl::string_view tenant) const;
  // HASH: progress of one object fan-out (partition of the object).
  std::string Fanout(absl::string_view fanout_id) const;
  std::string Idempotency(absl::string_view workflow, absl::string_view key) const;
  std::string Message(absl::string_view message_id) const;
  std::string FeedPrefix(absl::string_view user_id) const;
  // The same sets for the user's items of one tenant.
  std::string TenantFeedPrefix(absl::string_view tenant, absl::string_view user_id) const;
  std::string Run(absl::string_view run_id) const;
  std::string CancelIndex(absl::string_view workflow, absl::string_view cancellation_key,
                          absl::string_view recipient) const;

 private:
  int partition_;
  std::string prefix_;
  std::string events_;
  std::string segments_;
  std::string due_;
  std::string expansions_;
  std::string deliveries_;
};

inline constexpr absl::string_view kBatcherGroup = "batcher";
inline constexpr absl::string_view kFanoutGroup = "fanout";
inline constexpr absl::string_view kExpanderGroup = "expander";

}  // namespace herald
