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
// target. While the normal lane is in use the bulk lane also gets only a
// share of the worker's time: after each bulk cycle the worker reads the
// normal lane alone for a while, which leaves the machine (CPU, Redis)
// room for the other tenants even when a flood saturates it.
// Plain logic with the times passed in; not thread-safe (one per worker).
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
  // While the normal lane is in use: the share of time bulk cycles take
  // (in (0, 1]; 1 = no pause between them).
  double busy_share = 0.5;
};

class BulkReadBudget {
 public:
  explicit BulkReadBudget(const BulkReadBudgetOptions& options);

  // Entries the read at `now_us` may take from each bulk stream: 0 during
  // the pause after a bulk cycle (read the normal lane alone), else
  // 1..read_count.
  int Next(int64_t now_us) const;
  // How long the pause lasts from `now_us` (0 when none).
  int64_t PauseLeft(int64_t now_us) const;
  // A read at `now_us` took `normal` and `bulk` entries, and processing the
  // bulk ones took `bulk_us` (ending at now_us).
  void Observe(size_t normal, size_t bulk, int64_t bulk_us, int64_t now_us);

 private:
  bool Busy(int64_t now_us) const;

  const BulkReadBudgetOptions options_;
  int count_;
  bool normal_seen_ = false;
  int64_t last_normal_us_ = 0;
  int64_t resume_us_ = 0;  // no bulk read before this
};

}  // namespace herald::redis
