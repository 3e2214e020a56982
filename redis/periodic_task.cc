#include "redis/periodic_task.h"

#include <algorithm>
#include <chrono>

#include "core/log.h"

namespace herald::redis {

PeriodicTask::PeriodicTask(Endpoint endpoint, std::string log_name, int tick_ms, Pass pass,
                           std::function<void()> on_error)
    : endpoint_(std::move(endpoint)),
      log_name_(std::move(log_name)),
      tick_ms_(tick_ms),
      pass_(std::move(pass)),
      on_error_(std::move(on_error)) {}

PeriodicTask::~PeriodicTask() { Stop(); }

void PeriodicTask::Start() { thread_ = std::thread([this] { Run(); }); }

void PeriodicTask::Stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void PeriodicTask::Run() {
  std::unique_ptr<RedisClient> client;
  while (!stopping_) {
    if (!client) {
      auto connected = ConnectRedis(endpoint_);
      if (!connected.ok()) {
        log::Error(log_name_, "cannot connect to Redis; retrying", {{"error", connected.status()}});
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      client = std::move(*connected);
    }
    const auto started = std::chrono::steady_clock::now();
    absl::StatusOr<bool> more = pass_(*client);
    if (!more.ok()) {
      on_error_();
      log::Error(log_name_, "pass failed; reconnecting", {{"error", more.status()}});
      client.reset();
      // A lasting error (OOM, a read-only replica) must not turn the loop
      // into a busy one against Redis.
      std::this_thread::sleep_for(std::chrono::milliseconds(std::max(tick_ms_, 100)));
      continue;
    }
    if (!*more) std::this_thread::sleep_until(started + std::chrono::milliseconds(tick_ms_));
  }
}

}  // namespace herald::redis
