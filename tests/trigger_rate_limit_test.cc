// Trigger rate limits per API key and per tenant, across two API processes
// (two runtimes on one Redis) that share every bucket: over the limit is
// RESOURCE_EXHAUSTED with a google.rpc.RetryInfo in the status details and
// nothing written, the delay is right, and tokens come back with time (a
// simulated clock, the same for both). Also the existing abuse limits
// (recipients, message size) for TriggerBatch.
#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "auth/api_keys.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "runs/event_entry.h"
#include "services/api/trigger_rate_limiter.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr char kKeyA[] = "hrld_rate-limit-test-key-a";
constexpr char kKeyB[] = "hrld_rate-limit-test-key-b";
// Both processes' simulated clocks start here and move together.
constexpr int64_t kStartMicros = 1'700'000'000'000'000;

class TriggerRateLimitTest : public testing::RedisTest {
 protected:
  // Two API processes on this Redis; `a_` and `b_` send kKeyA, `other_`
  // (on the second process) kKeyB.
  void Start(double per_key, int key_burst, double per_tenant, int tenant_burst) {
    testing::HarnessOptions options;
    options.roles = "api";
    options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "hi"}}
)";
    options.clock_start_micros = kStartMicros;
    options.api_keys = absl::StrCat(auth::Sha256Hex(kKeyA), ",", auth::Sha256Hex(kKeyB));
    options.trigger_rate_per_key = per_key;
    options.trigger_burst_per_key = key_burst;
    options.trigger_rate_per_tenant = per_tenant;
    options.trigger_burst_per_tenant = tenant_burst;
    options.api_key = kKeyA;
    a_ = std::make_unique<testing::HeraldHarness>(endpoint(), options);
    b_ = std::make_unique<testing::HeraldHarness>(endpoint(), options);
    options.api_key = kKeyB;
    other_ = std::make_unique<testing::HeraldHarness>(endpoint(), options);
    ASSERT_TRUE(a_->ok() && b_->ok() && other_->ok());
  }
  void TearDown() override {
    a_.reset();
    b_.reset();
    other_.reset();
  }

  void Advance(int64_t ms) {
    for (auto* harness : {a_.get(), b_.get(), other_.get()}) harness->clock().AdvanceMillis(ms);
  }

  static v1::TriggerRequest Valid(const std::string& tenant = "") {
    v1::TriggerRequest request;
    request.set_workflow("direct");
    request.add_recipients()->set_id("rita");
    request.set_tenant(tenant);
    return request;
  }
  static grpc::Status Trigger(testing::HeraldHarness& harness, const std::string& tenant = "") {
    v1::TriggerResponse response;
    return harness.stub().Trigger(testing::HeraldHarness::Context().get(), Valid(tenant), &response);
  }
  static grpc::Status Batch(testing::HeraldHarness& harness, int triggers, v1::TriggerBatchResponse* response) {
    v1::TriggerBatchRequest batch;
    for (int i = 0; i < triggers; ++i) *batch.add_triggers() = Valid();
    return harness.stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, response);
  }

  // Every key but the rate limits' buckets (which a refusal may touch).
  static std::vector<std::string> DataKeys() {
    std::vector<std::string> keys;
    for (const std::string& key : AllKeys()) {
      if (!absl::StrContains(key, "{triggerlimit:")) keys.push_back(key);
    }
    return keys;
  }
  // Trigger events in the events streams; an entry holds one or, written
  // by the group commit, several (runs/event_entry.h).
  static int64_t EventCount() {
    auto client = Connect();
    int64_t count = 0;
    for (int p = 0; p < 4; ++p) {
      for (const std::string& stream : {Keys(p).Events(), Keys(p).EventsBulk()}) {
        auto entries = client->Execute({"XRANGE", stream, "-", "+"});
        if (!entries.ok()) continue;
        for (const redis::Reply& entry : entries->elements) {
          const redis::Reply& fields = entry.elements[1];
          std::vector<v1::internal::EventEnvelope> events;
          const bool batch = fields.elements[0].str == runs::kEventBatchField;
          if (runs::DecodeEventEntry(fields.elements[1].str, batch, &events).ok()) count += events.size();
        }
      }
    }
    return count;
  }

  // The retry delay in the status details, in ms; -1 when there is none.
  static int64_t RetryDelayMs(const grpc::Status& status) {
    google::rpc::Status details;
    if (status.error_details().empty() || !details.ParseFromString(status.error_details())) return -1;
    EXPECT_EQ(details.code(), static_cast<int>(status.error_code()));
    EXPECT_EQ(details.message(), status.error_message());
    for (const google::protobuf::Any& any : details.details()) {
      google::rpc::RetryInfo retry;
      if (any.type_url() != api::kRetryInfoTypeUrl || !any.UnpackTo(&retry)) continue;
      return retry.retry_delay().seconds() * 1000 + retry.retry_delay().nanos() / 1'000'000;
    }
    return -1;
  }

  std::unique_ptr<testing::HeraldHarness> a_, b_, other_;
};

