// A background loop over one Redis connection: starts a pass every tick (at
// once again when the pass says more is waiting), and reconnects after an
// error. The batch flusher and the delivery retry timer are such loops.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "redis/client.h"

namespace herald::redis {

class PeriodicTask {
 public:
  // Returns true when more work may be waiting (run again at once), false
  // to wait until a tick after the pass started (a pass's own time is not
  // added to the tick: under load the loop keeps its pace); an error drops
  // the connection and is reported.
  using Pass = std::function<absl::StatusOr<bool>(RedisClient& client)>;

  // `log_name`: the component of its log lines (core/log.h).
  PeriodicTask(Endpoint endpoint, std::string log_name, int tick_ms, Pass pass,
               std::function<void()> on_error = [] {});
  ~PeriodicTask();
  PeriodicTask(const PeriodicTask&) = delete;
  PeriodicTask& operator=(const PeriodicTask&) = delete;

  void Start();
  // Returns after the current pass (and at most one tick of sleep).
  void Stop();

 private:
  void Run();

  const Endpoint endpoint_;
  const std::string log_name_;
  const int tick_ms_;
  const Pass pass_;
  const std::function<void()> on_error_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace herald::redis
