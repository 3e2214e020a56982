// Live changes of in-app feeds: what gRPC WatchFeed and the gateway's
// realtime stream are built on. Every feed change (an item inserted by the
// fan-out, a mark by any API or gateway replica) is published through Redis
// so that any replica serves any user; a watcher delivers the changes of one
// (user, feed, tenant) in order, each with a cursor, and resumes after a
// cursor without a gap or a duplicate.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "herald/v1/herald.pb.h"

namespace herald::feed {

// Whose changes: one user's feed ('' = "main"), optionally one tenant's
// items of it.
struct WatchTarget {
  std::string user_id;
  std::string feed;
  std::string tenant;
};

// Called with each event of one subscription, in order, never concurrently
// with itself. Returning false ends the subscription (the connection went
// away or cannot keep up); the sink is not called again. When the watcher
// ends a subscription itself (it fell too far behind, or Redis failed), the
// sink gets one last event with an empty cursor and no change: the client
// resumes with the last cursor it got (or lists again on OUT_OF_RANGE).
using FeedEventSink = std::function<bool(const v1::FeedEvent& event)>;

// Ends delivery when destroyed: once the destructor returns, the sink is not
// running and is never called again.
class WatchSubscription {
 public:
  virtual ~WatchSubscription() = default;
};

class FeedWatcher {
 public:
  virtual ~FeedWatcher() = default;

  // Starts delivering `target`'s changes after `after` (a FeedEvent.cursor
  // received before; '' = from now, and the first event then carries only
  // the counts and a cursor). INVALID_ARGUMENT naming `after` for a cursor
  // this watcher did not make; OUT_OF_RANGE when the changes after it are no
  // longer kept (the client lists the feed again and watches from now).
  virtual absl::StatusOr<std::unique_ptr<WatchSubscription>> Watch(const WatchTarget& target,
                                                                   const std::string& after,
                                                                   FeedEventSink sink) = 0;
};

}  // namespace herald::feed
