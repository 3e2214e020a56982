// Follows the new entries of many streams (one per partition) on one
// connection, for listeners that tail change streams (feed changes,
// preference changes): one blocking XREAD over every stream; on Redis
// Cluster, where one command cannot name keys of several slots (CROSSSLOT),
// each stream is read without blocking in one pipeline, polled.
#pragma once

#include <string>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "redis/client.h"

namespace herald::redis {

class StreamsTail {
 public:
  StreamsTail(std::vector<std::string> keys, absl::Duration block, absl::Duration cluster_poll)
      : keys_(std::move(keys)), block_ms_(std::to_string(absl::ToInt64Milliseconds(block))), poll_(cluster_poll) {}

  // Reads entries after positions[i] of stream keys()[i] (at most 1000 per
  // stream), waiting up to `block` for the first, and calls
  // on_entries(i, entries) for each stream that has some (entries: the
  // XREAD reply's list of [id, fields]). On a cluster with nothing new,
  // `wait(cluster_poll)` paces the polling. A failed read (or, on a
  // cluster, the first failed stream after the others were passed on) is
  // returned; the caller decides how long to back off.
  absl::Status Read(RedisClient& client, const std::vector<std::string>& positions,
                    absl::FunctionRef<void(size_t, const Reply&)> on_entries,
                    absl::FunctionRef<void(absl::Duration)> wait);

  const std::vector<std::string>& keys() const { return keys_; }

 private:
  const std::vector<std::string> keys_;
  const std::string block_ms_;
  const absl::Duration poll_;
  bool per_key_ = false;  // the server refused a multi-slot XREAD
};

}  // namespace herald::redis
