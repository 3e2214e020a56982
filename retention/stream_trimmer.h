// Stream retention: a thread that trims every partition's stage streams once
// each consumer group has consumed their entries (never before), and the
// message log by age, so Redis memory reaches a plateau under steady load.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "redis/periodic_task.h"

namespace herald::retention {

// Entries of the message log older than this are useless (the messages they
// index have expired).
inline constexpr int64_t kDefaultMessageRetentionMs = int64_t{30} * 24 * 3600 * 1000;

// The streams of a partition the trimmer looks after, in label order (the
// bulk lanes of events and batches count with their streams).
enum class StreamKind { kEvents = 0, kBatches, kExpansions, kDeliveries, kMessageLog };
inline constexpr size_t kStreamKinds = 5;
// The `stream` label value: "events", "batches", ... "message_log".
absl::string_view StreamLabel(StreamKind kind);

struct StreamTrimmerOptions {
  int partitions = 4;
  // Time between passes, on the injected clock.
  int64_t interval_ms = 10'000;
  int64_t message_retention_ms = kDefaultMessageRetentionMs;
  // How often (real time) the thread looks at the clock and at Stop(): the
  // bound on how late a pass starts and how long Stop() takes.
  int64_t poll_ms = 100;
};

// What one pass did to one kind of stream, summed over partitions.
struct StreamTrimStats {
  int64_t trimmed = 0;  // entries removed
  int64_t length = 0;   // entries left
};
using TrimPassStats = std::array<StreamTrimStats, kStreamKinds>;

// Built once per process; thread-safe (prometheus-cpp metrics are). Stream
// lengths are sampled per partition by metrics/pipeline_sampler.h.
struct RetentionMetrics {
  explicit RetentionMetrics(prometheus::Registry& registry);
  // herald_stream_trimmed_entries_total{stream}, by StreamKind.
  std::array<prometheus::Counter*, kStreamKinds> trimmed;
  prometheus::Counter& errors;
};

// Trims one stage stream up to the oldest entry some consumer group has not
// read or not acknowledged (one script on one key, see trim_consumed.lua);
// a stream without any group is left whole. Returns the entries removed and
// left; UNAVAILABLE / DEADLINE_EXCEEDED from the transport, INTERNAL on a
// surprising reply.
absl::StatusOr<StreamTrimStats> TrimConsumed(redis::RedisClient& client, const std::string& stream);

// Trims the entries of a time-indexed stream (the message log) whose id time
// is before `min_ms` (XTRIM MINID, one key). Errors as TrimConsumed.
absl::StatusOr<StreamTrimStats> TrimOlderThan(redis::RedisClient& client, const std::string& stream, int64_t min_ms);

// One pass over every partition in one round trip: stage streams by
// consumption, message logs older than now_ms - message_retention_ms.
// Adds to `metrics` when given. Errors as TrimConsumed (the first failure).
absl::StatusOr<TrimPassStats> TrimOnce(redis::RedisClient& client, int partitions, int64_t now_ms,
                                       int64_t message_retention_ms, RetentionMetrics* metrics);

// Runs TrimOnce every interval_ms of the injected clock on its own thread
// and connection. Trimming is idempotent, so every process running a worker
// role may run one. Start/Stop from one owning thread.
// Feed retention for feeds that get no new items: one SCAN step per
// partition (resumed from `cursors`, one per partition) and a sweep of each
// feed found (feed::SweepCommand). A whole keyspace is covered over several
// passes. Returns the items removed.
absl::StatusOr<int64_t> SweepFeeds(redis::RedisClient& client, int partitions, int64_t cutoff_us,
                                   std::vector<std::string>& cursors);

class StreamTrimmer {
 public:
  // `clock` and `metrics` must outlive the trimmer.
  StreamTrimmer(const redis::Endpoint& endpoint, const Clock& clock, StreamTrimmerOptions options,
                RetentionMetrics& metrics);

  // The first pass runs at once, then every interval_ms.
  void Start();
  // Returns within about poll_ms plus the pass in progress.
  void Stop();

 private:
  redis::PeriodicTask task_;
};

}  // namespace herald::retention
