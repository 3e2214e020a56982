#include "services/api/admin_executor.h"

namespace herald::api {

AdminExecutor::AdminExecutor(redis::Endpoint endpoint) : endpoint_(std::move(endpoint)) {
  thread_ = std::thread([this] { Loop(); });
}

AdminExecutor::~AdminExecutor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

void AdminExecutor::Run(Operation operation) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(operation));
}

void AdminExecutor::Loop() {
  std::unique_ptr<redis::RedisClient> client;
  while (true) {
    Operation operation;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](AdminExecutor* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
            return self->stopping_ || !self->queue_.empty();
          },
          this));
      // Queued operations still run at shutdown: each finishes its call.
      if (queue_.empty()) return;
      operation = std::move(queue_.front());
      queue_.pop_front();
    }
    if (!client) {
      auto connected = redis::ConnectRedis(endpoint_);
      if (connected.ok()) client = std::move(*connected);
    }
    std::move(operation)(client.get());
  }
}

}  // namespace herald::api
