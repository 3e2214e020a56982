// The gRPC API's contract: idempotency, bulk triggers, and bad input that
// is refused with INVALID_ARGUMENT naming the field while writing nothing.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/ids.h"
#include "core/keys.h"
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

// One idempotency key is one request, whatever partitions its recipients
// hash to: reusing it with a different recipient is refused every time
// (it used to be accepted whenever the new recipient lived in a partition
// the first request had not touched).
TEST_F(ApiTest, IdempotencyKeyIsOneRecordWhateverPartitionsTheRecipientsHashTo) {
  v1::TriggerRequest first = Valid();
  first.set_idempotency_key("invoice-9");
  v1::TriggerResponse accepted, response;
  ASSERT_TRUE(Trigger(first, &accepted).ok());
  ASSERT_TRUE(harness_->WaitForIdle());
  const std::vector<std::string> before = AllKeys();
  std::set<int> partitions_tried;
  for (int i = 2; i < 30; ++i) {
    const std::string other = absl::StrCat("u", i);
    partitions_tried.insert(PartitionOf(other, 4));
    v1::TriggerRequest reuse = first;
    reuse.mutable_recipients(0)->set_id(other);
    grpc::Status status = Trigger(reuse, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << other;
    EXPECT_EQ(status.error_message().rfind("idempotency_key", 0), 0u) << status.error_message();
  }
  EXPECT_EQ(partitions_tried.size(), 4u) << "every partition was tried";
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(AllKeys(), before) << "a refused reuse wrote something";
  // The same request again (say, a retry after a timeout) is answered with
  // the same runs and writes nothing new.
  v1::TriggerResponse again;
  ASSERT_TRUE(Trigger(first, &again).ok());
  EXPECT_TRUE(again.duplicate());
  EXPECT_EQ(again.runs(0).workflow_run_id(), accepted.runs(0).workflow_run_id());
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(AllKeys(), before);

  // In a TriggerBatch, a reused key fails only its own trigger.
  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = first;
  *batch.add_triggers() = first;
  batch.mutable_triggers(1)->mutable_recipients(0)->set_id("u7");
  v1::TriggerBatchResponse results;
  ASSERT_TRUE(harness_->stub().TriggerBatch(testing::HeraldHarness::Context().get(), batch, &results).ok());
  EXPECT_EQ(results.results(0).code(), 0);
  EXPECT_TRUE(results.results(0).response().duplicate());
  EXPECT_EQ(results.results(1).code(), static_cast<int>(grpc::StatusCode::FAILED_PRECONDITION));
}

// A partition's "written" marker can outlive its key's record (a retry
// writes later than the claim). Once the record is gone the key is free: a
// different request with it must be written, not answered "duplicate" by
// the leftover marker with nothing written.
TEST_F(ApiTest, AKeyWhoseRecordExpiredIsFreeForADifferentRequest) {
  ASSERT_TRUE(harness_->Identify("u1", "U").ok());
  v1::TriggerRequest first = Valid();
  first.set_idempotency_key("weekly-1");
  v1::TriggerResponse response;
  ASSERT_TRUE(Trigger(first, &response).ok());
  ASSERT_TRUE(harness_->WaitForIdle());
  auto client = Connect();
  const Keys record(PartitionOf(DeterministicId({"idempotency", "direct", "weekly-1"}), 4));
  // The record expires (24 h); the marker of the partition written lives on.
  ASSERT_EQ(client->Execute({"DEL", record.Idempotency("direct", "weekly-1")})->integer, 1);
  v1::TriggerRequest second = first;
  second.set_data_json(R"({"text": "next week"})");
  ASSERT_TRUE(Trigger(second, &response).ok());
  EXPECT_FALSE(response.duplicate()) << "the leftover marker swallowed the write";
  ASSERT_TRUE(harness_->WaitForIdle());
  // Run ids derive from the key, so the second request's run is the first's
  // and its message is deduplicated downstream.
  EXPECT_EQ(harness_->AllFeedItems("u1").size(), 1u);
}

// Calls a method with raw request bytes, as a client in any language could.
grpc::Status RawCall(int port, const std::string& method, const std::string& bytes) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::Slice slice(bytes);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer response;
  auto context = testing::HeraldHarness::Context();
  absl::Notification done;
  grpc::Status result;
  stub.UnaryCall(context.get(), method, grpc::StubOptions(), &request, &response, [&](grpc::Status status) {
    result = std::move(status);
    done.Notify();
  });
  done.WaitForNotification();
  return result;
}

