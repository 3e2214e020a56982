// The fan-out role: consumes herald:{p}:batches segments, builds each
// recipient's template context (actor, recipient, data, activities,
// totals, tenant), evaluates channel-step conditions and preferences,
// renders and writes in-app feed items under deterministic message ids,
// queues email/sms/push/chat messages (rendered for their channel) for the
// delivery services, records every message that is not sent, and hands
// later wait steps back to the wait store.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "herald/v1/pipeline.pb.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "redis/stream_consumer.h"
#include "redis/stream_worker.h"
#include "preferences/preference_store.h"
#include "tenants/tenant_store.h"
#include "users/user_store.h"
#include "workflow/registry.h"

namespace herald::fanout {

struct FanoutOptions {
  int partitions = 4;
  std::string consumer_name = "fanout";
  int read_count = 128;
  int block_ms = 50;
  int64_t reclaim_idle_ms = 15000;
  int64_t reclaim_every_ms = 1000;
  int64_t run_ttl_seconds = 7 * 24 * 3600;
  int64_t user_cache_ttl_ms = 2000;
  // The environment's default preference set (least specific level).
  std::shared_ptr<const preferences::PreferenceSet> default_preferences;
};

// herald_messages_total{channel_type, status, reason}, every child built
// once at start.
class MessageCounters {
 public:
  enum Outcome {
    kSent,  // in-app: delivered to the feed; other channels: queued for delivery
    kUnknownRecipient,
    kPreference,
    kMissingChannelData,
    kTemplateError,
    kOutcomeCount
  };
  explicit MessageCounters(prometheus::Registry& registry);
  prometheus::Counter& operator()(const std::string& channel_type, Outcome outcome);

 private:
  static constexpr int kTypeCount = 5;
  std::array<std::array<prometheus::Counter*, kOutcomeCount>, kTypeCount> counters_{};
};

struct FanoutMetrics {
  explicit FanoutMetrics(prometheus::Registry& registry);
  prometheus::Counter& segments;
  MessageCounters messages;
  prometheus::Counter& duplicate;
  prometheus::Counter& critical_bypassed;
  prometheus::Counter& skipped_condition;
  prometheus::Counter& waits;
  prometheus::Counter& poison_entries;
  prometheus::Counter& reclaimed;
  prometheus::Counter& errors;
  prometheus::Histogram& trigger_to_feed_seconds;
};

// One segment's rendering for one recipient: the commands it needs.
// Not thread-safe: one per worker thread.
class SegmentProcessor final : public redis::StreamProcessor {
 public:
  SegmentProcessor(const workflow::Registry& workflows, const Clock& clock, const FanoutOptions& options,
                   FanoutMetrics& metrics);
  absl::Status Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                       const std::vector<redis::StreamEntry>& entries) override;

 private:
  const workflow::Registry& workflows_;
  const Clock& clock_;
  const FanoutOptions options_;
  FanoutMetrics& metrics_;
  users::UserCache users_;
  preferences::PreferenceCache preferences_;
  tenants::TenantCache tenants_;
};

// A worker thread running SegmentProcessor over its own connection.
class FanoutWorker {
 public:
  FanoutWorker(const redis::Endpoint& endpoint, const workflow::Registry& workflows, const Clock& clock,
               FanoutOptions options, FanoutMetrics& metrics);
  void Start() { worker_.Start(); }
  void Stop() { worker_.Stop(); }

 private:
  SegmentProcessor processor_;  // used only by worker_'s thread
  redis::StreamWorker worker_;
};

std::vector<std::string> SegmentStreams(int partitions);

// The message id of channel step `step` for a segment target.
std::string MessageId(const std::string& segment_id, int step, const std::string& channel);

}  // namespace herald::fanout
