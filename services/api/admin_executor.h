// Runs multi-step administrative operations (user delete and merge, object
// delete) on their own thread with a blocking Redis connection, so they can
// page through large sets step by step without holding a gRPC thread or
// the group-commit pipeline. Operations run one at a time, in order.
#pragma once

#include <deque>
#include <memory>
#include <thread>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "redis/client.h"

namespace herald::api {

// Thread-safe.
class AdminExecutor {
 public:
  // The client is nullptr when Redis cannot be reached (the operation then
  // answers UNAVAILABLE).
  using Operation = absl::AnyInvocable<void(redis::RedisClient* client) &&>;

  explicit AdminExecutor(redis::Endpoint endpoint);
  ~AdminExecutor();
  AdminExecutor(const AdminExecutor&) = delete;
  AdminExecutor& operator=(const AdminExecutor&) = delete;

  void Run(Operation operation);

 private:
  void Loop();

  const redis::Endpoint endpoint_;
  absl::Mutex mu_;
  std::deque<Operation> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace herald::api
