// Which lane (core/keys.h Lane) a trigger is written to. Each API process
// keeps a decaying estimate of every tenant's rate of runs (recipients of
// its triggers); a tenant above the fair share goes to the bulk lane, where
// the stages take its entries only after the normal lane's in every read,
// and comes back once its rate fell under half the fair share (hysteresis:
// a tenant near the threshold does not flip lanes call after call). The
// estimate counts every trigger that reaches planning, admitted or not: a
// tenant hammering past its admission limit is noisy. Plain logic with the
// time passed in; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/keys.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace herald::api {

struct TenantLaneOptions {
  // Runs per second (per API process) above which a tenant's triggers go
  // to the bulk lane; 0 = no lanes (every trigger in the normal lane).
  double fair_share_rate = 1000;
  // A tenant in the bulk lane returns once its rate is below this fraction
  // of the fair share.
  double leave_fraction = 0.5;
  // Time constant of the estimate: a run's weight falls to 1/e after this
  // long, so a burst of up to fair_share_rate * time_constant runs at once
  // stays in the normal lane.
  int64_t time_constant_ms = 1000;
};

// Thread-safe.
class TenantLanes {
 public:
  // INVALID_ARGUMENT naming the flag (--tenant_fair_share_rate) for a
  // negative or non-finite rate, or the field for bad internals.
  static absl::Status Validate(const TenantLaneOptions& options);

  // REQUIRES: Validate(options) is OK. `metrics` must outlive the lanes.
  TenantLanes(const TenantLaneOptions& options, prometheus::Registry& metrics);
  TenantLanes(const TenantLanes&) = delete;
  TenantLanes& operator=(const TenantLanes&) = delete;

  // Counts `runs` runs of `tenant` ("" = no tenant, one more tenant) at
  // `now_us` and returns the lane of the trigger they belong to.
  Lane Choose(absl::string_view tenant, int runs, int64_t now_us);

  // The tenant's estimated rate (runs/s) at `now_us`; 0 for one not tracked.
  double RateForTest(absl::string_view tenant, int64_t now_us) const;
  // Tenants with an estimate held in memory.
  size_t TrackedTenantsForTest() const;

 private:
  struct Tenant {
    double rate = 0;  // runs/s at `at_us`
    int64_t at_us = 0;
    bool bulk = false;
  };
  struct Move {
    std::string tenant;
    bool to_bulk;
    double rate;
  };

  // The estimate decayed from its last update to `now_us`.
  double Decayed(const Tenant& tenant, int64_t now_us) const;
  // Every second: lets tenants that went quiet leave the bulk lane and
  // forgets those whose estimate is negligible.
  void Sweep(int64_t now_us, std::vector<Move>* moves) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Report(const std::vector<Move>& moves, int64_t bulk_tenants);

  // Constant after construction.
  const TenantLaneOptions options_;
  const double time_constant_us_;
  prometheus::Counter& normal_runs_;
  prometheus::Counter& bulk_runs_;
  prometheus::Gauge& bulk_tenants_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, Tenant> tenants_ ABSL_GUARDED_BY(mu_);
  int64_t bulk_count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t last_sweep_us_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace herald::api
