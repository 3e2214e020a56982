#include "redis/bulk_read_budget.h"

#include <algorithm>

namespace herald::redis {
namespace {

// Where a budget starts: a few entries, grown within a few cycles.
constexpr int kInitialCount = 8;

}  // namespace

BulkReadBudget::BulkReadBudget(const BulkReadBudgetOptions& options)
    : options_(options), count_(std::clamp(kInitialCount, 1, std::max(options.read_count, 1))) {}

bool BulkReadBudget::Busy(int64_t now_us) const {
  // A clock that went backwards counts as busy: the cautious side.
  return normal_seen_ && now_us - last_normal_us_ < options_.idle_after_us;
}

void BulkReadBudget::Observe(size_t normal, size_t bulk, int64_t cycle_us, int64_t now_us) {
  const int max_count = std::max(options_.read_count, 1);
  if (normal > 0) {
    if (!Busy(now_us) && options_.idle_cycle_us > options_.busy_cycle_us) {
      // Back from idle: scale at once to the short target (cost per entry
      // assumed unchanged), rather than halving over several long cycles.
      count_ = static_cast<int>(std::max<int64_t>(
          1, static_cast<int64_t>(count_) * options_.busy_cycle_us / std::max<int64_t>(options_.idle_cycle_us, 1)));
    }
    normal_seen_ = true;
    last_normal_us_ = now_us;
  }
  if (bulk == 0) return;  // nothing learnt about the bulk entries' cost
  const int64_t target = Busy(now_us) ? options_.busy_cycle_us : std::max(options_.idle_cycle_us, options_.busy_cycle_us);
  if (cycle_us > target) {
    count_ = std::max(1, count_ / 2);
  } else if (cycle_us * 2 < target) {
    count_ = std::min(max_count, count_ + std::max(1, count_ / 4));
  }
}

}  // namespace herald::redis
