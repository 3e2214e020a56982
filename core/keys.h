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
  // Prefix under which scripts build per-item keys ("herald:{p}:").
  const std::string& Prefix() const { return prefix_; }

  std::string User(absl::string_view user_id) const;
  // HASH of a user's preference sets: "default", "tenant:<id>" -> JSON.
  std::string Preferences(absl::string_view user_id) const;
  // STRING: a tenant's default preference set (partition of the tenant id).
  std::string TenantPreferences(absl::string_view tenant) const;
  std::string Idempotency(absl::string_view workflow, absl::string_view key) const;
  std::string Message(absl::string_view message_id) const;
  std::string FeedPrefix(absl::string_view user_id) const;
  std::string Run(absl::string_view run_id) const;
  std::string CancelIndex(absl::string_view workflow, absl::string_view cancellation_key,
                          absl::string_view recipient) const;

 private:
  int partition_;
  std::string prefix_;
  std::string events_;
  std::string segments_;
  std::string due_;
};

inline constexpr absl::string_view kBatcherGroup = "batcher";
inline constexpr absl::string_view kFanoutGroup = "fanout";

}  // namespace herald
