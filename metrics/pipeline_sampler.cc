#include "metrics/pipeline_sampler.h"

#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "metrics/dead_letter_channels.lua.h"
#include "metrics/stream_stats.lua.h"
#include "redis/reply.h"
#include "redis/script.h"

namespace herald::metrics {
namespace {

const redis::Script kStreamStats(lua::kMetricsStreamStats);
const redis::Script kDeadLetterChannels(lua::kMetricsDeadLetterChannels);

// The streams of a partition, in SampledStream order.
constexpr std::array<const std::string& (Keys::*)() const, kSampledStreams> kStreams = {
    &Keys::Events,     &Keys::Expansions, &Keys::Batches,    &Keys::Deliveries,
    &Keys::EventOutbox, &Keys::MessageLog, &Keys::EventsBulk, &Keys::BatchesBulk};

// Channel labels of dead letters that no configured channel takes, and of
// those whose record is gone (or beyond the records read).
constexpr char kOtherChannel[] = "other";
constexpr char kUnknownChannel[] = "unknown";

absl::Status Unexpected(absl::string_view what) {
  return absl::InternalError(absl::StrCat("pipeline sample: unexpected ", what, " reply"));
}

absl::StatusOr<StreamStats> ParseStreamStats(const redis::Reply& reply) {
  if (reply.type != redis::Reply::Type::kArray || reply.elements.empty()) return Unexpected("stream_stats.lua");
  StreamStats stats;
  stats.length = reply.elements[0].integer;
  for (size_t i = 1; i < reply.elements.size(); ++i) {
    const redis::Reply& group = reply.elements[i];
    if (group.elements.size() != 4) return Unexpected("stream_stats.lua group");
    stats.groups.push_back(
        {group.elements[0].str, group.elements[1].integer, group.elements[2].integer, group.elements[3].integer});
  }
  return stats;
}

absl::Status AddDeadLetters(const redis::Reply& reply, std::map<std::pair<std::string, std::string>, int64_t>* out) {
  if (reply.type != redis::Reply::Type::kArray || reply.elements.empty() || (reply.elements.size() - 1) % 3 != 0) {
    return Unexpected("dead_letter_channels.lua");
  }
  for (size_t i = 1; i < reply.elements.size(); i += 3) {
    (*out)[{reply.elements[i].str, reply.elements[i + 1].str}] += reply.elements[i + 2].integer;
  }
  return absl::OkStatus();
}

}  // namespace

absl::string_view StreamLabel(SampledStream stream) {
  switch (stream) {
    case SampledStream::kEvents:
    case SampledStream::kEventsBulk:
      return "events";
    case SampledStream::kExpansions:
      return "expansions";
    case SampledStream::kBatches:
    case SampledStream::kBatchesBulk:
      return "batches";
    case SampledStream::kDeliveries:
      return "deliveries";
    case SampledStream::kEventOutbox:
      return "event_outbox";
    case SampledStream::kMessageLog:
      return "message_log";
  }
  return "unknown";
}

absl::string_view LaneLabel(SampledStream stream) {
  const bool bulk = stream == SampledStream::kEventsBulk || stream == SampledStream::kBatchesBulk;
  return LaneName(bulk ? Lane::kBulk : Lane::kNormal);
}

absl::string_view GroupOf(SampledStream stream) {
  switch (stream) {
    case SampledStream::kEvents:
    case SampledStream::kEventsBulk:
      return kBatcherGroup;
    case SampledStream::kExpansions:
      return kExpanderGroup;
    case SampledStream::kBatches:
    case SampledStream::kBatchesBulk:
      return kFanoutGroup;
    case SampledStream::kDeliveries:
      return kDeliveryGroup;
    case SampledStream::kEventOutbox:
      return kEventWebhookGroup;
    case SampledStream::kMessageLog:
      return "";
  }
  return "";
}

absl::StatusOr<PipelineSample> SampleOnce(redis::RedisClient& client, const SampleOptions& options) {
  // Per partition: one script per stream, the flush timer's size, and the
  // dead letters when asked. Each command touches one partition's keys.
  const size_t per_partition = kSampledStreams + 1 + (options.dead_letters ? 1 : 0);
  std::vector<redis::Command> commands;
  commands.reserve(per_partition * static_cast<size_t>(options.partitions));
  for (int p = 0; p < options.partitions; ++p) {
    Keys keys(p);
    for (auto stream : kStreams) {
      commands.push_back(kStreamStats.Call(
          {(keys.*stream)()}, {std::to_string(options.active_consumer_ms), std::to_string(options.lag_count_limit)}));
    }
    commands.push_back({"ZCARD", keys.Due()});
    if (options.dead_letters) {
      commands.push_back(kDeadLetterChannels.Call({keys.DeadLetters()},
                                                  {std::to_string(options.dead_letter_records_limit)}));
    }
  }
  auto replies = client.Pipeline(commands);
  PipelineSample sample;
  sample.partitions.resize(static_cast<size_t>(options.partitions));
  std::map<std::pair<std::string, std::string>, int64_t> dead_letters;
  for (size_t p = 0; p < sample.partitions.size(); ++p) {
    const size_t base = p * per_partition;
    for (size_t s = 0; s < kSampledStreams; ++s) {
      if (!replies[base + s].ok()) return replies[base + s].status();
      auto stats = ParseStreamStats(*replies[base + s]);
      if (!stats.ok()) return stats.status();
      sample.partitions[p].streams[s] = std::move(*stats);
    }
    auto open = replies[base + kSampledStreams];
    if (!open.ok()) return open.status();
    auto open_waits = redis::AsInteger(*open);
    if (!open_waits.ok()) return open_waits.status();
    sample.partitions[p].open_waits = *open_waits;
    if (options.dead_letters) {
      const auto& reply = replies[base + kSampledStreams + 1];
      if (!reply.ok()) return reply.status();
      absl::Status added = AddDeadLetters(*reply, &dead_letters);
      if (!added.ok()) return added;
    }
  }
  for (auto& [channel, count] : dead_letters) sample.dead_letters.push_back({channel.first, channel.second, count});
  return sample;
}

PipelineMetrics::PipelineMetrics(prometheus::Registry& registry, int partitions,
                                 std::shared_ptr<const delivery::DeliveryConfig> delivery)
    : errors(prometheus::BuildCounter()
                 .Name("herald_pipeline_sample_errors_total")
                 .Help("Pipeline samples (stream, batch and dead-letter gauges) that failed; retried next interval")
                 .Register(registry)
                 .Add({})),
      partitions_(partitions),
      delivery_(std::move(delivery)),
      length_(prometheus::BuildGauge()
                  .Name("herald_stream_length")
                  .Help("Entries in the stream of the partition (sampled)")
                  .Register(registry)),
      pending_(prometheus::BuildGauge()
                   .Name("herald_stream_pending")
                   .Help("Entries delivered to the consumer group and not acknowledged yet (sampled)")
                   .Register(registry)),
      lag_(prometheus::BuildGauge()
               .Name("herald_stream_lag")
               .Help("Entries of the stream not delivered to the consumer group yet (sampled)")
               .Register(registry)),
      consumers_(prometheus::BuildGauge()
                     .Name("herald_stream_consumers")
                     .Help("Consumers of the group that took entries within the last minute (sampled; 0 on a "
                           "quiet stream too)")
                     .Register(registry)),
      open_batches_(prometheus::BuildGauge()
                        .Name("herald_open_batches")
                        .Help("Waits on the flush timer of the partition: open batches and pending delays (sampled)")
                        .Register(registry)) {
  for (int p = 0; p < partitions_; ++p) {
    const std::string partition = std::to_string(p);
    auto& lengths = lengths_.emplace_back();
    for (size_t s = 0; s < kSampledStreams; ++s) {
      const auto stream = static_cast<SampledStream>(s);
      lengths[s] = &length_.Add({{"stream", std::string(StreamLabel(stream))},
                                 {"lane", std::string(LaneLabel(stream))},
                                 {"partition", partition}});
    }
    open_.push_back(&open_batches_.Add({{"partition", partition}}));
  }
  if (delivery_ != nullptr) {
    dead_letters_ = &prometheus::BuildGauge()
                         .Name("herald_dead_letters")
                         .Help("Dead letters currently stored, by channel (sampled; replay or purge them)")
                         .Register(registry);
    for (const auto& [name, channel] : delivery_->channels) dead_[name] = &dead_letters_->Add({{"channel", name}});
    dead_[kOtherChannel] = &dead_letters_->Add({{"channel", kOtherChannel}});
    dead_[kUnknownChannel] = &dead_letters_->Add({{"channel", kUnknownChannel}});
  }
}

PipelineMetrics::GroupGauges& PipelineMetrics::Group(size_t stream, int partition) {
  GroupGauges& gauges = groups_[{stream, partition}];
  if (gauges.pending == nullptr) {
    const auto sampled = static_cast<SampledStream>(stream);
    const std::map<std::string, std::string> labels = {{"stream", std::string(StreamLabel(sampled))},
                                                       {"group", std::string(GroupOf(sampled))},
                                                       {"lane", std::string(LaneLabel(sampled))},
                                                       {"partition", std::to_string(partition)}};
    gauges = {&pending_.Add(labels), &lag_.Add(labels), &consumers_.Add(labels)};
  }
  return gauges;
}

void PipelineMetrics::Record(const PipelineSample& sample) {
  std::set<std::tuple<size_t, int>> seen;
  for (int p = 0; p < partitions_ && p < static_cast<int>(sample.partitions.size()); ++p) {
    const PartitionStats& partition = sample.partitions[static_cast<size_t>(p)];
    open_[static_cast<size_t>(p)]->Set(static_cast<double>(partition.open_waits));
    for (size_t s = 0; s < kSampledStreams; ++s) {
      const StreamStats& stream = partition.streams[s];
      lengths_[static_cast<size_t>(p)][s]->Set(static_cast<double>(stream.length));
      for (const GroupStats& group : stream.groups) {
        // Only the stage's own group: other groups are someone else's.
        if (group.group != GroupOf(static_cast<SampledStream>(s))) continue;
        GroupGauges& gauges = Group(s, p);
        gauges.pending->Set(static_cast<double>(group.pending));
        gauges.lag->Set(static_cast<double>(group.lag));
        gauges.consumers->Set(static_cast<double>(group.active_consumers));
        seen.insert({s, p});
      }
    }
  }
  // A group that is gone (its stream deleted) must not keep reporting
  // stale figures, nor zero consumers for a stage that no longer exists.
  for (auto it = groups_.begin(); it != groups_.end();) {
    if (seen.count(it->first) != 0) {
      ++it;
      continue;
    }
    pending_.Remove(it->second.pending);
    lag_.Remove(it->second.lag);
    consumers_.Remove(it->second.consumers);
    it = groups_.erase(it);
  }
  if (dead_letters_ != nullptr) {
    std::map<std::string, int64_t> by_label;
    for (const DeadLetterCount& count : sample.dead_letters) {
      std::string label = kUnknownChannel;
      if (!count.channel.empty() || !count.channel_type.empty()) {
        const delivery::ChannelConfig* channel = delivery_->Find(count.channel, count.channel_type);
        label = channel != nullptr && dead_.count(channel->name) != 0 ? channel->name : kOtherChannel;
      }
      by_label[label] += count.count;
    }
    for (auto& [label, gauge] : dead_) gauge->Set(static_cast<double>(by_label[label]));
  }
}

PipelineSampler::PipelineSampler(const redis::Endpoint& endpoint, const Clock& clock, PipelineSamplerOptions options,
                                 PipelineMetrics& metrics)
    : task_(endpoint, "herald pipeline sampler", static_cast<int>(options.poll_ms),
            [&clock, options, &metrics, next_sample_ms = int64_t{0}](redis::RedisClient& client) mutable
            -> absl::StatusOr<bool> {
              const int64_t now = clock.NowMillis();
              if (now < next_sample_ms) return false;
              // A failed sample is taken again at the next interval.
              next_sample_ms = now + options.interval_ms;
              auto sample = SampleOnce(client, options);
              if (!sample.ok()) return sample.status();
              metrics.Record(*sample);
              return false;
            },
            [&metrics] { metrics.errors.Increment(); }) {}

void PipelineSampler::Start() { task_.Start(); }

void PipelineSampler::Stop() { task_.Stop(); }

}  // namespace herald::metrics
