// The FeedWatcher over Redis: one reader thread per process follows every
// partition's feed change stream (Keys::FeedChanges) and hands each change
// to the subscriptions of its (user, feed); a few delivery threads read the
// changed items and the counts back (the commands ListFeed uses) and call
// the sinks. Any replica sees every change, whoever made it.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "feed/feed_watch.h"
#include "redis/client.h"

namespace herald::feed {

struct RedisFeedWatcherOptions {
  // Herald's partition count (--partitions): which stream a user's changes
  // are in.
  int partitions = 4;
  // How long one XREAD waits for changes (bounds how long Stop takes).
  absl::Duration block = absl::Milliseconds(250);
  // On Redis Cluster, where one XREAD cannot span partitions, the reader
  // polls every partition's stream this often instead.
  absl::Duration cluster_poll = absl::Milliseconds(10);
  // Threads that read items back and call sinks.
  int delivery_threads = 2;
  // Changes waiting for one subscription beyond this end it (the watcher
  // cannot keep up for it); a replay of more ends it with OUT_OF_RANGE.
  size_t max_pending_per_subscription = 10'000;
};

class RedisFeedWatcherImpl;

// Thread-safe. Subscriptions may outlive it (they then get no more events).
class RedisFeedWatcher final : public FeedWatcher {
 public:
  // Connects (the reader's and each delivery thread's connections, made
  // from `endpoint`), positions the reader at the end of every partition's
  // stream and starts the threads. UNAVAILABLE when Redis cannot be reached;
  // INVALID_ARGUMENT naming the option that is out of range.
  static absl::StatusOr<std::unique_ptr<RedisFeedWatcher>> Start(const redis::Endpoint& endpoint,
                                                                 RedisFeedWatcherOptions options);
  ~RedisFeedWatcher() override;

  absl::StatusOr<std::unique_ptr<WatchSubscription>> Watch(const WatchTarget& target, const std::string& after,
                                                           FeedEventSink sink) override;

 private:
  explicit RedisFeedWatcher(std::shared_ptr<RedisFeedWatcherImpl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<RedisFeedWatcherImpl> impl_;
};

}  // namespace herald::feed
