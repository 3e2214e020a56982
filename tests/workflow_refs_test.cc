// End to end through every role with the simulated clock: a later step
// decided by an earlier message's engagement (in-app now, email after ten
// minutes only if still unread), and fallback steps (push -> sms) planned at
// once or handed to the delivery dispatcher on the queued message.
#include <grpcpp/grpcpp.h>

#include <optional>
#include <string>
#include <vector>

#include "core/ids.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "herald/v1/pipeline.pb.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

testing::HarnessOptions Workflows() {
  testing::HarnessOptions options;
  options.workflow_files["unread-reminder.yaml"] = R"(
key: unread-reminder
steps:
  - ref: in_app
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ actor.name }} mentioned you in {{ data.doc }}"}
  - {ref: wait, type: delay, duration: 10m}
  - ref: email
    type: channel
    channel_type: email
    conditions:
      - {variable: refs.in_app.engagement_status, operator: less_than, argument: read}
    template:
      subject: "Unread mention in {{ data.doc }}"
      markdown: "{{ actor.name }} mentioned you"
      from: "Docs <docs@example.com>"
)";
  options.workflow_files["push-sms.yaml"] = R"(
key: push-sms
steps:
  - {ref: push, type: channel, channel_type: push, channel: apns, fallback: sms,
     template: {title: "Sign-in", body: "from {{ data.where }}"}}
  - {ref: sms, type: channel, channel_type: sms, template: {text: "Sign-in from {{ data.where }}"}}
)";
  return options;
}

// One message record as Redis holds it.
struct StoredMessage {
  std::string id;
  std::string channel_type;
  std::string status;
  std::string reason;
  std::string fallback;  // serialized BatchEnvelope, "" = none
  v1::MessageContent content;
};

class WorkflowRefsTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), Workflows());
    ASSERT_TRUE(harness_->ok());
    ASSERT_TRUE(harness_->Identify("ana", "Ana").ok());
    for (const char* id : {"rita", "tom"}) {
      v1::IdentifyUserRequest request;
      request.mutable_user()->set_id(id);
      request.mutable_user()->set_name(id);
      request.mutable_user()->set_email(std::string(id) + "@example.com");
      request.mutable_user()->set_phone_number("+15550100");
      v1::User user;
      grpc::Status status = harness_->stub().IdentifyUser(testing::HeraldHarness::Context().get(), request, &user);
      ASSERT_TRUE(status.ok()) << status.error_message();
    }
    v1::SetChannelDataRequest tokens;
    tokens.set_user_id("tom");
    tokens.set_channel("apns");
    tokens.set_data_json(R"({"tokens": ["device-1"]})");
    v1::ChannelData data;
    grpc::Status status = harness_->stub().SetChannelData(testing::HeraldHarness::Context().get(), tokens, &data);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  void TearDown() override { harness_.reset(); }

  void Trigger(const std::string& workflow, const std::string& recipient, const std::string& data) {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    request.add_recipients()->set_id(recipient);
    request.set_actor("ana");
    request.set_data_json(data);
    v1::TriggerResponse response;
    grpc::Status status = harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }

  void AdvanceAndDrain(absl::Duration by) {
    ASSERT_TRUE(harness_->WaitForIdle());
    harness_->clock().AdvanceMicros(absl::ToInt64Microseconds(by));
    ASSERT_TRUE(harness_->WaitForIdle());
  }

  // Every message record of `user` outside the feed (queued, not_sent, ...).
  std::vector<StoredMessage> Messages(const std::string& user) {
    std::vector<StoredMessage> out;
    auto client = Connect();
    for (const std::string& key : AllKeys()) {
      size_t at = key.find(":msg:");
      if (at == std::string::npos) continue;
      auto fields = client->Execute({"HMGET", key, "recipient", "channel_type", "status", "reason", "fallback", "content"});
      EXPECT_TRUE(fields.ok()) << fields.status();
      if (!fields.ok() || fields->elements[0].str != user || fields->elements[1].str.empty() ||
          fields->elements[1].str == "in_app_feed") {
        continue;
      }
      StoredMessage message{key.substr(at + 5), fields->elements[1].str, fields->elements[2].str,
                            fields->elements[3].str, fields->elements[4].str, {}};
      EXPECT_TRUE(message.content.ParseFromString(fields->elements[5].str));
      out.push_back(std::move(message));
    }
    return out;
  }

  // The user's message on `channel_type` (the run's email, its push, ...),
  // nullopt when there is none. The test fails when there are several.
  std::optional<StoredMessage> MessageOn(const std::string& user, const std::string& channel_type) {
    std::optional<StoredMessage> found;
    for (StoredMessage& message : Messages(user)) {
      if (message.channel_type != channel_type) continue;
      EXPECT_FALSE(found.has_value()) << "more than one " << channel_type << " message for " << user;
      found = std::move(message);
    }
    return found;
  }

  void MarkRead(const std::string& user, const std::string& item_id) {
    v1::MarkFeedItemsRequest request;
    request.set_user_id(user);
    request.set_action(v1::FEED_ACTION_READ);
    request.add_ids(item_id);
    v1::MarkFeedItemsResponse response;
    grpc::Status status = harness_->stub().MarkFeedItems(testing::HeraldHarness::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(response.changed(), 1);
  }

  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(WorkflowRefsTest, ReadBeforeTheDelayEndsMeansNoEmail) {
  Trigger("unread-reminder", "rita", R"({"doc": "Roadmap"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].blocks(0).markdown(), "Ana mentioned you in Roadmap");
  AdvanceAndDrain(absl::Minutes(4));
  MarkRead("rita", items[0].id());
  AdvanceAndDrain(absl::Minutes(6) + absl::Seconds(1));
  EXPECT_FALSE(MessageOn("rita", "email").has_value()) << "the email step ran although the item was read";
  EXPECT_TRUE(Messages("rita").empty());
}

TEST_F(WorkflowRefsTest, UnreadAfterTheDelayQueuesOneEmail) {
  Trigger("unread-reminder", "rita", R"({"doc": "Roadmap"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  ASSERT_EQ(harness_->AllFeedItems("rita").size(), 1u);
  AdvanceAndDrain(absl::Minutes(9));
  EXPECT_FALSE(MessageOn("rita", "email").has_value()) << "sent before the delay ended";
  AdvanceAndDrain(absl::Minutes(1) + absl::Seconds(1));
  std::optional<StoredMessage> email = MessageOn("rita", "email");
  ASSERT_TRUE(email.has_value());
  EXPECT_EQ(email->status, "queued");
  EXPECT_EQ(email->content.email().to(), "rita@example.com");
  EXPECT_EQ(email->content.email().subject(), "Unread mention in Roadmap");
  EXPECT_EQ(email->content.email().from(), "Docs <docs@example.com>");
  EXPECT_EQ(Messages("rita").size(), 1u);
}

TEST_F(WorkflowRefsTest, PushWithoutTokensFallsBackToSmsAtOnce) {
  Trigger("push-sms", "rita", R"({"where": "Lisbon"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  std::optional<StoredMessage> push = MessageOn("rita", "push");
  ASSERT_TRUE(push.has_value());
  EXPECT_EQ(push->status, "not_sent");
  EXPECT_EQ(push->reason, "missing_channel_data");
  std::optional<StoredMessage> sms = MessageOn("rita", "sms");
  ASSERT_TRUE(sms.has_value());
  EXPECT_EQ(sms->status, "queued");
  EXPECT_EQ(sms->content.sms().text(), "Sign-in from Lisbon");
}

TEST_F(WorkflowRefsTest, QueuedPushCarriesTheSmsFallbackForTheDispatcher) {
  Trigger("push-sms", "tom", R"({"where": "Lisbon"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_FALSE(MessageOn("tom", "sms").has_value()) << "the fallback ran in sequence";
  std::optional<StoredMessage> push = MessageOn("tom", "push");
  ASSERT_TRUE(push.has_value());
  EXPECT_EQ(push->status, "queued");
  v1::internal::BatchEnvelope fallback;
  ASSERT_TRUE(fallback.ParseFromString(push->fallback));
  EXPECT_EQ(fallback.workflow(), "push-sms");
  EXPECT_EQ(fallback.resume_step(), 1);
  EXPECT_TRUE(fallback.only_step());
  ASSERT_EQ(fallback.targets_size(), 1);
  EXPECT_EQ(fallback.targets(0).recipient(), "tom");

  // What the dispatcher does when the push ends undelivered: the envelope
  // into the partition's batches stream; the fan-out sends the sms. Twice
  // (a replay) still makes one sms.
  auto client = Connect();
  const std::string stream = Keys(PartitionOf("tom", testing::HarnessOptions().partitions)).Batches();
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(client->Execute({"XADD", stream, "*", "s", push->fallback}).ok());
  ASSERT_TRUE(harness_->WaitForIdle());
  std::optional<StoredMessage> sms = MessageOn("tom", "sms");
  ASSERT_TRUE(sms.has_value());
  EXPECT_EQ(sms->status, "queued");
  EXPECT_NE(sms->id, push->id);
  EXPECT_EQ(sms->content.sms().text(), "Sign-in from Lisbon");
  EXPECT_TRUE(sms->fallback.empty());
}

}  // namespace
}  // namespace herald
