#include "services/api/watch_feed_call.h"

#include <chrono>
#include <deque>
#include <optional>

#include <grpcpp/impl/codegen/proto_utils.h>

#include "herald/v1/herald.pb.h"
#include "services/api/grpc_status.h"
#include "services/api/request_decoding.h"

namespace herald::api {

class WatchFeedCall final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  WatchFeedCall(WatchCalls& calls, GrpcServerMetrics& metrics, int method_index, size_t max_queued)
      : calls_(calls),
        metrics_(metrics),
        method_index_(method_index),
        max_queued_(max_queued),
        start_(std::chrono::steady_clock::now()) {}

  void Begin(grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
             const WatchFeedSettings& settings) {
    if (!calls_.Add(this)) return End(absl::UnavailableError("server shutting down"));
    if (settings.api_keys != nullptr) {
      absl::StatusOr<std::string> key = settings.api_keys->Authenticate(*context);
      if (!key.ok()) return End(key.status());
    }
    v1::WatchFeedRequest request;
    absl::Status decoded = DecodeRequest(*request_bytes, &request);
    if (!decoded.ok()) return End(decoded);
    if (settings.watcher == nullptr) return End(absl::UnavailableError("feed watching is off on this server"));
    auto subscription = settings.watcher->Watch({request.user_id(), request.feed(), request.tenant()},
                                                request.after(),
                                                [this](const v1::FeedEvent& event) { return OnEvent(event); });
    if (!subscription.ok()) return End(subscription.status());
    absl::MutexLock lock(&mu_);
    subscription_ = std::move(*subscription);
  }

  // From the drain.
  void EndForShutdown() { End(absl::UnavailableError("server shutting down; watch again with the last cursor")); }

  void OnWriteDone(bool ok) override {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) {
        FinishLocked(absl::CancelledError("the client went away"), actions);
      } else {
        WriteNextLocked(actions);
      }
    }
    Perform(actions);
  }

  void OnCancel() override { End(absl::CancelledError("cancelled by the client")); }

  void OnDone() override {
    calls_.Remove(this);
    std::unique_ptr<feed::WatchSubscription> subscription;
    {
      absl::MutexLock lock(&mu_);
      subscription = std::move(subscription_);
    }
    // Waits for a sink call in progress (it only queues): after this no
    // event reaches the deleted call.
    subscription.reset();
    delete this;
  }

 private:
  // What to do once mu_ is released: gRPC may run a reaction inline, and
  // reactions take mu_.
  struct Actions {
    bool write = false;
    std::optional<grpc::Status> finish;
  };

  void Perform(const Actions& actions) {
    if (actions.write) StartWrite(&current_);  // current_ is untouched until OnWriteDone
    if (actions.finish) Finish(*actions.finish);
  }

  // The watcher's sink: queues the event and writes it when nothing else
  // is in flight. False (ends the subscription) once the call is ending or
  // the client is too slow.
  bool OnEvent(const v1::FeedEvent& event) {
    Actions actions;
    bool keep = false;
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return false;
      if (event.cursor().empty()) {
        FinishLocked(absl::UnavailableError("the watch fell behind; watch again with the last cursor"), actions);
      } else if (queue_.size() >= max_queued_) {
        FinishLocked(absl::ResourceExhaustedError("the client reads too slowly; watch again with the last cursor"),
                     actions);
      } else {
        grpc::ByteBuffer buffer;
        bool own = false;
        if (!grpc::SerializationTraits<v1::FeedEvent>::Serialize(event, &buffer, &own).ok()) {
          FinishLocked(absl::InternalError("event: cannot be encoded"), actions);
        } else {
          queue_.push_back(std::move(buffer));
          WriteNextLocked(actions);
          keep = true;
        }
      }
    }
    Perform(actions);
    return keep;
  }

  void WriteNextLocked(Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (writing_ || finished_ || queue_.empty()) return;
    writing_ = true;
    current_ = std::move(queue_.front());
    queue_.pop_front();
    actions.write = true;
  }

  void End(const absl::Status& status) {
    Actions actions;
    {
      absl::MutexLock lock(&mu_);
      FinishLocked(status, actions);
    }
    Perform(actions);
  }

  void FinishLocked(const absl::Status& status, Actions& actions) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    metrics_.Record(method_index_, status,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count());
    actions.finish = ToGrpcStatus(status);
  }

  WatchCalls& calls_;
  GrpcServerMetrics& metrics_;
  const int method_index_;
  const size_t max_queued_;
  const std::chrono::steady_clock::time_point start_;

  absl::Mutex mu_;
  std::unique_ptr<feed::WatchSubscription> subscription_ ABSL_GUARDED_BY(mu_);
  std::deque<grpc::ByteBuffer> queue_ ABSL_GUARDED_BY(mu_);
  grpc::ByteBuffer current_;  // the write in flight: set under mu_, read by gRPC until OnWriteDone
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

bool WatchCalls::Add(WatchFeedCall* call) {
  absl::MutexLock lock(&mu_);
  calls_.insert(call);
  return !ending_;
}

void WatchCalls::Remove(WatchFeedCall* call) {
  absl::MutexLock lock(&mu_);
  calls_.erase(call);
}

void WatchCalls::EndAll() {
  absl::MutexLock lock(&mu_);
  ending_ = true;
  // Under mu_: a call cannot reach OnDone's Remove (and be deleted) while
  // it is ended here.
  for (WatchFeedCall* call : calls_) call->EndForShutdown();
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* StartWatchFeed(grpc::CallbackServerContext* context,
                                                           const grpc::ByteBuffer* request_bytes,
                                                           const WatchFeedSettings& settings, WatchCalls& calls,
                                                           GrpcServerMetrics& metrics, int method_index) {
  auto* call = new WatchFeedCall(calls, metrics, method_index, settings.max_queued_events);
  call->Begin(context, request_bytes, settings);
  return call;
}

}  // namespace herald::api
