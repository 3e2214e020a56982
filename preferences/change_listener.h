// Follows every partition's preference change stream (preferences/set.lua
// appends one entry per stored set) and announces the changed users and
// tenants on an InvalidationLog, so each fan-out worker's PreferenceCache
// drops its copy before its next read: an opt-out counts at once instead
// of after the cache's TTL. One per process, on its own connection.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/invalidation_log.h"
#include "redis/client.h"

namespace herald::preferences {

struct ChangeListenerOptions {
  int partitions = 1;
  // How long one XREAD waits for a change (also how long Stop can take).
  absl::Duration block = absl::Milliseconds(250);
  // On Redis Cluster one XREAD cannot name streams of several slots: every
  // partition's stream is read in one pipeline, this often.
  absl::Duration cluster_poll = absl::Milliseconds(10);
};

class PreferenceChangeListener {
 public:
  // Starts reading from the end of every stream (changes made before the
  // start are in no cache yet). `log` must outlive the listener.
  static absl::StatusOr<std::unique_ptr<PreferenceChangeListener>> Start(const redis::Endpoint& endpoint,
                                                                          ChangeListenerOptions options,
                                                                          InvalidationLog& log);
  ~PreferenceChangeListener();

 private:
  PreferenceChangeListener(ChangeListenerOptions options, InvalidationLog& log, std::vector<std::string> positions)
      : options_(options), log_(log), positions_(std::move(positions)) {}
  void ReadLoop(redis::RedisClient& client);
  // Announces a stream page's entries and moves partition `p`'s position.
  void Announce(size_t p, const redis::Reply& entries);

  const ChangeListenerOptions options_;
  InvalidationLog& log_;
  std::vector<std::string> positions_;  // reader thread only
  absl::Notification stopping_;
  std::thread reader_;
};

}  // namespace herald::preferences
