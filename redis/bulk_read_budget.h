// How much of the bulk lane one read of a stage takes (core/keys.h Lane).
// A read cycle is processed as a whole, so a normal-lane entry that arrives
// during a cycle waits for it to finish: the time a cycle spends on bulk
// entries is the delay a noisy tenant adds to everyone else, per stage.
// The budget is therefore a time, not a count: the entries taken from each
// bulk stream adapt (halved when a cycle ran over its target, grown by a
// quarter when it took less than half) so a cycle stays near the target,
// whatever one entry costs (one run or a thousand). The target is short
// while the normal lane is in use and longer once it has been idle for a
// while, so a tenant alone in the bulk lane runs at nearly full speed; when
// a normal entry shows up again the count is cut at once to the short
// target. Plain logic with the times passed in; not thread-safe (one per
// worker).
#pragma once

#include <cstddef>
#include <cstdint>

namespace herald::redis {

struct BulkReadBudgetOptions {
  // The most a read takes per stream (the stage's read count).
  int read_count = 256;
  // How long a cycle may take while the normal lane is in use ...
  int64_t busy_cycle_us = 2'000;
  // ... and once the normal lane gave no entry for idle_after_us.
  int64_t idle_cycle_us = 50'000;
  int64_t idle_after_us = 500'000;
};

class BulkReadBudget {
 public:
  explicit BulkReadBudget(const BulkReadBudgetOptions& options);

  // Entries the next read may take from each bulk stream (1..read_count).
  int Next() const { return count_; }
  // A read at `now_us` took `normal` and `bulk` entries, and processing them
  // took `cycle_us`.
  void Observe(size_t normal, size_t bulk, int64_t cycle_us, int64_t now_us);

 private:
  bool Busy(int64_t now_us) const;

  const BulkReadBudgetOptions options_;
  int count_;
  bool normal_seen_ = false;
  int64_t last_normal_us_ = 0;
};

}  // namespace herald::redis