// A string field with invalid UTF-8 (or bytes that are no message at all)
// is INVALID_ARGUMENT naming the field, not UNIMPLEMENTED with no message,
// and writes nothing.
TEST_F(ApiTest, InvalidUtf8IsRefusedNamingTheField) {
  const std::vector<std::string> before = AllKeys();
  v1::TriggerRequest request = Valid();
  request.add_recipients()->set_id("ok");
  request.add_recipients()->set_id("bad\xC3\x28");
  grpc::Status status = RawCall(harness_->grpc_port(), "/herald.v1.Herald/Trigger", request.SerializeAsString());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "recipients[2].id: is not valid UTF-8");

  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id("ana");
  identify.mutable_user()->set_name("Ana \xED\xA0\x80");  // a UTF-16 surrogate
  status = RawCall(harness_->grpc_port(), "/herald.v1.Herald/IdentifyUser", identify.SerializeAsString());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "user.name: is not valid UTF-8");

  v1::TriggerBatchRequest batch;
  *batch.add_triggers() = Valid();
  *batch.add_triggers() = Valid();
  batch.mutable_triggers(1)->set_data_json("{\"text\": \"\xFF\"}");
  status = RawCall(harness_->grpc_port(), "/herald.v1.Herald/TriggerBatch", batch.SerializeAsString());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "triggers[1].data_json: is not valid UTF-8");

  status = RawCall(harness_->grpc_port(), "/herald.v1.Herald/Trigger", std::string("\x0a\xff\xff\xff", 4));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "request: not a valid herald.v1.TriggerRequest message");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_EQ(AllKeys(), before);
}

// Values the store would accept but Herald cannot use are refused with the
// field named, and nothing is written.
TEST_F(ApiTest, UnknownChannelsChannelTypesAndTimeZonesAreRefused) {
  const std::vector<std::string> before = AllKeys();
  auto expect_refused = [](const grpc::Status& status, const std::string& field) {
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << field;
    EXPECT_EQ(status.error_message().rfind(field, 0), 0u)
        << "message '" << status.error_message() << "' should start with '" << field << "'";
  };
  auto context = [] { return testing::HeraldHarness::Context(); };

  v1::SetChannelDataRequest channel_data;
  channel_data.set_user_id("u1");
  channel_data.set_channel("apns");  // no workflow delivers through it
  channel_data.set_data_json(R"({"tokens": ["t"]})");
  v1::ChannelData stored;
  expect_refused(harness_->stub().SetChannelData(context().get(), channel_data, &stored), "channel: 'apns'");

  v1::ExplainPreferencesRequest explain;
  explain.set_user_id("u1");
  explain.set_workflow("direct");
  explain.set_channel_type("fax");
  v1::ExplainPreferencesResponse explained;
  expect_refused(harness_->stub().ExplainPreferences(context().get(), explain, &explained), "channel_type");

  v1::SetPreferencesRequest preferences;
  preferences.set_user_id("u1");
  v1::Preferences set;
  preferences.set_preferences_json(R"({"channel_types": {"fax": false}})");
  expect_refused(harness_->stub().SetPreferences(context().get(), preferences, &set), "preferences_json.channel_types.fax");
  preferences.set_preferences_json(R"({"workflows": {"direct": {"channel_types": {"pager": false}}}})");
  expect_refused(harness_->stub().SetPreferences(context().get(), preferences, &set),
                 "preferences_json.workflows.direct.channel_types.pager");

  v1::IdentifyTenantRequest tenant;
  tenant.set_id("acme");
  tenant.set_settings_json(R"({"preference_set": {"channel_types": {"fax": false}}})");
  v1::Tenant tenant_stored;
  expect_refused(harness_->stub().IdentifyTenant(context().get(), tenant, &tenant_stored),
                 "settings_json.preference_set.channel_types.fax");

  v1::IdentifyUserRequest identify;
  identify.mutable_user()->set_id("ana");
  identify.mutable_user()->set_timezone("Mars/Olympus_Mons");
  v1::User user;
  expect_refused(harness_->stub().IdentifyUser(context().get(), identify, &user), "user.timezone");
  v1::TriggerRequest inline_user = Valid();
  inline_user.mutable_recipients(0)->mutable_user()->set_id("ana");
  inline_user.mutable_recipients(0)->mutable_user()->set_timezone("Europe/Atlantis");
  v1::TriggerResponse response;
  expect_refused(Trigger(inline_user, &response), "recipients[0].user.timezone");
  EXPECT_EQ(AllKeys(), before);

  identify.mutable_user()->set_timezone("Asia/Tokyo");  // a real zone is fine
  EXPECT_TRUE(harness_->stub().IdentifyUser(context().get(), identify, &user).ok());
}

}  // namespace
}  // namespace herald
