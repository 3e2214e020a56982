#include "redis/stream_consumer.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace herald::redis {

StreamConsumer::StreamConsumer(RedisClient& client, std::vector<std::string> streams, std::string group,
                               std::string consumer, std::string payload_field, std::string batch_field,
                               std::vector<std::string> bulk_streams)
    : client_(client),
      streams_(std::move(streams)),
      bulk_streams_(std::move(bulk_streams)),
      group_(std::move(group)),
      consumer_(std::move(consumer)),
      payload_field_(std::move(payload_field)),
      batch_field_(std::move(batch_field)) {
  for (size_t i = 0; i < streams_.size(); ++i) {
    normal_.push_back(all_.size());
    all_.push_back({streams_[i], i, Lane::kNormal});
  }
  for (size_t i = 0; i < bulk_streams_.size(); ++i) {
    bulk_.push_back(all_.size());
    all_.push_back({bulk_streams_[i], i, Lane::kBulk});
  }
  for (size_t i = 0; i < all_.size(); ++i) everything_.push_back(i);
  reclaim_cursors_.assign(all_.size(), "0-0");
}

absl::Status StreamConsumer::EnsureGroups() {
  std::vector<Command> commands;
  for (const LaneStream& stream : all_) {
    commands.push_back({"XGROUP", "CREATE", stream.name, group_, "0", "MKSTREAM"});
  }
  commands.push_back({"INFO", "cluster"});
  auto results = client_.Pipeline(commands);
  for (size_t i = 0; i < all_.size(); ++i) {
    if (!results[i].ok() && !absl::StrContains(results[i].status().message(), "BUSYGROUP")) return results[i].status();
  }
  // A user whose ACL forbids INFO reads as a single Redis.
  read_one_stream_at_a_time_ = results.back().ok() && absl::StrContains(results.back()->str, "cluster_enabled:1") &&
                               all_.size() > 1;
  return absl::OkStatus();
}

void StreamConsumer::ParseEntries(size_t position, const Reply& entries, std::vector<StreamEntry>* out) const {
  const LaneStream& stream = all_[position];
  for (const Reply& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;
    StreamEntry parsed;
    parsed.stream_index = stream.index;
    parsed.lane = stream.lane;
    parsed.id = entry.elements[0].str;
    const Reply& fields = entry.elements[1];
    for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
      const std::string& field = fields.elements[i].str;
      if (field == payload_field_ || (!batch_field_.empty() && field == batch_field_)) {
        parsed.payload = fields.elements[i + 1].str;
        parsed.batch = field != payload_field_;
      }
    }
    out->push_back(std::move(parsed));
  }
}

void StreamConsumer::ParseRead(const Reply& reply, std::vector<StreamEntry>* out) const {
  for (const Reply& stream : reply.elements) {
    if (stream.elements.size() != 2) continue;
    auto it = std::find_if(all_.begin(), all_.end(),
                           [&](const LaneStream& known) { return known.name == stream.elements[0].str; });
    if (it == all_.end()) continue;
    ParseEntries(static_cast<size_t>(it - all_.begin()), stream.elements[1], out);
  }
}

Command StreamConsumer::ReadCommand(const std::vector<size_t>& positions, int count_per_stream, int block_ms) const {
  Command command = {"XREADGROUP", "GROUP", group_, consumer_, "COUNT", std::to_string(count_per_stream)};
  if (block_ms > 0) {
    command.push_back("BLOCK");
    command.push_back(std::to_string(block_ms));
  }
  command.push_back("STREAMS");
  for (size_t position : positions) command.push_back(all_[position].name);
  for (size_t i = 0; i < positions.size(); ++i) command.push_back(">");
  return command;
}

