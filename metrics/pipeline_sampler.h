// The pipeline sampler: what dashboards and alerts need that no stage
// counts by itself, read from Redis every few seconds by one thread in each
// process that runs a worker role (batcher, fanout or dispatcher):
//   herald_stream_length{stream,lane,partition}
//   herald_stream_pending{stream,group,lane,partition}  delivered, not acked
//   herald_stream_lag{stream,group,lane,partition}      not delivered yet
//   herald_stream_consumers{stream,group,lane,partition}  consumers that
//                                    took entries lately (0 on a quiet stream too)
//   herald_open_batches{partition}                   waits on the flush timer
//   herald_dead_letters{channel}                     (dispatcher processes)
// `lane` is "bulk" for herald:{p}:events:bulk and herald:{p}:batches:bulk
// (core/keys.h Lane), "normal" for every other stream: summed by (stream,
// group) the figure is the stage's whole backlog, by lane it tells a noisy
// tenant's backlog from everyone else's.
// Every worker process reports the same partitions, so queries take the max
// per partition and lane before summing (deploy/prometheus/herald-rules.yml
// does). Labels are stream, group, lane, partition and channel names:
// bounded by the configuration, never by users, tenants or workflow runs.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/clock.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "redis/periodic_task.h"
#include "services/delivery/config.h"

namespace herald::metrics {

// The streams of a partition that are sampled, in label order (the bulk
// lanes last).
enum class SampledStream {
  kEvents = 0,
  kExpansions,
  kBatches,
  kDeliveries,
  kEventOutbox,
  kMessageLog,
  kEventsBulk,
  kBatchesBulk
};
inline constexpr size_t kSampledStreams = 8;
// The `stream` label: "events", "expansions", "batches", "deliveries",
// "event_outbox", "message_log" (as herald_stream_trimmed_entries_total's);
// a bulk lane has its stream's.
absl::string_view StreamLabel(SampledStream stream);
// The `lane` label: "bulk" for the bulk lanes, "normal" otherwise.
absl::string_view LaneLabel(SampledStream stream);
// The consumer group Herald reads the stream with ("" for the message log,
// which nothing consumes); only this group's figures are exported.
absl::string_view GroupOf(SampledStream stream);

struct GroupStats {
  std::string group;
  int64_t active_consumers = 0;
  int64_t pending = 0;
  int64_t lag = 0;
};
struct StreamStats {
  int64_t length = 0;
  std::vector<GroupStats> groups;  // every group of the stream
};
struct PartitionStats {
  std::array<StreamStats, kSampledStreams> streams;
  int64_t open_waits = 0;  // open batches and pending delays
};
// Dead letters whose records name this channel and type ("" and "" when
// the record is gone or was not read).
struct DeadLetterCount {
  std::string channel;
  std::string channel_type;
  int64_t count = 0;
};
struct PipelineSample {
  std::vector<PartitionStats> partitions;
  std::vector<DeadLetterCount> dead_letters;  // summed over partitions
};

struct SampleOptions {
  int partitions = 4;
  // A consumer that read within this window counts as active.
  int64_t active_consumer_ms = 60'000;
  // When Redis cannot tell a group's lag, at most this many entries are counted.
  int lag_count_limit = 1000;
  // Dead letters by channel: false leaves them out (processes without the
  // dispatcher role, which lack the delivery configuration to label them).
  bool dead_letters = false;
  // Records read per partition to attribute dead letters to channels.
  int dead_letter_records_limit = 1000;
};

// Reads one sample of every partition in one round trip. UNAVAILABLE /
// DEADLINE_EXCEEDED from the transport, INTERNAL on a surprising reply.
absl::StatusOr<PipelineSample> SampleOnce(redis::RedisClient& client, const SampleOptions& options);

// The gauges a sample sets, built once per process. Record() is called by
// one thread (the sampler's); scrapes read the gauges concurrently.
class PipelineMetrics {
 public:
  // `delivery`: the delivery configuration that labels dead letters the way
  // the dispatcher labels deliveries (config.Find; "other" when no channel
  // matches, "unknown" when the record is gone); nullptr: no dead-letter
  // gauge (a process without the dispatcher role).
  PipelineMetrics(prometheus::Registry& registry, int partitions,
                  std::shared_ptr<const delivery::DeliveryConfig> delivery);
  PipelineMetrics(const PipelineMetrics&) = delete;
  PipelineMetrics& operator=(const PipelineMetrics&) = delete;

  // Sets every gauge from `sample`; groups that disappeared lose their series.
  void Record(const PipelineSample& sample);

  prometheus::Counter& errors;

 private:
  struct GroupGauges {
    prometheus::Gauge* pending = nullptr;
    prometheus::Gauge* lag = nullptr;
    prometheus::Gauge* consumers = nullptr;
  };
  GroupGauges& Group(size_t stream, int partition);

  const int partitions_;
  const std::shared_ptr<const delivery::DeliveryConfig> delivery_;
  prometheus::Family<prometheus::Gauge>& length_;
  prometheus::Family<prometheus::Gauge>& pending_;
  prometheus::Family<prometheus::Gauge>& lag_;
  prometheus::Family<prometheus::Gauge>& consumers_;
  prometheus::Family<prometheus::Gauge>& open_batches_;
  prometheus::Family<prometheus::Gauge>* dead_letters_ = nullptr;
  // By partition, then stream.
  std::vector<std::array<prometheus::Gauge*, kSampledStreams>> lengths_;
  std::vector<prometheus::Gauge*> open_;
  // (stream, partition) -> the gauges of the stream's group while it exists.
  std::map<std::tuple<size_t, int>, GroupGauges> groups_;
  // Channel label -> gauge.
  std::map<std::string, prometheus::Gauge*> dead_;
};

struct PipelineSamplerOptions : SampleOptions {
  // Time between samples, on the injected clock.
  int64_t interval_ms = 5'000;
  // How often (real time) the thread looks at the clock and at Stop().
  int64_t poll_ms = 100;
};

// Runs SampleOnce every interval_ms on its own thread and connection and
// records it. Start/Stop from one owning thread.
class PipelineSampler {
 public:
  // `clock` and `metrics` must outlive the sampler.
  PipelineSampler(const redis::Endpoint& endpoint, const Clock& clock, PipelineSamplerOptions options,
                  PipelineMetrics& metrics);

  // The first sample is taken at once, then every interval_ms.
  void Start();
  // Returns within about poll_ms plus the sample in progress.
  void Stop();

 private:
  redis::PeriodicTask task_;
};

}  // namespace herald::metrics
