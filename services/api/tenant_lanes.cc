#include "services/api/tenant_lanes.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/log.h"

namespace herald::api {
namespace {

// An estimate idle this many time constants (weight e^-10) is forgotten.
constexpr double kForgetAfterTimeConstants = 10;

prometheus::Family<prometheus::Counter>& LaneRunsFamily(prometheus::Registry& registry) {
  return prometheus::BuildCounter()
      .Name("herald_lane_runs_total")
      .Help("Runs (recipients of accepted-for-planning triggers) the API wrote to each lane")
      .Register(registry);
}

}  // namespace

absl::Status TenantLanes::Validate(const TenantLaneOptions& options) {
  if (!(options.fair_share_rate >= 0) || std::isinf(options.fair_share_rate)) {
    return absl::InvalidArgumentError("--tenant_fair_share_rate: must be a number >= 0 (0 = no lanes)");
  }
  if (!(options.leave_fraction > 0 && options.leave_fraction <= 1)) {
    return absl::InvalidArgumentError("tenant lanes: leave_fraction must be in (0, 1]");
  }
  if (options.time_constant_ms < 1) return absl::InvalidArgumentError("tenant lanes: time_constant_ms must be >= 1");
  return absl::OkStatus();
}

TenantLanes::TenantLanes(const TenantLaneOptions& options, prometheus::Registry& metrics)
    : options_(options),
      time_constant_us_(static_cast<double>(options.time_constant_ms) * 1000.0),
      normal_runs_(LaneRunsFamily(metrics).Add({{"lane", "normal"}})),
      bulk_runs_(LaneRunsFamily(metrics).Add({{"lane", "bulk"}})),
      bulk_tenants_(prometheus::BuildGauge()
                        .Name("herald_bulk_lane_tenants")
                        .Help("Tenants whose triggers this API process currently writes to the bulk lane")
                        .Register(metrics)
                        .Add({})) {}

double TenantLanes::Decayed(const Tenant& tenant, int64_t now_us) const {
  // A clock that went backwards decays nothing.
  const double elapsed = static_cast<double>(std::max<int64_t>(now_us - tenant.at_us, 0));
  return tenant.rate * std::exp(-elapsed / time_constant_us_);
}

Lane TenantLanes::Choose(absl::string_view tenant, int runs, int64_t now_us) {
  if (options_.fair_share_rate <= 0) {
    normal_runs_.Increment(runs);
    return Lane::kNormal;
  }
  std::vector<Move> moves;
  Lane lane;
  int64_t bulk_tenants;
  {
    absl::MutexLock lock(&mu_);
    Tenant& state = tenants_[tenant];
    // Exponential decay of the rate since the last update, plus this call:
    // at a steady rate R the estimate settles at R.
    state.rate = Decayed(state, now_us) + static_cast<double>(std::max(runs, 0)) * 1e6 / time_constant_us_;
    state.at_us = std::max(state.at_us, now_us);
    if (!state.bulk && state.rate > options_.fair_share_rate) {
      state.bulk = true;
      ++bulk_count_;
      moves.push_back({std::string(tenant), true, state.rate});
    } else if (state.bulk && state.rate < options_.fair_share_rate * options_.leave_fraction) {
      state.bulk = false;
      --bulk_count_;
      moves.push_back({std::string(tenant), false, state.rate});
    }
    lane = state.bulk ? Lane::kBulk : Lane::kNormal;
    if (now_us - last_sweep_us_ >= static_cast<int64_t>(time_constant_us_) || now_us < last_sweep_us_) {
      Sweep(now_us, &moves);
    }
    bulk_tenants = bulk_count_;
  }
  (lane == Lane::kBulk ? bulk_runs_ : normal_runs_).Increment(runs);
  if (!moves.empty()) Report(moves, bulk_tenants);
  return lane;
}

void TenantLanes::Sweep(int64_t now_us, std::vector<Move>* moves) {
  last_sweep_us_ = now_us;
  const double forget_us = kForgetAfterTimeConstants * time_constant_us_;
  for (auto it = tenants_.begin(); it != tenants_.end();) {
    Tenant& state = it->second;
    const double rate = Decayed(state, now_us);
    if (state.bulk && rate < options_.fair_share_rate * options_.leave_fraction) {
      state.bulk = false;
      --bulk_count_;
      moves->push_back({it->first, false, rate});
    }
    if (!state.bulk && static_cast<double>(now_us - state.at_us) >= forget_us) {
      tenants_.erase(it++);
      continue;
    }
    ++it;
  }
}

void TenantLanes::Report(const std::vector<Move>& moves, int64_t bulk_tenants) {
  bulk_tenants_.Set(static_cast<double>(bulk_tenants));
  for (const Move& move : moves) {
    // Bounded by the hysteresis: a tenant moves at most about once per
    // time constant each way.
    log::Info("api", move.to_bulk ? "tenant above the fair share: its triggers go to the bulk lane"
                                   : "tenant back under the fair share: its triggers go to the normal lane",
              {{"tenant", move.tenant},
               {"runs_per_second", static_cast<int64_t>(std::llround(move.rate))},
               {"fair_share_rate", static_cast<int64_t>(std::llround(options_.fair_share_rate))}});
  }
}

double TenantLanes::RateForTest(absl::string_view tenant, int64_t now_us) const {
  absl::MutexLock lock(&mu_);
  auto it = tenants_.find(tenant);
  return it == tenants_.end() ? 0 : Decayed(it->second, now_us);
}

size_t TenantLanes::TrackedTenantsForTest() const {
  absl::MutexLock lock(&mu_);
  return tenants_.size();
}

}  // namespace herald::api