TEST_F(TriggerRateLimitTest, AKeysLimitIsSharedByEveryApiProcessAndRefillsWithTime) {
  Start(/*per_key=*/2, /*key_burst=*/3, 0, 0);
  ASSERT_TRUE(Trigger(*a_).ok());
  ASSERT_TRUE(Trigger(*b_).ok());
  ASSERT_TRUE(Trigger(*a_).ok());

  const std::vector<std::string> keys = DataKeys();
  const int64_t events = EventCount();
  grpc::Status limited = Trigger(*b_);
  ASSERT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << limited.error_message();
  EXPECT_EQ(RetryDelayMs(limited), 500);  // 2 tokens a second
  EXPECT_EQ(limited.error_message(), "rate limit: too many triggers for this API key; retry after 500 ms");
  EXPECT_EQ(DataKeys(), keys);
  EXPECT_EQ(EventCount(), events);

  // Another key has a bucket of its own.
  EXPECT_TRUE(Trigger(*other_).ok());

  Advance(250);
  EXPECT_EQ(RetryDelayMs(Trigger(*a_)), 250);
  Advance(250);
  EXPECT_TRUE(Trigger(*b_).ok());
  EXPECT_EQ(Trigger(*a_).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  Advance(10'000);  // refills to the burst, no further
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(Trigger(i % 2 == 0 ? *a_ : *b_).ok()) << i;
  EXPECT_EQ(Trigger(*a_).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(TriggerRateLimitTest, ATenantsLimitCountsTriggersOfThatTenantFromEveryKey) {
  Start(0, 0, /*per_tenant=*/1, /*tenant_burst=*/2);
  ASSERT_TRUE(Trigger(*a_, "acme").ok());
  ASSERT_TRUE(Trigger(*other_, "acme").ok());
  const int64_t events = EventCount();
  grpc::Status limited = Trigger(*b_, "acme");
  ASSERT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(limited.error_message(), "rate limit: too many triggers for tenant acme; retry after 1000 ms");
  EXPECT_EQ(RetryDelayMs(limited), 1000);
  EXPECT_EQ(EventCount(), events);
  // Other tenants and triggers without a tenant are not held back.
  EXPECT_TRUE(Trigger(*b_, "globex").ok());
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(Trigger(*a_).ok());
  Advance(1000);
  EXPECT_TRUE(Trigger(*b_, "acme").ok());
}

TEST_F(TriggerRateLimitTest, ABatchTakesOneTokenPerTriggerAllOrNothing) {
  Start(/*per_key=*/1, /*key_burst=*/4, 0, 0);
  v1::TriggerBatchResponse response;
  // Invalid triggers of a batch take no token.
  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = Valid();
  batch.add_triggers()->set_workflow("nope");
  *batch.add_triggers() = Valid();
  ASSERT_TRUE(a_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
  EXPECT_EQ(response.results(1).code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));

  // Two tokens left: a batch of three is refused whole and writes nothing.
  const int64_t events = EventCount();
  grpc::Status limited = Batch(*b_, 3, &response);
  ASSERT_EQ(limited.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(RetryDelayMs(limited), 1000);
  EXPECT_EQ(EventCount(), events);
  ASSERT_TRUE(Batch(*b_, 2, &response).ok());
  EXPECT_EQ(EventCount(), events + 2);

  // More than the bucket ever holds: no delay would help.
  Advance(60'000);
  grpc::Status never = Batch(*a_, 5, &response);
  ASSERT_EQ(never.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(RetryDelayMs(never), -1);
  EXPECT_EQ(never.error_message(),
            "rate limit: 5 triggers in one call exceed the burst of 4 for this API key; send at most 4 per call");
  EXPECT_TRUE(Batch(*a_, 4, &response).ok());
}

// A call one bucket refuses costs the other buckets nothing.
TEST_F(TriggerRateLimitTest, TokensTakenForARefusedCallAreGivenBack) {
  Start(/*per_key=*/1, /*key_burst=*/3, /*per_tenant=*/1, /*tenant_burst=*/1);
  ASSERT_TRUE(Trigger(*a_, "acme").ok());  // key: 2 left, acme: 0 left
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Trigger(*b_, "acme").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(Trigger(*a_).ok());
  ASSERT_TRUE(Trigger(*b_).ok());
  EXPECT_EQ(Trigger(*a_).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// Without limits nothing about rate limits reaches Redis.
TEST_F(TriggerRateLimitTest, WithoutLimitsNoBucketExists) {
  Start(0, 0, 0, 0);
  v1::TriggerBatchResponse response;
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Trigger(*a_, "acme").ok());
  ASSERT_TRUE(Batch(*b_, 50, &response).ok());
  for (const std::string& key : AllKeys()) EXPECT_FALSE(absl::StrContains(key, "triggerlimit")) << key;
}

// The abuse limits that existed before rate limits hold for TriggerBatch
// too: recipients per trigger (that trigger fails), and the gRPC message
// size (the whole call fails, nothing written).
TEST_F(TriggerRateLimitTest, RecipientAndMessageSizeLimitsApplyToBatches) {
  Start(0, 0, 0, 0);
  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = Valid();
  v1::TriggerRequest crowd = Valid();
  for (int i = 0; i < 1001; ++i) crowd.add_recipients()->set_id(absl::StrCat("u", i));
  *batch.add_triggers() = crowd;
  v1::TriggerBatchResponse response;
  ASSERT_TRUE(a_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
  EXPECT_EQ(response.results(0).code(), 0);
  EXPECT_EQ(response.results(1).code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(absl::StartsWith(response.results(1).error(), "triggers[1].recipients")) << response.results(1).error();

  const int64_t events = EventCount();
  v1::TriggerBatchRequest huge;
  for (int i = 0; i < 200; ++i) {
    v1::TriggerRequest* trigger = huge.add_triggers();
    *trigger = Valid();
    trigger->set_data_json(absl::StrCat(R"({"x": ")", std::string(30'000, 'y'), R"("})"));
  }
  grpc::Status refused = a_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), huge, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << refused.error_message();
  EXPECT_EQ(EventCount(), events);
}

}  // namespace
}  // namespace herald
