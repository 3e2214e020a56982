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

int BulkReadBudget::Next(int64_t now_us) const { return PauseLeft(now_us) > 0 ? 0 : count_; }

int64_t BulkReadBudget::PauseLeft(int64_t now_us) const {
  // The pause only holds while the normal lane is in use.
  if (!Busy(now_us)) return 0;
  return std::max<int64_t>(resume_us_ - now_us, 0);
}

void BulkReadBudget::Observe(size_t normal, size_t bulk, int64_t bulk_us, int64_t now_us) {
  const int max_count = std::max(options_.read_count, 1);
  const int64_t idle_cycle_us = std::max(options_.idle_cycle_us, options_.busy_cycle_us);
  if (normal > 0) {
    if (!Busy(now_us) && idle_cycle_us > options_.busy_cycle_us) {
      // Back from idle: scale at once to the short target (cost per entry
      // assumed unchanged), rather than halving over several long cycles.
      count_ = static_cast<int>(
          std::max<int64_t>(1, static_cast<int64_t>(count_) * options_.busy_cycle_us / idle_cycle_us));
    }
    normal_seen_ = true;
    last_normal_us_ = now_us;
  }
  if (bulk == 0) return;  // nothing learnt about the bulk entries' cost
  const bool busy = Busy(now_us);
  const int64_t target = busy ? options_.busy_cycle_us : idle_cycle_us;
  if (bulk_us > target) {
    count_ = std::max(1, count_ / 2);
  } else if (bulk_us * 2 < target) {
    count_ = std::min(max_count, count_ + std::max(1, count_ / 4));
  }
  const double share = std::clamp(options_.busy_share, 0.01, 1.0);
  if (busy && share < 1.0) resume_us_ = now_us + static_cast<int64_t>(static_cast<double>(bulk_us) * (1 - share) / share);
}

}  // namespace herald::redis
