// A caller that gives up on a Trigger (its deadline passes) does not undo
// it: the API, held slow by a paused Redis, still writes the trigger and
// it is delivered. Retrying with the same idempotency_key is the safe
// retry: whether it comes after the delivery or while the first call is
// still held, the recipient's feed gets exactly one notification and the
// retry's response names the run that notification belongs to.
#include <grpcpp/grpcpp.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr char kWorkflow[] = R"(key: retried
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.text }}"}}
)";

v1::TriggerRequest Request(const std::string& user, const std::string& key) {
  v1::TriggerRequest request;
  request.set_workflow("retried");
  v1::InlineUser* recipient = request.add_recipients()->mutable_user();
  recipient->set_id(user);
  recipient->set_name("Retried");
  request.set_idempotency_key(key);
  request.set_data_json(R"({"text": "your export is ready"})");
  return request;
}

grpc::Status Trigger(v1::Herald::Stub& stub, const v1::TriggerRequest& request, v1::TriggerResponse* response,
                     absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return stub.Trigger(&context, request, response);
}

class DeadlineRetryTest : public testing::RedisTest {
 protected:
  testing::HarnessOptions Options(const std::string& roles) {
    testing::HarnessOptions options;
    options.roles = roles;
    options.workflow_files["retried.yaml"] = kWorkflow;
    return options;
  }

  // The run of the one message in `user`'s feed; fails the test unless
  // there is exactly one.
  std::string OnlyRunInFeed(testing::HeraldHarness& harness, const std::string& user) {
    std::vector<v1::FeedItem> items = harness.AllFeedItems(user);
    EXPECT_EQ(items.size(), 1u) << user;
    if (items.size() != 1) return "";
    v1::GetMessageRequest request;
    request.set_user_id(user);
    request.set_message_id(items[0].id());
    v1::Message message;
    grpc::Status status = harness.stub().GetMessage(testing::HeraldHarness::Context().get(), request, &message);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_FALSE(message.workflow_run_id().empty());
    return message.workflow_run_id();
  }

  // Polls until `user`'s feed has an item; false at `timeout`.
  bool WaitForFeedItem(testing::HeraldHarness& harness, const std::string& user, absl::Duration timeout) {
    return testing::Eventually([&] { return !harness.AllFeedItems(user).empty(); }, timeout);
  }
};

TEST_F(DeadlineRetryTest, GivenUpTriggerIsDeliveredOnceAndTheRetryNamesItsRun) {
  // The API alone while Redis is paused (no worker script competes), the
  // workers once it resumes.
  testing::HeraldHarness api(endpoint(), Options("api"));
  ASSERT_TRUE(api.ok());
  grpc::Status retried;
  v1::TriggerResponse retried_response;
  // Declared before the pause: Redis resumes before the retry is joined.
  std::jthread retry_thread;
  auto client = Connect();
  // Writes wait (the API's scripts are writes); the API has no timeout on
  // them, so each call is held in flight until UNPAUSE.
  testing::PausedWrites pause(*client);
  ASSERT_TRUE(pause.ok());

  // Two callers give up after 1 s: "later" retries once its trigger was
  // delivered, "held" retries at once, while its first call is still held.
  v1::TriggerResponse ignored;
  grpc::Status later = Trigger(api.stub(), Request("later", "export-later"), &ignored, absl::Seconds(1));
  EXPECT_EQ(later.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << later.error_message();
  grpc::Status held = Trigger(api.stub(), Request("held", "export-held"), &ignored, absl::Seconds(1));
  EXPECT_EQ(held.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << held.error_message();
  retry_thread = std::jthread(
      [&] { retried = Trigger(api.stub(), Request("held", "export-held"), &retried_response, absl::Seconds(20)); });
  ASSERT_TRUE(pause.Resume().ok());
  retry_thread.join();
  ASSERT_TRUE(retried.ok()) << retried.error_message();
  ASSERT_EQ(retried_response.runs_size(), 1);

  testing::HeraldHarness workers(endpoint(), Options("batcher,fanout"));
  ASSERT_TRUE(workers.ok());
  // Delivered although its caller gave up and never retried.
  ASSERT_TRUE(WaitForFeedItem(api, "later", absl::Seconds(20))) << "the given-up trigger was not delivered";
  ASSERT_TRUE(workers.WaitForIdle());
  const std::string later_run = OnlyRunInFeed(api, "later");
  EXPECT_EQ(OnlyRunInFeed(api, "held"), retried_response.runs(0).workflow_run_id());

  // The retry after the delivery: the same run, nothing written again.
  v1::TriggerResponse late_retry;
  grpc::Status status = Trigger(api.stub(), Request("later", "export-later"), &late_retry, absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(late_retry.duplicate());
  ASSERT_EQ(late_retry.runs_size(), 1);
  EXPECT_EQ(late_retry.runs(0).workflow_run_id(), later_run);
  // And "held" retried once more: a duplicate of the same run.
  v1::TriggerResponse again;
  status = Trigger(api.stub(), Request("held", "export-held"), &again, absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.runs(0).workflow_run_id(), retried_response.runs(0).workflow_run_id());

  ASSERT_TRUE(workers.WaitForIdle());
  EXPECT_EQ(OnlyRunInFeed(api, "later"), later_run);
  EXPECT_EQ(OnlyRunInFeed(api, "held"), retried_response.runs(0).workflow_run_id());
}

}  // namespace
}  // namespace herald
