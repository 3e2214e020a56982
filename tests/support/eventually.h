// Polling for a condition in tests, where there is no event to wait on.
#pragma once

#include <algorithm>
#include <functional>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace herald::testing {

// Polls `condition` until it holds (true) or `timeout` passes (false, after
// one last look). The first look is at once; the pauses between looks grow
// from 5 ms to 40 ms, so a quick condition is seen quickly and a slow,
// costly one (an HTTP scrape, a query) is not asked hundreds of times a
// second.
inline bool Eventually(const std::function<bool()>& condition, absl::Duration timeout = absl::Seconds(20)) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Milliseconds(5);
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(std::min(pause, deadline - absl::Now()));
    pause = std::min(pause * 2, absl::Milliseconds(40));
  }
  return condition();
}

}  // namespace herald::testing
