// How much CPU this machine gives one busy thread, and how long it is held
// off the CPU: spins for --seconds reading the monotonic clock and reports
// every gap between two reads longer than 1 ms. On a dedicated core the
// share is ~1.0 and gaps are rare and short; on an oversubscribed VM they
// are what bounds any latency percentile measured on it.
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(double, seconds, 10, "How long each thread spins");
ABSL_FLAG(int, threads, 1, "Busy threads at once");

namespace {

using Clock = std::chrono::steady_clock;

struct Gaps {
  int over_1ms = 0, over_20ms = 0, over_100ms = 0;
  double max_ms = 0, total_ms = 0;
};

Gaps Spin(double seconds) {
  Gaps gaps;
  auto start = Clock::now(), last = start;
  auto end = start + std::chrono::duration<double>(seconds);
  while (last < end) {
    auto now = Clock::now();
    double gap_ms = std::chrono::duration<double, std::milli>(now - last).count();
    last = now;
    if (gap_ms <= 1) continue;
    ++gaps.over_1ms;
    if (gap_ms > 20) ++gaps.over_20ms;
    if (gap_ms > 100) ++gaps.over_100ms;
    gaps.total_ms += gap_ms;
    gaps.max_ms = std::max(gaps.max_ms, gap_ms);
  }
  return gaps;
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int thread_count = std::clamp(absl::GetFlag(FLAGS_threads), 1, 64);
  std::vector<Gaps> results(thread_count);
  std::vector<std::thread> threads;
  for (int i = 0; i < thread_count; ++i) threads.emplace_back([&, i] { results[i] = Spin(seconds); });
  for (auto& thread : threads) thread.join();
  for (const Gaps& gaps : results) {
    nlohmann::json line = {{"seconds", seconds},
                           {"cpu_share", std::round(100 - gaps.total_ms / (seconds * 10)) / 100},
                           {"gaps_over_1ms", gaps.over_1ms},
                           {"gaps_over_20ms", gaps.over_20ms},
                           {"gaps_over_100ms", gaps.over_100ms},
                           {"max_gap_ms", std::round(gaps.max_ms)}};
    std::cout << line.dump() << std::endl;
  }
  return 0;
}
