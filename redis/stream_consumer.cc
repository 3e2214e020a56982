#include "redis/stream_consumer.h"

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"

namespace herald::redis {

StreamConsumer::StreamConsumer(RedisClient& client, std::vector<std::string> streams, std::string group,
                               std::string consumer, std::string payload_field)
    : client_(client),
      streams_(std::move(streams)),
      group_(std::move(group)),
      consumer_(std::move(consumer)),
      payload_field_(std::move(payload_field)),
      reclaim_cursors_(streams_.size(), "0-0") {}

absl::Status StreamConsumer::EnsureGroups() {
  std::vector<Command> commands;
  for (const std::string& stream : streams_) {
    commands.push_back({"XGROUP", "CREATE", stream, group_, "0", "MKSTREAM"});
  }
  auto results = client_.Pipeline(commands);
  for (auto& result : results) {
    if (!result.ok() && !absl::StrContains(result.status().message(), "BUSYGROUP")) return result.status();
  }
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
      if (fields.elements[i].str == payload_field_) parsed.payload = fields.elements[i + 1].str;
    }
    out->push_back(std::move(parsed));
  }
}

absl::StatusOr<std::vector<StreamEntry>> StreamConsumer::ReadNew(int count_per_stream, int block_ms) {
  Command command = {"XREADGROUP", "GROUP", group_, consumer_, "COUNT", std::to_string(count_per_stream),
                     "BLOCK", std::to_string(block_ms), "STREAMS"};
  command.insert(command.end(), streams_.begin(), streams_.end());
  for (size_t i = 0; i < streams_.size(); ++i) command.push_back(">");
  auto reply = client_.Execute(command);
  if (!reply.ok()) return reply.status();
  std::vector<StreamEntry> entries;
  if (reply->is_nil()) return entries;
  absl::flat_hash_map<std::string, size_t> index;
  for (size_t i = 0; i < streams_.size(); ++i) index[streams_[i]] = i;
  for (const Reply& stream : reply->elements) {
    if (stream.elements.size() != 2) continue;
    auto it = index.find(stream.elements[0].str);
    if (it == index.end()) continue;
    ParseEntries(it->second, stream.elements[1], &entries);
  }
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

absl::Status StreamConsumer::Ack(const std::vector<const StreamEntry*>& entries) {
  if (entries.empty()) return absl::OkStatus();
  std::vector<Command> acks(streams_.size());
  std::vector<Command> deletes(streams_.size());
  for (const StreamEntry* entry : entries) {
    Command& ack = acks[entry->stream_index];
    Command& del = deletes[entry->stream_index];
    if (ack.empty()) {
      ack = {"XACK", streams_[entry->stream_index], group_};
      del = {"XDEL", streams_[entry->stream_index]};
    }
    ack.push_back(entry->id);
    del.push_back(entry->id);
  }
  std::vector<Command> commands;
  for (size_t i = 0; i < streams_.size(); ++i) {
    if (acks[i].empty()) continue;
    commands.push_back(std::move(acks[i]));
    commands.push_back(std::move(deletes[i]));
  }
  for (auto& result : client_.Pipeline(commands)) {
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

}  // namespace herald::redis
