// The gRPC API's contract: idempotency, bulk triggers, and bad input that
// is refused with INVALID_ARGUMENT naming the field while writing nothing.
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.workflow_files["direct.yaml"] = R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.text }}"}}
)";
  return options;
}

class ApiTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    ASSERT_TRUE(harness_->WaitForIdle());
  }
  void TearDown() override { harness_.reset(); }

  grpc::Status Trigger(const v1::TriggerRequest& request, v1::TriggerResponse* response) {
    return harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, response);
  }

  static v1::TriggerRequest Valid() {
    v1::TriggerRequest request;
    request.set_workflow("direct");
    request.add_recipients()->set_id("u1");
    request.set_data_json(R"({"text": "hello"})");
    return request;
  }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(ApiTest, SameIdempotencyKeyGivesSameRunsAndNoSecondEvent) {
  ASSERT_TRUE(harness_->Identify("u1", "U").ok());
  ASSERT_TRUE(harness_->Identify("u2", "U2").ok());
  v1::TriggerRequest request = Valid();
  request.add_recipients()->set_id("u2");
  request.set_idempotency_key("order-42");
  v1::TriggerResponse first, second;
  ASSERT_TRUE(Trigger(request, &first).ok());
  ASSERT_TRUE(Trigger(request, &second).ok());
  EXPECT_FALSE(first.duplicate());
  EXPECT_TRUE(second.duplicate());
  ASSERT_EQ(first.runs_size(), 2);
  for (int i = 0; i < 2; ++i) EXPECT_EQ(first.runs(i).workflow_run_id(), second.runs(i).workflow_run_id());
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(harness_->AllFeedItems("u1").size(), 1u);
  EXPECT_EQ(harness_->AllFeedItems("u2").size(), 1u);

  // Reusing the key for a different request is refused, not silently merged.
  request.set_data_json(R"({"text": "other"})");
  v1::TriggerResponse third;
  grpc::Status reused = Trigger(request, &third);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(reused.error_message().find("idempotency_key"), std::string::npos);
  // Without a key every trigger is a new run.
  v1::TriggerResponse a, b;
  ASSERT_TRUE(Trigger(Valid(), &a).ok());
  ASSERT_TRUE(Trigger(Valid(), &b).ok());
  EXPECT_NE(a.runs(0).workflow_run_id(), b.runs(0).workflow_run_id());
}

TEST_F(ApiTest, BadRequestsNameTheFieldAndWriteNothing) {
  const std::vector<std::string> before = AllKeys();
  struct Case {
    std::function<void(v1::TriggerRequest&)> mutate;
    std::string field;
  };
  std::string big = absl::StrCat(R"({"text": ")", std::string(40000, 'x'), R"("})");
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_workflow("no-such-workflow"); }, "workflow"},
      {[](auto& r) { r.set_workflow(""); }, "workflow"},
      {[](auto& r) {
         r.clear_recipients();
         for (int i = 0; i < 1001; ++i) r.add_recipients()->set_id(absl::StrCat("u", i));
       },
       "recipients"},
      {[](auto& r) { r.clear_recipients(); }, "recipients"},
      {[&](auto& r) { r.set_data_json(big); }, "data_json"},
      {[](auto& r) { r.set_data_json("[1, 2]"); }, "data_json"},
      {[](auto& r) { r.set_data_json("{not json"); }, "data_json"},
      {[](auto& r) { r.add_recipients()->set_id(""); }, "recipients[1].id"},
      {[](auto& r) { r.add_recipients()->mutable_user()->set_name("no id"); }, "recipients[1].user.id"},
      {[](auto& r) {
         auto* user = r.add_recipients()->mutable_user();
         user->set_id("x");
         user->set_properties_json("[]");
       },
       "recipients[1].user.properties_json"},
      {[](auto& r) { r.set_actor(std::string(300, 'a')); }, "actor"},
      {[](auto& r) { r.set_idempotency_key(std::string(300, 'k')); }, "idempotency_key"},
  };
  for (const Case& bad : cases) {
    v1::TriggerRequest request = Valid();
    request.add_recipients()->mutable_user()->set_id("inline-ok");  // would be written if accepted
    request.mutable_recipients()->DeleteSubrange(1, 1);
    bad.mutate(request);
    v1::TriggerResponse response;
    grpc::Status status = Trigger(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad.field;
    EXPECT_EQ(status.error_message().rfind(bad.field, 0), 0u)
        << "message '" << status.error_message() << "' should start with '" << bad.field << "'";
  }
  EXPECT_EQ(AllKeys(), before);
}

