// The batcher role: consumes herald:{p}:events (both lanes: core/keys.h
// Lane), expands each event's recipients, walks each run to its first wait
// (appending to a batch or delay) or channel step (emitting a batch entry
// for the fan-out), and a flusher that claims due waits into
// herald:{p}:batches. A run stays in its trigger's lane: its batch entry,
// and the entry its wait flushes into, go to that lane's batches stream.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "redis/stream_consumer.h"
#include "redis/periodic_task.h"
#include "redis/stream_worker.h"
#include "users/user_store.h"
#include "runs/wait_store.h"
#include "workflow/registry.h"

namespace herald::batcher {

struct BatcherOptions : redis::ConsumerOptions {
  int64_t run_ttl_seconds = runs::kDefaultRunTtlSeconds;
  // Flusher tick and how many waits one claim call takes per partition.
  int flush_tick_ms = 5;
  int claim_limit = 256;
};

// Counters built once per process (prometheus-cpp: never Add() per request).
struct BatcherMetrics {
  explicit BatcherMetrics(prometheus::Registry& registry);
  prometheus::Counter& events;
  prometheus::Counter& runs_direct;
  prometheus::Counter& runs_waiting;
  prometheus::Counter& runs_duplicate;
  prometheus::Counter& runs_cancelled;
  prometheus::Counter& leading_sent;
  prometheus::Counter& unknown_workflow;
  prometheus::Counter& poison_entries;
  prometheus::Counter& reclaimed;
  prometheus::Counter& errors;
  prometheus::Counter& waits_claimed;
  prometheus::Counter& batches_flushed;
  // Activities in each flushed batch (delays, one activity each, are not
  // observed).
  prometheus::Histogram& batch_activities;
  // Claim time minus due time of each flushed batch or delay: how late the
  // flusher is (its tick, a backlog, a slow Redis).
  prometheus::Histogram& flush_lateness_seconds;
};

// Turns a batch of event entries into Redis work and acks what succeeded.
// Not thread-safe: one per worker thread.
class EventProcessor final : public redis::StreamProcessor {
 public:
  EventProcessor(const workflow::Registry& workflows, const Clock& clock, const BatcherOptions& options,
                 BatcherMetrics& metrics);
  // Processes `entries` read from `consumer`'s streams (stream i =
  // partition i) and acks every entry whose effects all landed.
  absl::Status Process(redis::RedisClient& client, redis::StreamConsumer& consumer,
                       const std::vector<redis::StreamEntry>& entries) override;

 private:
  const workflow::Registry& workflows_;
  const Clock& clock_;
  const BatcherOptions options_;
  BatcherMetrics& metrics_;
  users::UserCache users_;
};

// A worker thread running EventProcessor over its own connection.
class BatcherWorker {
 public:
  BatcherWorker(const redis::Endpoint& endpoint, const workflow::Registry& workflows, const Clock& clock,
                BatcherOptions options, BatcherMetrics& metrics);
  void Start() { worker_.Start(); }
  void Stop() { worker_.Stop(); }

 private:
  EventProcessor processor_;  // used only by worker_'s thread
  redis::StreamWorker worker_;
};

// Hears about every claim reply of the flusher (one partition's): what it
// flushed, and the clock reading once the reply was back (an upper bound of
// the flush time; bench/open_batches measures lateness from it). Called on
// the flusher's thread; must not block.
using ClaimListener = std::function<void(const runs::ClaimResult& result, int64_t replied_at_ms)>;

// Claims due waits on every partition until none is due, then waits a tick.
class Flusher {
 public:
  Flusher(const redis::Endpoint& endpoint, const Clock& clock, BatcherOptions options, BatcherMetrics& metrics,
          ClaimListener listener = nullptr);
  void Start();
  void Stop();
  // One pass over every partition; returns how many waits were claimed.
  // `on_reply` (optional) gets each partition's parsed claim reply as it
  // comes back; the flushed runs' records live `run_ttl_seconds`.
  static absl::StatusOr<int64_t> ClaimDue(redis::RedisClient& client, int partitions, int64_t now_ms, int limit,
                                          BatcherMetrics* metrics,
                                          const std::function<void(const runs::ClaimResult&)>& on_reply = nullptr,
                                          int64_t run_ttl_seconds = runs::kDefaultRunTtlSeconds);

 private:
  redis::PeriodicTask task_;
};

}  // namespace herald::batcher
