// The fan-out role: consumes herald:{p}:batches, loads the users,
// preferences and tenants a read needs (one round trip, briefly cached) and,
// for workflows whose conditions read `refs`, the states of the earlier
// messages the runs carry (one pipelined round trip, see run_refs.h),
// lets PlanBatch (batch_plan.h) decide every recipient's messages, and
// writes them: in-app feed items (one insert per partition per read),
// email/sms/push/chat messages queued for the delivery services, records
// of messages not sent, and runs handed on to later wait steps. An entry
// is acknowledged only once all of its writes landed; message ids are
// deterministic, so a replayed entry writes nothing twice.
#pragma once

#include <array>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "fanout/batch_plan.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "core/invalidation_log.h"
#include "preferences/preference_store.h"
#include "redis/client.h"
#include "redis/stream_consumer.h"
#include "redis/stream_worker.h"
#include "runs/wait_store.h"
#include "tenants/tenant_store.h"
#include "users/user_store.h"
#include "workflow/registry.h"

namespace herald::fanout {

struct FanoutOptions : redis::ConsumerOptions {
  FanoutOptions() { read_count = 128; }
  int64_t run_ttl_seconds = runs::kDefaultRunTtlSeconds;
  int64_t user_cache_ttl_ms = 2000;
  // Entries each per-worker cache (users, preferences, tenants) keeps.
  size_t cache_capacity = 20'000;
  int64_t message_retention_ms = feed::kDefaultMessageRetentionMs;  // messages and their events expire
  // A user's feed keeps its newest items, this many.
  int feed_max_items = feed::kDefaultFeedMaxItems;
  // The partition's feed change stream keeps about this many entries.
  int64_t feed_changes_max_len = feed::kDefaultFeedChangesMaxLen;
  // The environment's default preference set (least specific level).
  std::shared_ptr<const preferences::PreferenceSet> default_preferences;
  // Preference sets changed in Redis (preferences/change_listener.h): each
  // worker's cache drops them before its next read. nullptr: the cache's
  // TTL alone bounds how long a change takes.
  const InvalidationLog* preference_changes = nullptr;
};

// herald_messages_total{channel_type, status, reason}, every child built
// once at start.
class MessageCounters {
 public:
  explicit MessageCounters(prometheus::Registry& registry);
  // In-app: delivered to the feed; other channels: queued for delivery.
  prometheus::Counter& Sent(const std::string& channel_type);
  // REQUIRES: reason is not kUnknownWorkflow (such records have no channel).
  prometheus::Counter& NotSent(const std::string& channel_type, NotSentReason reason);

 private:
  static constexpr size_t kTypeCount = std::size(workflow::kChannelTypes);
  static constexpr int kReasonCount = 4;
  size_t TypeIndex(const std::string& channel_type) const;
  std::array<prometheus::Counter*, kTypeCount> sent_{};
  std::array<std::array<prometheus::Counter*, kReasonCount>, kTypeCount> not_sent_{};
};

struct FanoutMetrics {
  explicit FanoutMetrics(prometheus::Registry& registry);
  prometheus::Counter& batches;
  MessageCounters messages;
  prometheus::Counter& duplicate;
  prometheus::Counter& critical_bypassed;
  prometheus::Counter& skipped_condition;
  prometheus::Counter& waits;
  // Runs that passed a throttle step / were stopped by one (runs/throttle.h).
  prometheus::Counter& throttle_passed;
  prometheus::Counter& throttled;
  prometheus::Counter& poison_entries;
  prometheus::Counter& reclaimed;
  prometheus::Counter& errors;
  prometheus::Histogram& trigger_to_feed_seconds;
};

// Fans out the entries of herald:{p}:batches. Not thread-safe: one per
// worker thread.
class BatchProcessor final : public redis::StreamProcessor {
 public:
  BatchProcessor(const workflow::Registry& workflows, const Clock& clock, const FanoutOptions& options,
                 FanoutMetrics& metrics);
  absl::Status Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                       const std::vector<redis::StreamEntry>& entries) override;

 private:
  // Moves the read's written feed items, cleared, to spare_feed_items_.
  void RecycleFeedItems(std::map<int, std::vector<feed::NewItem>>& items_by_partition);

  const workflow::Registry& workflows_;
  const Clock& clock_;
  const FanoutOptions options_;
  FanoutMetrics& metrics_;
  users::UserCache users_;
  preferences::PreferenceCache preferences_;
  tenants::TenantCache tenants_;
  // The last read's feed items, cleared, for the next read's plans to fill
  // (PlanContext::spare_feed_items); small ones only, and a bounded number.
  std::vector<feed::NewItem> spare_feed_items_;
};

// A worker thread running BatchProcessor over its own connection.
class FanoutWorker {
 public:
  FanoutWorker(const redis::Endpoint& endpoint, const workflow::Registry& workflows, const Clock& clock,
               FanoutOptions options, FanoutMetrics& metrics);
  void Start() { worker_.Start(); }
  void Stop() { worker_.Stop(); }

 private:
  BatchProcessor processor_;  // used only by worker_'s thread
  redis::StreamWorker worker_;
};

}  // namespace herald::fanout