TEST_F(ApiTest, TriggerBatchAnswersEachTriggerOnItsOwn) {
  v1::TriggerBatchRequest batch;
  for (int i = 0; i < 10; ++i) {
    v1::TriggerRequest* request = batch.add_triggers();
    *request = Valid();
    request->mutable_recipients(0)->set_id(absl::StrCat("user-", i));
  }
  batch.mutable_triggers(3)->set_workflow("nope");
  batch.mutable_triggers(7)->set_data_json("42");
  v1::TriggerBatchResponse response;
  ASSERT_TRUE(harness_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &response).ok());
  ASSERT_EQ(response.results_size(), 10);
  for (int i = 0; i < 10; ++i) {
    if (i == 3 || i == 7) {
      EXPECT_EQ(response.results(i).code(), static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
      EXPECT_EQ(response.results(i).error().rfind(absl::StrCat("triggers[", i, "]."), 0), 0u)
          << response.results(i).error();
    } else {
      EXPECT_EQ(response.results(i).code(), 0) << response.results(i).error();
      EXPECT_EQ(response.results(i).response().runs_size(), 1);
    }
  }
  ASSERT_TRUE(harness_->WaitForIdle());
  auto client = Connect();
  int messages = 0;
  for (const auto& key : AllKeys()) messages += key.find(":msg:") != std::string::npos;
  EXPECT_EQ(messages, 8);  // unknown users: recorded not_sent, one per valid trigger

  v1::TriggerBatchRequest too_many;
  for (int i = 0; i < 1001; ++i) *too_many.add_triggers() = Valid();
  grpc::Status status = harness_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), too_many, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("triggers", 0), 0u);
}

TEST_F(ApiTest, WorkflowsAndUsersAreReadable) {
  v1::ListWorkflowsResponse workflows;
  ASSERT_TRUE(harness_->stub().ListWorkflows(testing::HeraldHarness::Context().get(), {}, &workflows).ok());
  ASSERT_EQ(workflows.workflows_size(), 1);
  EXPECT_EQ(workflows.workflows(0).steps(0).type(), "channel");
  v1::GetWorkflowRequest get;
  get.set_key("missing");
  v1::Workflow workflow;
  EXPECT_EQ(harness_->stub().GetWorkflow(testing::HeraldHarness::Context().get(), get, &workflow).error_code(),
            grpc::StatusCode::NOT_FOUND);

  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id("ana");
  identify.mutable_user()->set_email("ana@example.com");
  identify.mutable_user()->set_properties_json(R"({"plan": "pro"})");
  v1::User user;
  ASSERT_TRUE(harness_->stub().IdentifyUser(testing::HeraldHarness::Context().get(), identify, &user).ok());
  identify.mutable_user()->set_email("bad-email");
  EXPECT_EQ(harness_->stub().IdentifyUser(testing::HeraldHarness::Context().get(), identify, &user).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  v1::GetUserRequest get_user;
  get_user.set_id("ana");
  ASSERT_TRUE(harness_->stub().GetUser(testing::HeraldHarness::Context().get(), get_user, &user).ok());
  EXPECT_EQ(user.email(), "ana@example.com");
  EXPECT_EQ(user.properties_json(), R"({"plan": "pro"})");
  get_user.set_id("ghost");
  EXPECT_EQ(harness_->stub().GetUser(testing::HeraldHarness::Context().get(), get_user, &user).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

}  // namespace
}  // namespace herald