absl::StatusOr<std::vector<StreamEntry>> StreamConsumer::ReadNew(int count_per_stream, int block_ms,
                                                                 int bulk_count_per_stream) {
  std::vector<StreamEntry> entries;
  // Without bulk streams, or with no bulk entry wanted: the normal lane alone.
  const bool normal_only = bulk_.empty() || bulk_count_per_stream <= 0;
  if (!read_one_stream_at_a_time_ && normal_only) {
    auto reply = client_.Execute(ReadCommand(normal_, count_per_stream, block_ms));
    if (!reply.ok()) return reply.status();
    ParseRead(*reply, &entries);
    return entries;
  }
  const std::vector<size_t>& reading = normal_only ? normal_ : everything_;
  // Each lane with its own count, in one round trip and without blocking:
  // one XREADGROUP per lane, or, since Redis Cluster refuses one over
  // streams of several slots, one per stream.
  std::vector<Command> reads;
  if (!read_one_stream_at_a_time_) {
    reads.push_back(ReadCommand(normal_, count_per_stream, 0));
    reads.push_back(ReadCommand(bulk_, bulk_count_per_stream, 0));
  } else {
    for (size_t position : reading) {
      reads.push_back(ReadCommand(
          {position}, all_[position].lane == Lane::kBulk ? bulk_count_per_stream : count_per_stream, 0));
    }
  }
  for (const auto& reply : client_.Pipeline(reads)) {
    if (!reply.ok()) return reply.status();
    ParseRead(*reply, &entries);
  }
  if (!entries.empty() || block_ms <= 0) return entries;
  // Every stream was empty: wait for the first entry of either lane, taking
  // at most the bulk count of each stream (the next read takes the rest).
  const int wake_count = normal_only ? count_per_stream : std::min(count_per_stream, bulk_count_per_stream);
  Command wait;
  if (!read_one_stream_at_a_time_) {
    wait = ReadCommand(everything_, wake_count, block_ms);
  } else {
    // A short block on one stream after another.
    const size_t next = reading[next_blocking_stream_++ % reading.size()];
    wait = ReadCommand({next}, wake_count, std::min(block_ms, kClusterBlockMs));
  }
  auto reply = client_.Execute(wait);
  if (!reply.ok()) return reply.status();
  ParseRead(*reply, &entries);
  return entries;
}

absl::StatusOr<std::vector<StreamEntry>> StreamConsumer::Reclaim(int64_t min_idle_ms, int count_per_stream) {
  std::vector<Command> commands;
  for (size_t i = 0; i < all_.size(); ++i) {
    commands.push_back({"XAUTOCLAIM", all_[i].name, group_, consumer_, std::to_string(min_idle_ms),
                        reclaim_cursors_[i], "COUNT", std::to_string(count_per_stream)});
  }
  auto replies = client_.Pipeline(commands);
  std::vector<StreamEntry> entries;
  for (size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].ok()) return replies[i].status();
    const Reply& reply = *replies[i];
    if (reply.elements.size() < 2) continue;
    reclaim_cursors_[i] = reply.elements[0].str;
    ParseEntries(i, reply.elements[1], &entries);
  }
  return entries;
}

void AppendAckCommands(const std::string& stream, const std::string& group, const std::vector<std::string>& ids,
                       std::vector<Command>* commands) {
  if (ids.empty()) return;
  Command ack = {"XACK", stream, group};
  Command del = {"XDEL", stream};
  ack.insert(ack.end(), ids.begin(), ids.end());
  del.insert(del.end(), ids.begin(), ids.end());
  commands->push_back(std::move(ack));
  commands->push_back(std::move(del));
}

absl::Status StreamConsumer::Ack(const std::vector<const StreamEntry*>& entries) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<std::vector<std::string>> ids(all_.size());
  for (const StreamEntry* entry : entries) {
    const std::vector<size_t>& lane = entry->lane == Lane::kBulk ? bulk_ : normal_;
    ids[lane[entry->stream_index]].push_back(entry->id);
  }
  std::vector<Command> commands;
  for (size_t i = 0; i < all_.size(); ++i) AppendAckCommands(all_[i].name, group_, ids[i], &commands);
  for (auto& result : client_.Pipeline(commands)) {
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

}  // namespace herald::redis
