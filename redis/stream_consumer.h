// One consumer of a consumer group over a set of partition streams:
// creates the groups, reads new entries, reclaims entries a dead consumer
// left pending (XAUTOCLAIM), and acknowledges+deletes processed entries.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "redis/client.h"

namespace herald::redis {

struct StreamEntry {
  size_t stream_index = 0;  // index into the consumer's stream list
  std::string id;
  std::string payload;  // the value of the consumer's payload field (or batch field)
  // The payload came from the consumer's batch field: the entry carries
  // several records in it (the stage knows how to split them).
  bool batch = false;
};

// Appends the commands that finish entries `ids` of `stream` for `group`:
// XACK, then XDEL (every stage deletes what it acked). Nothing for no ids.
void AppendAckCommands(const std::string& stream, const std::string& group, const std::vector<std::string>& ids,
                       std::vector<Command>* commands);

// Not thread-safe: one per worker thread, with that thread's client.
class StreamConsumer {
 public:
  // An entry's payload is its `payload_field`, or its `batch_field` when
  // that is set and present (then StreamEntry::batch).
  StreamConsumer(RedisClient& client, std::vector<std::string> streams, std::string group, std::string consumer,
                 std::string payload_field, std::string batch_field = "");

  // XGROUP CREATE ... 0 MKSTREAM for every stream (existing groups are
  // fine); also learns whether Redis is a Cluster (then each read touches
  // one stream, see ReadNew).
  absl::Status EnsureGroups();

  // New entries across all streams, waiting up to `block_ms` when none.
  // One XREADGROUP over every stream; against Redis Cluster (learned by
  // EnsureGroups) one per stream, blocking at most kClusterBlockMs at once.
  absl::StatusOr<std::vector<StreamEntry>> ReadNew(int count_per_stream, int block_ms);

  // Takes over entries pending longer than `min_idle_ms` on any consumer.
  absl::StatusOr<std::vector<StreamEntry>> Reclaim(int64_t min_idle_ms, int count_per_stream);

  // XACK and XDEL the entries (one command of each per stream). Only call
  // once every effect of the entries is durable in Redis.
  absl::Status Ack(const std::vector<const StreamEntry*>& entries);

  const std::vector<std::string>& streams() const { return streams_; }

 private:
  static constexpr int kClusterBlockMs = 10;

  void ParseEntries(size_t stream_index, const Reply& entries, std::vector<StreamEntry>* out) const;
  // An XREADGROUP reply's entries, by stream.
  void ParseRead(const Reply& reply, std::vector<StreamEntry>* out) const;
  Command ReadCommand(const std::vector<std::string>& streams, int count_per_stream, int block_ms) const;

  RedisClient& client_;
  const std::vector<std::string> streams_;
  const std::string group_;
  const std::string consumer_;
  const std::string payload_field_;
  const std::string batch_field_;
  std::vector<std::string> reclaim_cursors_;
  bool read_one_stream_at_a_time_ = false;
  size_t next_blocking_stream_ = 0;
};

}  // namespace herald::redis
