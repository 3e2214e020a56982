#include "redis/stream_consumer.h"

#include <algorithm>

#include "absl/strings/match.h"

namespace herald::redis {

StreamConsumer::StreamConsumer(RedisClient& client, std::vector<std::string> streams, std::string group,
                               std::string consumer, std::string payload_field, std::string batch_field)
    : client_(client),
      streams_(std::move(streams)),
      group_(std::move(group)),
      consumer_(std::move(consumer)),
      payload_field_(std::move(payload_field)),
      batch_field_(std::move(batch_field)),
      reclaim_cursors_(streams_.size(), "0-0") {}

absl::Status StreamConsumer::EnsureGroups() {
  std::vector<Command> commands;
  for (const std::string& stream : streams_) {
    commands.push_back({"XGROUP", "CREATE", stream, group_, "0", "MKSTREAM"});
  }
  commands.push_back({"INFO", "cluster"});
  auto results = client_.Pipeline(commands);
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (!results[i].ok() && !absl::StrContains(results[i].status().message(), "BUSYGROUP")) return results[i].status();
  }
  // A user whose ACL forbids INFO reads as a single Redis.
  read_one_stream_at_a_time_ = results.back().ok() && absl::StrContains(results.back()->str, "cluster_enabled:1") &&
                               streams_.size() > 1;
  return absl::OkStatus();
}

void StreamConsumer::ParseEntries(size_t stream_index, const Reply& entries, std::vector<StreamEntry>* out) const {
  for (const Reply& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;
    StreamEntry parsed;
    parsed.stream_index = stream_index;
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
    auto it = std::find(streams_.begin(), streams_.end(), stream.elements[0].str);
    if (it == streams_.end()) continue;
    ParseEntries(static_cast<size_t>(it - streams_.begin()), stream.elements[1], out);
  }
}

Command StreamConsumer::ReadCommand(const std::vector<std::string>& streams, int count_per_stream,
                                    int block_ms) const {
  Command command = {"XREADGROUP", "GROUP", group_, consumer_, "COUNT", std::to_string(count_per_stream)};
  if (block_ms > 0) {
    command.push_back("BLOCK");
    command.push_back(std::to_string(block_ms));
  }
  command.push_back("STREAMS");
  command.insert(command.end(), streams.begin(), streams.end());
  for (size_t i = 0; i < streams.size(); ++i) command.push_back(">");
  return command;
}

absl::StatusOr<std::vector<StreamEntry>> StreamConsumer::ReadNew(int count_per_stream, int block_ms) {
  std::vector<StreamEntry> entries;
  if (!read_one_stream_at_a_time_) {
    auto reply = client_.Execute(ReadCommand(streams_, count_per_stream, block_ms));
    if (!reply.ok()) return reply.status();
    ParseRead(*reply, &entries);
    return entries;
  }
  // Redis Cluster refuses one XREADGROUP over streams of several slots:
  // every stream in one pipeline without blocking, and when all were
  // empty, a short block on one stream after another.
  std::vector<Command> reads;
  for (const std::string& stream : streams_) reads.push_back(ReadCommand({stream}, count_per_stream, 0));
  for (const auto& reply : client_.Pipeline(reads)) {
    if (!reply.ok()) return reply.status();
    ParseRead(*reply, &entries);
  }
  if (!entries.empty() || block_ms <= 0) return entries;
  const std::string& next = streams_[next_blocking_stream_++ % streams_.size()];
  auto reply = client_.Execute(ReadCommand({next}, count_per_stream, std::min(block_ms, kClusterBlockMs)));
  if (!reply.ok()) return reply.status();
  ParseRead(*reply, &entries);
  return entries;
}

absl::StatusOr<std::vector<StreamEntry>> StreamConsumer::Reclaim(int64_t min_idle_ms, int count_per_stream) {
  std::vector<Command> commands;
  for (size_t i = 0; i < streams_.size(); ++i) {
    commands.push_back({"XAUTOCLAIM", streams_[i], group_, consumer_, std::to_string(min_idle_ms),
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
  std::vector<std::vector<std::string>> ids(streams_.size());
  for (const StreamEntry* entry : entries) ids[entry->stream_index].push_back(entry->id);
  std::vector<Command> commands;
  for (size_t i = 0; i < streams_.size(); ++i) AppendAckCommands(streams_[i], group_, ids[i], &commands);
  for (auto& result : client_.Pipeline(commands)) {
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

}  // namespace herald::redis
