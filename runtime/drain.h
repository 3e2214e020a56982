// Graceful shutdown of a Herald process (SIGTERM or SIGINT): readiness
// goes NOT_SERVING first, then the gRPC calls in flight and the stage
// workers finish side by side against one deadline, and the embedded
// Redis is shut down last. Each step is logged with its duration, so an
// operator sees what a slow shutdown waited for.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace grpc {
class Server;
}  // namespace grpc

namespace herald {

// How long the embedded Redis gets to SHUTDOWN (fsync its AOF) and exit.
inline constexpr absl::Duration kRedisShutdownTimeout = absl::Seconds(5);
// A drain still running this long after its deadline (a worker stuck in a
// provider call) is abandoned: main exits 1, and what the workers held is
// reclaimed by other consumers.
inline constexpr absl::Duration kDrainOverrun = absl::Seconds(10);

// One drain: its deadline, and a log line per step with its duration
// (core/log.h, component "herald"). Thread-safe.
class Drain {
 public:
  using StepFn = absl::AnyInvocable<absl::Status()>;

  // The deadline is `timeout` from now; each line's message starts
  // "drain: ".
  explicit Drain(absl::Duration timeout);
  Drain(const Drain&) = delete;
  Drain& operator=(const Drain&) = delete;

  absl::Time deadline() const { return deadline_; }

  // Runs `step` and logs "<name>: done in N ms", or its error.
  void Step(absl::string_view name, StepFn step);
  // Runs every step at once, each on its own thread (a slow worker does not
  // hold up the others), logs each as it ends; returns when all have.
  void Parallel(std::vector<std::pair<std::string, StepFn>> steps);
  // Logs "finished in N ms" (since construction); returns how many steps
  // failed.
  int Finish();

 private:
  void Log(absl::string_view name, const absl::Status& status, absl::Duration took);

  // Constant after construction.
  const absl::Time started_;
  const absl::Time deadline_;

  absl::Mutex mutex_;
  int failures_ ABSL_GUARDED_BY(mutex_) = 0;
};

// "gRPC calls finished" step: shuts `server` down (no new calls; those in
// flight get until `deadline`, then are cancelled). DEADLINE_EXCEEDED when
// the deadline was reached.
absl::Status ShutdownServer(grpc::Server& server, absl::Time deadline);

}  // namespace herald
