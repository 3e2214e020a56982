// The throttle, branch and computed-delay steps end to end through every
// role (trigger -> batcher -> wait store -> fan-out -> feed), with the
// simulated clock, and the races they must win: concurrent triggers counted
// by one throttle (exactly `limit` pass), and a cancel racing the expiry of
// a 200-day delay (each run delivered or cancelled, never both, never
// neither).
#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdio>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/keys.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.workflow_files["limited.yaml"] = R"(
key: limited
steps:
  - {ref: hourly, type: throttle, limit: 2, window: 1h, throttle_key: "{{ data.topic }}"}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "about {{ data.topic }}"}}
)";
  options.workflow_files["crowd.yaml"] = R"(
key: crowd
steps:
  - {ref: daily, type: throttle, limit: 7, window: 1d}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "n {{ data.n }}"}}
)";
  options.workflow_files["orders.yaml"] = R"(
key: orders
steps:
  - ref: route
    type: branch
    branches:
      - name: big
        conditions: [{variable: data.amount, operator: greater_than, argument: 1000}]
        steps:
          - {ref: gather, type: batch, window: 10s, render_limit: 5}
          - ref: manager
            type: channel
            channel_type: in_app_feed
            template: {markdown: "{{ total_activities }} big orders, newest {{ data.id }}"}
          - {ref: pause, type: delay, duration: 1h}
          - {ref: follow_up, type: channel, channel_type: in_app_feed, template: {markdown: "follow-up on {{ data.id }}"}}
      - name: blocked
        conditions: {any: [{variable: data.blocked, operator: equal_to, argument: true}]}
        terminate: true
      - name: small
        default: true
        steps:
          - {ref: small_note, type: channel, channel_type: in_app_feed, template: {markdown: "small order {{ data.id }}"}}
  - {ref: after, type: channel, channel_type: in_app_feed, template: {markdown: "after {{ data.id }}"}}
)";
  options.workflow_files["waits.yaml"] = R"(
key: waits
steps:
  - {ref: wait, type: delay, duration_path: data.wait}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "waited {{ data.wait }}"}}
)";
  options.workflow_files["trial_end.yaml"] = R"(
key: trial_end
steps:
  - {ref: wait, type: delay, delay_until: data.trial_ends_at, before: 3d}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "trial ends {{ data.trial_ends_at }}"}}
)";
  options.workflow_files["renewal.yaml"] = R"(
key: renewal
steps:
  - {ref: wait, type: delay, delay_until: recipient.renews_at}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "renewal for {{ recipient.name }}"}}
)";
  options.workflow_files["long.yaml"] = R"(
key: long
steps:
  - {ref: wait, type: delay, duration: 200d}
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "200 days later"}}
)";
  return options;
}

std::string Rfc3339(int64_t ms) { return absl::FormatTime(absl::RFC3339_sec, absl::FromUnixMillis(ms), absl::UTCTimeZone()); }

class WorkflowStepsTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    for (const char* name : {"ana", "bo", "rita"}) ASSERT_TRUE(harness_->Identify(name, name).ok());
  }
  void TearDown() override { harness_.reset(); }

  std::string Trigger(const std::string& workflow, const std::string& recipient, const std::string& data,
                      const std::string& cancellation_key = "") {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    request.add_recipients()->set_id(recipient);
    request.set_data_json(data);
    request.set_cancellation_key(cancellation_key);
    v1::TriggerResponse response;
    grpc::Status status = harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.runs_size() > 0 ? response.runs(0).workflow_run_id() : "";
  }

  void AdvanceAndDrain(absl::Duration by) {
    ASSERT_TRUE(harness_->WaitForIdle());
    harness_->clock().AdvanceMicros(absl::ToInt64Microseconds(by));
    ASSERT_TRUE(harness_->WaitForIdle());
  }

  // The markdown of every feed item of `user`, oldest first.
  std::vector<std::string> Feed(const std::string& user) {
    std::vector<std::string> texts;
    for (const v1::FeedItem& item : harness_->AllFeedItems(user)) {
      texts.insert(texts.begin(), item.blocks_size() > 0 ? item.blocks(0).markdown() : "");
    }
    return texts;
  }

  // The not_sent messages of `user`, through the API that lists messages.
  std::vector<v1::Message> NotSent(const std::string& user) {
    v1::ListMessagesRequest request;
    request.set_recipient(user);
    request.set_status("not_sent");
    request.set_page_size(100);
    v1::ListMessagesResponse response;
    grpc::Status status = harness_->stub().ListMessages(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.messages().begin(), response.messages().end()};
  }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(WorkflowStepsTest, ThrottleLetsTheLimitThroughPerKeyAndWindowAndRecordsTheRestThrottled) {
  std::set<std::string> topic_a_runs;
  for (int i = 0; i < 3; ++i) topic_a_runs.insert(Trigger("limited", "rita", R"({"topic": "a"})"));
  Trigger("limited", "rita", R"({"topic": "b"})");  // another key: its own window
  Trigger("limited", "ana", R"({"topic": "a"})");   // another recipient: their own window
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_THAT(Feed("rita"), ::testing::UnorderedElementsAre("about a", "about a", "about b"));
  EXPECT_THAT(Feed("ana"), ::testing::ElementsAre("about a"));
  std::vector<v1::Message> throttled = NotSent("rita");
  ASSERT_EQ(throttled.size(), 1u);
  EXPECT_EQ(throttled[0].reason(), "throttled");
  EXPECT_EQ(throttled[0].workflow(), "limited");
  EXPECT_THAT(throttled[0].rule(), ::testing::HasSubstr("hourly"));
  EXPECT_TRUE(topic_a_runs.count(throttled[0].workflow_run_id())) << throttled[0].workflow_run_id();
  EXPECT_TRUE(NotSent("ana").empty());

  // The window slides: 59 minutes on, both passes still count; an hour after
  // them, neither does.
  AdvanceAndDrain(absl::Minutes(59));
  Trigger("limited", "rita", R"({"topic": "a"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(Feed("rita").size(), 3u);
  EXPECT_EQ(NotSent("rita").size(), 2u);
  AdvanceAndDrain(absl::Minutes(1) + absl::Seconds(1));
  Trigger("limited", "rita", R"({"topic": "a"})");
  Trigger("limited", "rita", R"({"topic": "a"})");
  Trigger("limited", "rita", R"({"topic": "a"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(Feed("rita").size(), 5u);
  EXPECT_EQ(NotSent("rita").size(), 3u);
}

// Many API clients trigger at once: the throttle script is the only place
// that counts, so exactly `limit` pass, and every other run is recorded.
TEST_F(WorkflowStepsTest, ConcurrentTriggersPassAThrottleExactlyLimitTimes) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 6;
  std::atomic<int> accepted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int n = 0; n < kPerThread; ++n) {
        if (!Trigger("crowd", "rita", absl::StrCat(R"({"n": )", t * kPerThread + n, "}")).empty()) ++accepted;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(accepted.load(), kThreads * kPerThread);
  ASSERT_TRUE(harness_->WaitForIdle(absl::Seconds(60)));
  EXPECT_EQ(Feed("rita").size(), 7u);
  std::vector<v1::Message> throttled = NotSent("rita");
  EXPECT_EQ(throttled.size(), static_cast<size_t>(kThreads * kPerThread - 7));
  for (const v1::Message& message : throttled) EXPECT_EQ(message.reason(), "throttled");
}

TEST_F(WorkflowStepsTest, BranchesRouteEachRunAndABranchCanBatchAndDelay) {
  const std::string first_run = Trigger("orders", "rita", R"({"amount": 2000, "id": 1})");
  Trigger("orders", "rita", R"({"amount": 3000, "id": 2})");
  Trigger("orders", "ana", R"({"amount": 5, "id": 3})");
  Trigger("orders", "bo", R"({"amount": 5, "id": 4, "blocked": true})");
  ASSERT_TRUE(harness_->WaitForIdle());
  // The default branch, then the step after the branch step.
  EXPECT_THAT(Feed("ana"), ::testing::ElementsAre("small order 3", "after 3"));
  EXPECT_TRUE(Feed("rita").empty()) << "the big branch waits in its batch";
  AdvanceAndDrain(absl::Seconds(11));
  // One batch of both orders; then the run waits in the branch's delay.
  EXPECT_THAT(Feed("rita"), ::testing::ElementsAre("2 big orders, newest 2"));
  // The claim remembered the run under the batch's own step (1, the flat
  // index of `gather`), not the step before its resume step (3 - 1): a
  // replayed append of it is a duplicate.
  auto client = Connect();
  const Keys& keys = KeysOf(PartitionOf("rita", 4));
  auto remembered = client->Execute({"EXISTS", keys.RunAppended(first_run, 1), keys.RunAppended(first_run, 2)});
  ASSERT_TRUE(remembered.ok());
  EXPECT_EQ(remembered->integer, 1);
  auto at_gather = client->Execute({"EXISTS", keys.RunAppended(first_run, 1)});
  ASSERT_TRUE(at_gather.ok());
  EXPECT_EQ(at_gather->integer, 1);
  AdvanceAndDrain(absl::Minutes(59));
  EXPECT_THAT(Feed("rita"), ::testing::SizeIs(1));
  AdvanceAndDrain(absl::Minutes(1) + absl::Seconds(1));
  // After the delay, the branch's last step, then the step after the branch.
  EXPECT_THAT(Feed("rita"), ::testing::ElementsAre("2 big orders, newest 2", "follow-up on 2", "after 2"));
  // `terminate`: the run ends with its branch, nothing after it.
  EXPECT_TRUE(Feed("bo").empty());
  EXPECT_TRUE(NotSent("bo").empty());
  EXPECT_THAT(Feed("ana"), ::testing::SizeIs(2));
}

TEST_F(WorkflowStepsTest, DelayForADurationReadFromTheData) {
  Trigger("waits", "rita", R"({"wait": "2h"})");
  Trigger("waits", "ana", R"({"wait": 90})");  // seconds
  Trigger("waits", "bo", R"({"nothing": 1})");  // no duration: on at once
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_THAT(Feed("bo"), ::testing::ElementsAre("waited "));
  AdvanceAndDrain(absl::Seconds(89));
  EXPECT_TRUE(Feed("ana").empty());
  AdvanceAndDrain(absl::Seconds(2));
  EXPECT_THAT(Feed("ana"), ::testing::ElementsAre("waited 90"));
  AdvanceAndDrain(absl::Hours(2) - absl::Seconds(92));
  EXPECT_TRUE(Feed("rita").empty());
  AdvanceAndDrain(absl::Seconds(2));
  EXPECT_THAT(Feed("rita"), ::testing::ElementsAre("waited 2h"));
}

TEST_F(WorkflowStepsTest, DelayUntilThreeDaysBeforeATimestampAndAPastTimeGoesOnAtOnce) {
  const int64_t now_ms = harness_->clock().NowMillis();
  const std::string ends = Rfc3339(now_ms + absl::ToInt64Milliseconds(absl::Hours(24 * 10)));
  const std::string ended = Rfc3339(now_ms - absl::ToInt64Milliseconds(absl::Hours(24)));
  Trigger("trial_end", "rita", absl::StrCat(R"({"trial_ends_at": ")", ends, R"("})"));
  // Four days away: three days before it is tomorrow.
  Trigger("trial_end", "ana", absl::StrCat(R"({"trial_ends_at": )", now_ms / 1000 + 4 * 24 * 3600, "}"));
  Trigger("trial_end", "bo", absl::StrCat(R"({"trial_ends_at": ")", ended, R"("})"));
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_THAT(Feed("bo"), ::testing::ElementsAre(absl::StrCat("trial ends ", ended)));
  AdvanceAndDrain(absl::Hours(24) - absl::Minutes(1));
  EXPECT_TRUE(Feed("ana").empty());
  AdvanceAndDrain(absl::Minutes(2));
  EXPECT_THAT(Feed("ana"), ::testing::SizeIs(1));
  AdvanceAndDrain(absl::Hours(24 * 6) - absl::Minutes(2));
  EXPECT_TRUE(Feed("rita").empty()) << "due 7 days after the trigger";
  AdvanceAndDrain(absl::Minutes(2));
  EXPECT_THAT(Feed("rita"), ::testing::ElementsAre(absl::StrCat("trial ends ", ends)));
}

TEST_F(WorkflowStepsTest, DelayUntilARecipientTimestampAYearAway) {
  const int64_t now_ms = harness_->clock().NowMillis();
  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id("rita");
  identify.mutable_user()->set_name("Rita");
  identify.mutable_user()->set_properties_json(absl::StrCat(
      R"({"renews_at": ")", Rfc3339(now_ms + absl::ToInt64Milliseconds(absl::Hours(24 * 365))), R"("})"));
  v1::User user;
  ASSERT_TRUE(harness_->stub().IdentifyUser(testing::HeraldHarness::Context().get(), identify, &user).ok());
  Trigger("renewal", "rita", "{}");
  AdvanceAndDrain(absl::Hours(24 * 364));
  EXPECT_TRUE(Feed("rita").empty());
  AdvanceAndDrain(absl::Hours(24) + absl::Minutes(1));
  EXPECT_THAT(Feed("rita"), ::testing::ElementsAre("renewal for Rita"));
}

// A cancel sent the moment a 200-day delay falls due races the flusher's
// claim: each run ends delivered or cancelled, exactly one of the two.
TEST_F(WorkflowStepsTest, CancelRacingTheExpiryOfA200DayDelayEndsEachRunOneWay) {
  constexpr int kRounds = 4;
  constexpr int kRuns = 6;
  int delivered_total = 0, cancelled_total = 0;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<std::string> users;
    for (int r = 0; r < kRuns; ++r) {
      users.push_back(absl::StrCat("u", round, "_", r));
      ASSERT_TRUE(harness_->Identify(users.back(), users.back()).ok());
      Trigger("long", users.back(), "{}", absl::StrCat("key-", round, "-", r));
    }
    ASSERT_TRUE(harness_->WaitForIdle());
    harness_->clock().AdvanceMicros(absl::ToInt64Microseconds(absl::Hours(24 * 200)));
    std::vector<int> cancelled(kRuns, -1);
    std::vector<std::thread> threads;
    for (int r = 0; r < kRuns; ++r) {
      threads.emplace_back([&, r] {
        v1::CancelRequest cancel;
        cancel.set_workflow("long");
        cancel.set_cancellation_key(absl::StrCat("key-", round, "-", r));
        cancel.add_recipients(users[r]);
        v1::CancelResponse response;
        if (harness_->stub().Cancel(testing::HeraldHarness::Context().get(), cancel, &response).ok()) {
          cancelled[r] = static_cast<int>(response.cancelled_runs());
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ASSERT_TRUE(harness_->WaitForIdle());
    for (int r = 0; r < kRuns; ++r) {
      ASSERT_GE(cancelled[r], 0) << "the cancel call failed";
      const size_t delivered = Feed(users[r]).size();
      EXPECT_EQ(delivered + static_cast<size_t>(cancelled[r]), 1u)
          << users[r] << ": delivered " << delivered << ", cancelled " << cancelled[r];
      delivered_total += static_cast<int>(delivered);
      cancelled_total += cancelled[r];
    }
  }
  EXPECT_EQ(delivered_total + cancelled_total, kRounds * kRuns);
  // How the race went this time (both ways are correct; only the sum is checked).
  std::printf("200-day delays: %d delivered, %d cancelled\n", delivered_total, cancelled_total);
}

}  // namespace
}  // namespace herald
