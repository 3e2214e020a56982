#include "runtime/drain.h"

#include <grpcpp/server.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/log.h"

namespace herald {

absl::Status ShutdownServer(grpc::Server& server, absl::Time deadline) {
  server.Shutdown(absl::ToChronoTime(deadline));
  // Shutdown returns early only when every call has finished: returning at
  // the deadline means some were cancelled.
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError("the drain deadline passed: calls still running were cancelled");
  }
  return absl::OkStatus();
}

Drain::Drain(absl::Duration timeout) : started_(absl::Now()), deadline_(started_ + timeout) {}

void Drain::Log(absl::string_view name, const absl::Status& status, absl::Duration took) {
  const int64_t ms = absl::ToInt64Milliseconds(took);
  if (status.ok()) {
    log::Info("herald", absl::StrCat("drain: ", name, ": done in ", ms, " ms"), {{"step", name}, {"ms", ms}});
  } else {
    {
      absl::MutexLock lock(&mutex_);
      ++failures_;
    }
    log::Error("herald", absl::StrCat("drain: ", name, ": ", status.ToString(), " (after ", ms, " ms)"),
               {{"step", name}, {"ms", ms}, {"error", status}});
  }
}

void Drain::Step(absl::string_view name, StepFn step) {
  const absl::Time start = absl::Now();
  absl::Status status = step();
  Log(name, status, absl::Now() - start);
}

void Drain::Parallel(std::vector<std::pair<std::string, StepFn>> steps) {
  std::vector<std::thread> threads;
  threads.reserve(steps.size());
  for (auto& [name, step] : steps) {
    threads.emplace_back([this, &name = name, &step = step] { Step(name, std::move(step)); });
  }
  for (std::thread& thread : threads) thread.join();
}

int Drain::Finish() {
  const int64_t ms = absl::ToInt64Milliseconds(absl::Now() - started_);
  absl::MutexLock lock(&mutex_);
  if (failures_ > 0) {
    log::Warning("herald", absl::StrCat("drain: finished in ", ms, " ms (", failures_, " step(s) failed, see above)"),
                 {{"ms", ms}, {"failed_steps", failures_}});
  } else {
    log::Info("herald", absl::StrCat("drain: finished in ", ms, " ms"), {{"ms", ms}});
  }
  return failures_;
}

}  // namespace herald
