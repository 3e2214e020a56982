// A consumer-group worker thread: connects (and reconnects), creates the
// groups, alternates between reclaiming stalled entries (XAUTOCLAIM) and
// reading new ones, and hands each read to a processing function. The
// batcher and the fan-out are both one of these with their own processing.
// With lanes (bulk_streams), a read's normal-lane entries are processed
// first, on their own, then its bulk entries, whose share of a read is
// sized by time (redis/bulk_read_budget.h).
#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "core/clock.h"
#include "redis/client.h"
#include "redis/stream_consumer.h"

namespace herald::redis {

// What every stage's consumers share: the partitions they read, their name
// in the consumer group, how much one read takes, and when they take over
// the entries a stalled consumer left pending. A stage's options extend it.
struct ConsumerOptions {
  int partitions = 4;
  std::string consumer_name;
  int read_count = 256;
  int block_ms = 50;
  // Entries pending this long on another consumer are taken over.
  int64_t reclaim_idle_ms = 15000;
  int64_t reclaim_every_ms = 1000;
  // Stages with lanes (StreamWorkerOptions::bulk_streams): how long one
  // read's processing may take while the normal lane is in use (the bulk
  // entries a read takes adapt to it), how long once the normal lane gave
  // nothing for bulk_idle_after_ms (redis/bulk_read_budget.h).
  int64_t bulk_cycle_us = 2'000;
  int64_t bulk_idle_cycle_us = 50'000;
  int64_t bulk_idle_after_ms = 500;
  // While the normal lane is in use, the share of the worker's time bulk
  // entries take; the rest it reads the normal lane alone.
  double bulk_busy_share = 0.5;
};

struct StreamWorkerOptions {
  std::vector<std::string> streams;
  std::string group;
  std::string payload_field;
  std::string log_name;  // the component of its log lines (core/log.h), e.g. "batcher"
  ConsumerOptions consumer;
  // Where an entry carries several records instead (StreamEntry::batch);
  // "" = none.
  std::string batch_field = "";
  // The bulk lane's streams (core/keys.h Lane), read by the same group in
  // every read beside `streams`; empty for a stage without lanes.
  std::vector<std::string> bulk_streams = {};
};

// What a worker does with each read; the batcher and the fan-out implement it.
class StreamProcessor {
 public:
  virtual ~StreamProcessor() = default;
  // Processes one read and acks what it finished (see StreamConsumer::Ack).
  virtual absl::Status Process(RedisClient& client, StreamConsumer& consumer,
                               const std::vector<StreamEntry>& entries) = 0;
};

class StreamWorker {
 public:
  struct Hooks {
    std::function<void()> on_error = [] {};
    std::function<void(size_t)> on_reclaimed = [](size_t) {};
  };

  // Hooks that count into two counters (anything with Increment(double)).
  template <typename Counter>
  static Hooks Counting(Counter& errors, Counter& reclaimed) {
    return Hooks{[&errors] { errors.Increment(1); },
                 [&reclaimed](size_t n) { reclaimed.Increment(static_cast<double>(n)); }};
  }

  // `processor` must outlive the worker and is used only by its thread.
  StreamWorker(const Endpoint& endpoint, StreamWorkerOptions options, const Clock& clock,
               StreamProcessor& processor, Hooks hooks);
  ~StreamWorker();
  StreamWorker(const StreamWorker&) = delete;
  StreamWorker& operator=(const StreamWorker&) = delete;

  void Start();
  // Returns once the current read is processed (reads block at most block_ms).
  void Stop();

 private:
  void Run();
  void Fail(const absl::Status& status, const char* what);
  // One call of the processor; a failure is counted and logged (the
  // entries stay pending and are retried).
  void Process(RedisClient& client, StreamConsumer& consumer, const std::vector<StreamEntry>& entries);

  const Endpoint endpoint_;
  const StreamWorkerOptions options_;
  const Clock& clock_;
  StreamProcessor& processor_;
  const Hooks hooks_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace herald::redis
