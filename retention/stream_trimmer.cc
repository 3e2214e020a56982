#include "retention/stream_trimmer.h"

#include <algorithm>
#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "redis/reply.h"
#include "redis/script.h"
#include "retention/trim_consumed.lua.h"

namespace herald::retention {
namespace {

const redis::Script kTrimConsumed(lua::kRetentionTrimConsumed);

// The stage streams, trimmed by consumption, and the kind each counts as
// (a bulk lane counts with its stream: core/keys.h Lane).
struct StageStream {
  const std::string& (Keys::*stream)() const;
  StreamKind kind;
};
constexpr std::array<StageStream, 6> kStageStreams = {{{&Keys::Events, StreamKind::kEvents},
                                                       {&Keys::EventsBulk, StreamKind::kEvents},
                                                       {&Keys::Batches, StreamKind::kBatches},
                                                       {&Keys::BatchesBulk, StreamKind::kBatches},
                                                       {&Keys::Expansions, StreamKind::kExpansions},
                                                       {&Keys::Deliveries, StreamKind::kDeliveries}}};

redis::Command TrimConsumedCommand(const std::string& stream) { return kTrimConsumed.Call({stream}, {}); }

redis::Command TrimOlderThanCommand(const std::string& stream, int64_t min_ms) {
  // Ids before "<min_ms>-0" are the entries added before min_ms.
  return {"XTRIM", stream, "MINID", absl::StrCat(std::max<int64_t>(min_ms, 0), "-0")};
}

absl::StatusOr<StreamTrimStats> ParseTrimConsumed(const redis::Reply& reply) {
  if (reply.type != redis::Reply::Type::kArray || reply.elements.size() != 2) {
    return absl::InternalError("trim_consumed.lua: unexpected reply");
  }
  StreamTrimStats stats;
  auto trimmed = redis::AsInteger(reply.elements[0]);
  if (!trimmed.ok()) return trimmed.status();
  auto length = redis::AsInteger(reply.elements[1]);
  if (!length.ok()) return length.status();
  stats.trimmed = *trimmed;
  stats.length = *length;
  return stats;
}

absl::StatusOr<StreamTrimStats> ParseTrimOlderThan(const absl::StatusOr<redis::Reply>& trim,
                                                   const absl::StatusOr<redis::Reply>& length) {
  if (!trim.ok()) return trim.status();
  if (!length.ok()) return length.status();
  StreamTrimStats stats;
  auto trimmed = redis::AsInteger(*trim);
  if (!trimmed.ok()) return trimmed.status();
  auto left = redis::AsInteger(*length);
  if (!left.ok()) return left.status();
  stats.trimmed = *trimmed;
  stats.length = *left;
  return stats;
}

prometheus::Family<prometheus::Counter>& TrimmedFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("herald_stream_trimmed_entries_total")
      .Help("Stream entries removed by retention (stage streams once consumed, the message log by age)")
      .Register(registry);
}

}  // namespace

absl::string_view StreamLabel(StreamKind kind) {
  switch (kind) {
    case StreamKind::kEvents:
      return "events";
    case StreamKind::kBatches:
      return "batches";
    case StreamKind::kExpansions:
      return "expansions";
    case StreamKind::kDeliveries:
      return "deliveries";
    case StreamKind::kMessageLog:
      return "message_log";
  }
  return "unknown";
}

RetentionMetrics::RetentionMetrics(prometheus::Registry& registry)
    : errors(prometheus::BuildCounter()
                 .Name("herald_stream_trim_errors_total")
                 .Help("Retention passes that failed (retried at the next interval)")
                 .Register(registry)
                 .Add({})) {
  auto& trimmed_family = TrimmedFamily(registry);
  for (size_t i = 0; i < kStreamKinds; ++i) {
    trimmed[i] = &trimmed_family.Add({{"stream", std::string(StreamLabel(static_cast<StreamKind>(i)))}});
  }
}

absl::StatusOr<StreamTrimStats> TrimConsumed(redis::RedisClient& client, const std::string& stream) {
  auto reply = client.Execute(TrimConsumedCommand(stream));
  if (!reply.ok()) return reply.status();
  return ParseTrimConsumed(*reply);
}

absl::StatusOr<StreamTrimStats> TrimOlderThan(redis::RedisClient& client, const std::string& stream,
                                              int64_t min_ms) {
  auto replies = client.Pipeline({TrimOlderThanCommand(stream, min_ms), {"XLEN", stream}});
  return ParseTrimOlderThan(replies[0], replies[1]);
}

