// One consumer of a consumer group over a set of partition streams:
// creates the groups, reads new entries, reclaims entries a dead consumer
// left pending (XAUTOCLAIM), and acknowledges+deletes processed entries.
// A stage with lanes (core/keys.h Lane) gives a second list, the bulk
// lane's streams: every read takes the normal lane's entries and at most a
// separate count from the bulk lane, so a deep bulk backlog never delays
// the normal lane by more than one read's worth of bulk entries.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "redis/client.h"

namespace herald::redis {

struct StreamEntry {
  // Index into the consumer's stream list of the entry's lane (for the
  // stage streams: the partition, whichever the lane).
  size_t stream_index = 0;
  Lane lane = Lane::kNormal;
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
  // that is set and present (then StreamEntry::batch). `bulk_streams`: the
  // bulk lane's streams, read beside `streams` (the normal lane) by the
  // same group; empty for a stage without lanes.
  StreamConsumer(RedisClient& client, std::vector<std::string> streams, std::string group, std::string consumer,
                 std::string payload_field, std::string batch_field = "", std::vector<std::string> bulk_streams = {});

  // XGROUP CREATE ... 0 MKSTREAM for every stream of both lanes (existing
  // groups are fine); also learns whether Redis is a Cluster (then each
  // read touches one stream, see ReadNew).
  absl::Status EnsureGroups();

  // New entries across all streams, waiting up to `block_ms` when none:
  // at most `count_per_stream` from each normal-lane stream and
  // `bulk_count_per_stream` from each bulk-lane stream (0: the normal lane
  // alone), normal-lane entries first. Without bulk streams one XREADGROUP over every stream;
  // with them one round trip of two non-blocking reads (one per lane, each
  // with its count), then, when both were empty, one blocking read over
  // both lanes. Against Redis Cluster (learned by EnsureGroups) one read
  // per stream, blocking at most kClusterBlockMs at once.
  absl::StatusOr<std::vector<StreamEntry>> ReadNew(int count_per_stream, int block_ms, int bulk_count_per_stream = 0);

  // Takes over entries pending longer than `min_idle_ms` on any consumer,
  // in both lanes (each stream has its own cursor).
  absl::StatusOr<std::vector<StreamEntry>> Reclaim(int64_t min_idle_ms, int count_per_stream);

  // XACK and XDEL the entries (one command of each per stream). Only call
  // once every effect of the entries is durable in Redis.
  absl::Status Ack(const std::vector<const StreamEntry*>& entries);

  const std::vector<std::string>& streams() const { return streams_; }

 private:
  static constexpr int kClusterBlockMs = 10;

  // A stream of either lane: its name and where its entries say they are from.
  struct LaneStream {
    std::string name;
    size_t index;
    Lane lane;
  };

  // `position`: of the stream in all_.
  void ParseEntries(size_t position, const Reply& entries, std::vector<StreamEntry>* out) const;
  // An XREADGROUP reply's entries, by stream.
  void ParseRead(const Reply& reply, std::vector<StreamEntry>* out) const;
  // One XREADGROUP over the streams at `positions` of all_.
  Command ReadCommand(const std::vector<size_t>& positions, int count_per_stream, int block_ms) const;

  RedisClient& client_;
  const std::vector<std::string> streams_;
  const std::vector<std::string> bulk_streams_;
  const std::string group_;
  const std::string consumer_;
  const std::string payload_field_;
  const std::string batch_field_;
  // Every stream of both lanes, the normal lane's first, and the positions
  // of each lane's (and of all) in it.
  std::vector<LaneStream> all_;
  std::vector<size_t> normal_, bulk_, everything_;
  std::vector<std::string> reclaim_cursors_;  // by position in all_
  bool read_one_stream_at_a_time_ = false;
  size_t next_blocking_stream_ = 0;
};

}  // namespace herald::redis
