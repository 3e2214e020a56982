// Group commit for request handlers: callers submit a small list of commands
// with a completion callback; a few I/O threads drain the queue and send
// everything waiting as one pipeline, so 10,000 concurrent triggers cost a
// handful of round trips instead of 10,000, and no gRPC thread ever blocks.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "redis/client.h"

namespace herald::redis {

// Thread-safe.
class AsyncPipeline {
 public:
  using Results = std::vector<absl::StatusOr<Reply>>;
  using Callback = absl::AnyInvocable<void(Results) &&>;

  // Starts `threads` I/O threads, each with its own connection (of kind
  // ClientKind::kPipeline whatever `options` says).
  static absl::StatusOr<std::unique_ptr<AsyncPipeline>> Create(const Endpoint& endpoint, int threads,
                                                               const ClientOptions& options = {});
  ~AsyncPipeline();
  AsyncPipeline(const AsyncPipeline&) = delete;
  AsyncPipeline& operator=(const AsyncPipeline&) = delete;

  // Runs `commands` in order, in one pipeline with whatever else is queued,
  // then calls `done` with one result per command on an I/O thread. `done`
  // must not block.
  void Submit(std::vector<Command> commands, Callback done);

 private:
  struct Job {
    std::vector<Command> commands;
    Callback done;
  };
  AsyncPipeline() = default;
  void Loop(RedisClient* client);

  absl::Mutex mu_;
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<std::unique_ptr<RedisClient>> clients_;
  std::vector<std::thread> threads_;
};

}  // namespace herald::redis