absl::StatusOr<TrimPassStats> TrimOnce(redis::RedisClient& client, int partitions, int64_t now_ms,
                                       int64_t message_retention_ms, RetentionMetrics* metrics) {
  // Per partition: one script per stage stream, then XTRIM + XLEN of the
  // message log, then the dead letters older than the retention (their
  // messages expire at the same age). Every command touches one key.
  constexpr size_t kPerPartition = kStageStreams.size() + 3;
  std::vector<redis::Command> commands;
  commands.reserve(static_cast<size_t>(partitions) * kPerPartition);
  for (int p = 0; p < partitions; ++p) {
    Keys keys(p);
    for (const StageStream& stage : kStageStreams) commands.push_back(TrimConsumedCommand((keys.*stage.stream)()));
    commands.push_back(TrimOlderThanCommand(keys.MessageLog(), now_ms - message_retention_ms));
    commands.push_back({"XLEN", keys.MessageLog()});
    commands.push_back({"ZREMRANGEBYSCORE", keys.DeadLetters(), "-inf",
                        absl::StrCat("(", (now_ms - message_retention_ms) * 1000)});
  }
  auto replies = client.Pipeline(commands);
  TrimPassStats pass;
  for (int p = 0; p < partitions; ++p) {
    size_t base = static_cast<size_t>(p) * kPerPartition;
    for (size_t s = 0; s < kStageStreams.size(); ++s) {
      if (!replies[base + s].ok()) return replies[base + s].status();
      auto stats = ParseTrimConsumed(*replies[base + s]);
      if (!stats.ok()) return stats.status();
      StreamTrimStats& total = pass[static_cast<size_t>(kStageStreams[s].kind)];
      total.trimmed += stats->trimmed;
      total.length += stats->length;
    }
    if (!replies[base + kStageStreams.size() + 2].ok()) return replies[base + kStageStreams.size() + 2].status();
    auto log = ParseTrimOlderThan(replies[base + kStageStreams.size()], replies[base + kStageStreams.size() + 1]);
    if (!log.ok()) return log.status();
    auto& total = pass[static_cast<size_t>(StreamKind::kMessageLog)];
    total.trimmed += log->trimmed;
    total.length += log->length;
  }
  if (metrics != nullptr) {
    for (size_t i = 0; i < kStreamKinds; ++i) metrics->trimmed[i]->Increment(static_cast<double>(pass[i].trimmed));
  }
  return pass;
}

absl::StatusOr<int64_t> SweepFeeds(redis::RedisClient& client, int partitions, int64_t cutoff_us,
                                   std::vector<std::string>& cursors) {
  cursors.resize(static_cast<size_t>(partitions), "0");
  int64_t removed = 0;
  for (int p = 0; p < partitions; ++p) {
    const Keys keys(p);
    auto page = client.Execute({"SCAN", cursors[p], "MATCH", feed::FeedIndexPattern(keys), "COUNT", "1000"});
    if (!page.ok()) return page.status();
    if (page->elements.size() != 2) return absl::InternalError("SCAN: unexpected reply");
    cursors[p] = page->elements[0].str;
    std::vector<redis::Command> sweeps;
    for (const redis::Reply& key : page->elements[1].elements) {
      if (auto feed = feed::FeedOfIndexKey(keys, key.str)) sweeps.push_back(feed::SweepCommand(keys, *feed, cutoff_us));
    }
    if (sweeps.empty()) continue;
    for (auto& reply : client.Pipeline(sweeps)) {
      if (!reply.ok()) return reply.status();
      removed += reply->integer;
    }
  }
  return removed;
}

StreamTrimmer::StreamTrimmer(const redis::Endpoint& endpoint, const Clock& clock, StreamTrimmerOptions options,
                             RetentionMetrics& metrics)
    : task_(endpoint, "retention", options.poll_ms,
            [&clock, options, &metrics, next_pass_ms = int64_t{0},
             feed_cursors = std::vector<std::string>()](redis::RedisClient& client) mutable
            -> absl::StatusOr<bool> {
              const int64_t now = clock.NowMillis();
              if (now < next_pass_ms) return false;
              // A failed pass is retried at the next interval: trimming late is safe.
              next_pass_ms = now + options.interval_ms;
              auto pass = TrimOnce(client, options.partitions, now, options.message_retention_ms, &metrics);
              if (!pass.ok()) return pass.status();
              auto swept = SweepFeeds(client, options.partitions, (now - options.message_retention_ms) * 1000,
                                      feed_cursors);
              if (!swept.ok()) return swept.status();
              return false;
            },
            [&metrics] { metrics.errors.Increment(); }) {}

void StreamTrimmer::Start() { task_.Start(); }

void StreamTrimmer::Stop() { task_.Stop(); }

}  // namespace herald::retention
