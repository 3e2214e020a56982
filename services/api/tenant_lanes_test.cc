// TenantLanes with the time passed in: the threshold, the decay of the
// estimate, the hysteresis, and forgetting quiet tenants.
#include "services/api/tenant_lanes.h"

#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace herald::api {
namespace {

constexpr int64_t kSecond = 1'000'000;

class TenantLanesTest : public testing::Test {
 protected:
  // `count` triggers of `runs` runs each, evenly over [start, start + span).
  Lane Send(TenantLanes& lanes, absl::string_view tenant, int count, int runs, int64_t start, int64_t span) {
    Lane last = Lane::kNormal;
    for (int i = 0; i < count; ++i) last = lanes.Choose(tenant, runs, start + span * i / count);
    return last;
  }

  prometheus::Registry registry_;
};

TEST_F(TenantLanesTest, ValidateNamesTheFlag) {
  TenantLaneOptions options;
  options.fair_share_rate = -1;
  absl::Status status = TenantLanes::Validate(options);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("--tenant_fair_share_rate"), absl::string_view::npos);
  options.fair_share_rate = std::numeric_limits<double>::infinity();
  EXPECT_FALSE(TenantLanes::Validate(options).ok());
  options.fair_share_rate = 0;
  EXPECT_TRUE(TenantLanes::Validate(options).ok());
}

TEST_F(TenantLanesTest, ASteadyRateIsEstimatedAsThatRate) {
  TenantLanes lanes({/*fair_share_rate=*/1e9, 0.5, /*time_constant_ms=*/1000}, registry_);
  // 200 triggers/s of 3 runs for 5 time constants: 600 runs/s.
  Send(lanes, "acme", 1000, 3, 0, 5 * kSecond);
  EXPECT_NEAR(lanes.RateForTest("acme", 5 * kSecond), 600, 600 * 0.02);
}

TEST_F(TenantLanesTest, TheEstimateDecaysByEPerTimeConstant) {
  TenantLanes lanes({1e9, 0.5, 1000}, registry_);
  lanes.Choose("acme", 500, 0);  // 500 runs at once: 500 runs/s over one time constant
  EXPECT_NEAR(lanes.RateForTest("acme", 0), 500, 1e-6);
  EXPECT_NEAR(lanes.RateForTest("acme", kSecond), 500 / std::exp(1.0), 1e-6);
  EXPECT_NEAR(lanes.RateForTest("acme", 3 * kSecond), 500 / std::exp(3.0), 1e-6);
  // A clock that went backwards decays nothing (and does not grow it).
  lanes.Choose("acme", 0, 2 * kSecond);
  EXPECT_NEAR(lanes.RateForTest("acme", kSecond), 500 / std::exp(2.0), 1e-6);
}

TEST_F(TenantLanesTest, AboveTheFairShareGoesBulkOthersStayNormal) {
  TenantLanes lanes({1000, 0.5, 1000}, registry_);
  // The noisy tenant at 10x the quiet one's rate, interleaved.
  Lane noisy = Lane::kNormal, quiet = Lane::kNormal;
  for (int i = 0; i < 5000; ++i) {
    const int64_t at = 5 * kSecond * i / 5000;
    noisy = lanes.Choose("noisy", 10, at);             // 10,000 runs/s
    if (i % 10 == 0) quiet = lanes.Choose("quiet", 1, at);  // 100 runs/s
  }
  EXPECT_EQ(noisy, Lane::kBulk);
  EXPECT_EQ(quiet, Lane::kNormal);
  EXPECT_NEAR(lanes.RateForTest("quiet", 5 * kSecond), 100, 5);
}

TEST_F(TenantLanesTest, ABurstOfOneFairShareStaysNormal) {
  TenantLanes lanes({1000, 0.5, 1000}, registry_);
  // One TriggerBatch of 1000 runs: 1000/s over one time constant, not above.
  EXPECT_EQ(lanes.Choose("acme", 1000, 0), Lane::kNormal);
  EXPECT_EQ(lanes.Choose("acme", 1, 0), Lane::kBulk);
}

TEST_F(TenantLanesTest, HysteresisLeavesBulkOnlyUnderHalfTheShare) {
  TenantLanes lanes({1000, 0.5, 1000}, registry_);
  ASSERT_EQ(Send(lanes, "acme", 3000, 1, 0, kSecond), Lane::kBulk);  // 3,000 runs/s
  // Calming to 700 runs/s (under the share, over half of it): still bulk.
  int64_t t = kSecond;
  EXPECT_EQ(Send(lanes, "acme", 3500, 1, t, 5 * kSecond), Lane::kBulk);
  EXPECT_NEAR(lanes.RateForTest("acme", 6 * kSecond), 700, 30);
  // At 300 runs/s the estimate sinks under 500: back to normal, and it
  // stays normal at 700 runs/s again (under the share).
  t = 6 * kSecond;
  EXPECT_EQ(Send(lanes, "acme", 1500, 1, t, 5 * kSecond), Lane::kNormal);
  t = 11 * kSecond;
  EXPECT_EQ(Send(lanes, "acme", 3500, 1, t, 5 * kSecond), Lane::kNormal);
}

TEST_F(TenantLanesTest, AQuietBulkTenantIsReleasedAndForgotten) {
  TenantLanes lanes({1000, 0.5, 1000}, registry_);
  ASSERT_EQ(Send(lanes, "noisy", 5000, 1, 0, kSecond), Lane::kBulk);
  EXPECT_EQ(lanes.TrackedTenantsForTest(), 1u);
  // Others' calls sweep: after ten time constants of silence the noisy
  // tenant is forgotten, and the next call starts from nothing.
  for (int64_t s = 2; s <= 13; ++s) lanes.Choose("other", 1, s * kSecond);
  EXPECT_EQ(lanes.TrackedTenantsForTest(), 1u);  // "other" only
  EXPECT_EQ(lanes.RateForTest("noisy", 13 * kSecond), 0);
  EXPECT_EQ(lanes.Choose("noisy", 1, 13 * kSecond), Lane::kNormal);
}

TEST_F(TenantLanesTest, NoTenantIsATenantToo) {
  TenantLanes lanes({1000, 0.5, 1000}, registry_);
  EXPECT_EQ(Send(lanes, "", 5000, 1, 0, kSecond), Lane::kBulk);
  EXPECT_EQ(lanes.Choose("acme", 1, kSecond), Lane::kNormal);
}

TEST_F(TenantLanesTest, ZeroFairShareMeansNoLanes) {
  TenantLanes lanes({0, 0.5, 1000}, registry_);
  EXPECT_EQ(Send(lanes, "noisy", 100000, 100, 0, kSecond), Lane::kNormal);
  EXPECT_EQ(lanes.TrackedTenantsForTest(), 0u);
}

}  // namespace
}  // namespace herald::api
