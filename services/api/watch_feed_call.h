// gRPC WatchFeed: one server-streaming call that follows one user's feed
// through the FeedWatcher (feed/feed_watch.h). Flow control: one write in
// flight; events wait in a bounded queue, and a client that cannot keep up
// (the queue is full) has its stream ended with RESOURCE_EXHAUSTED (it
// resumes with its last cursor). Client cancel, deadline and shutdown
// (WatchCalls::EndAll, from the drain) end the stream and the subscription.
#pragma once

#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "auth/api_keys.h"
#include "feed/feed_watch.h"
#include "services/api/grpc_metrics.h"

namespace herald::api {

class WatchFeedCall;

// The WatchFeed calls in progress, so the drain can end them. Thread-safe.
class WatchCalls {
 public:
  // Ends every stream in progress (UNAVAILABLE: the client resumes with
  // its last cursor on another replica) and every one started from now.
  void EndAll();

 private:
  friend class WatchFeedCall;
  // False when ending: the call must finish at once.
  bool Add(WatchFeedCall* call);
  void Remove(WatchFeedCall* call);

  absl::Mutex mu_;
  absl::flat_hash_set<WatchFeedCall*> calls_ ABSL_GUARDED_BY(mu_);
  bool ending_ ABSL_GUARDED_BY(mu_) = false;
};

struct WatchFeedSettings {
  const auth::ApiKeys* api_keys = nullptr;  // null: every caller is served
  feed::FeedWatcher* watcher = nullptr;     // null: UNAVAILABLE
  // Events waiting for a slow client beyond this end its stream.
  size_t max_queued_events = 256;
};

// Starts one call; the reactor deletes itself when done.
grpc::ServerWriteReactor<grpc::ByteBuffer>* StartWatchFeed(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request_bytes,
                                                           const WatchFeedSettings& settings, WatchCalls& calls,
                                                           GrpcServerMetrics& metrics, int method_index);

}  // namespace herald::api
