// The drain's steps without Redis: Drain runs parallel steps at once and
// logs every step with its outcome. (The readiness flip is Health's
// SetDraining: runtime/health_test.)
#include "runtime/drain.h"

#include "absl/strings/str_cat.h"

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/log.h"
#include "gtest/gtest.h"

namespace herald {
namespace {

TEST(DrainTest, ParallelStepsRunAtOnceAndEveryStepIsLogged) {
  std::string text;  // the log's lines, as text
  log::Configure(log::Format::kText, log::Level::kInfo);
  log::SetSinkForTest([&text](absl::string_view line) { absl::StrAppend(&text, line, "\n"); });
  Drain drain(absl::Seconds(30));
  EXPECT_GE(drain.deadline(), absl::Now() + absl::Seconds(29));
  // Each step waits (at most 10 s) for the other to have started: run one
  // after the other, both would fail.
  absl::Mutex mutex;
  int started = 0;
  auto meet = [&mutex, &started] {
    absl::MutexLock lock(&mutex);
    ++started;
    auto both = [&started] { return started == 2; };
    if (!mutex.AwaitWithTimeout(absl::Condition(&both), absl::Seconds(10))) {
      return absl::DeadlineExceededError("the other step never started");
    }
    return absl::OkStatus();
  };
  std::vector<std::pair<std::string, Drain::StepFn>> steps;
  steps.emplace_back("batcher 0", meet);
  steps.emplace_back("fanout 0", meet);
  drain.Parallel(std::move(steps));
  drain.Step("embedded Redis SHUTDOWN (AOF fsynced)",
             [] { return absl::DeadlineExceededError("redis-server did not exit"); });
  EXPECT_EQ(drain.Finish(), 1);
  log::SetSinkForTest(nullptr);
  log::Configure(log::Format::kJson, log::Level::kInfo);

  EXPECT_NE(text.find("herald: drain: batcher 0: done in "), std::string::npos) << text;
  EXPECT_NE(text.find("herald: drain: fanout 0: done in "), std::string::npos) << text;
  EXPECT_NE(text.find("herald: drain: embedded Redis SHUTDOWN (AOF fsynced): DEADLINE_EXCEEDED: redis-server did not "
                      "exit (after "),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("herald: drain: finished in "), std::string::npos) << text;
  EXPECT_NE(text.find("(1 step(s) failed, see above)"), std::string::npos) << text;
}

}  // namespace
}  // namespace herald
