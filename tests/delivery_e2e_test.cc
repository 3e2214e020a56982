// Delivery end to end through every role (api, batcher, fan-out,
// dispatcher) with the built-in providers against real servers on
// loopback: a webhook to an HTTP server that checks the signature, retries
// through scripted 500/429 answers, a permanent failure that becomes a dead
// letter and is replayed over the API exactly once, the headline workflow
// (in-app now, email ten minutes later only if unread) over real SMTP, and
// a push that fails permanently falling back to an SMS.
#include <grpcpp/grpcpp.h>

#include <cstdlib>
#include <functional>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/testing/test_servers.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_harness.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using nlohmann::json;
using testing::Eventually;

constexpr char kSecret[] = "whsec_e2e";

const char* kWorkflows[][2] = {
    {"deploys.yaml", R"(
key: deploys
steps:
  - ref: hook
    type: channel
    channel_type: webhook
    channel: hooks
    template:
      body: '{"event": "deploy", "service": {{ data.service | json }}}'
)"},
    {"unread-reminder.yaml", R"(
key: unread-reminder
steps:
  - {ref: in_app, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.doc }} mentions you"}}
  - {ref: wait, type: delay, duration: 10m}
  - ref: email
    type: channel
    channel_type: email
    conditions:
      - {variable: refs.in_app.engagement_status, operator: less_than, argument: read}
    template:
      subject: "Unread mention in {{ data.doc }}"
      markdown: "**{{ data.doc }}** mentions you"
      text: "{{ data.doc }} mentions you"
)"},
    {"push-sms.yaml", R"(
key: push-sms
steps:
  - {ref: push, type: channel, channel_type: push, channel: fcm, fallback: sms,
     template: {title: "Sign-in", body: "from {{ data.where }}"}}
  - {ref: sms, type: channel, channel_type: sms, channel: sms, template: {text: "Sign-in from {{ data.where }}"}}
)"},
};

class DeliveryE2eTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    setenv("HERALD_E2E_SECRET", kSecret, 1);
    setenv("HERALD_E2E_TOKEN", "provider-token", 1);
    auto http = delivery::testing::ScriptedHttpServer::Start();
    ASSERT_TRUE(http.ok()) << http.status();
    http_ = std::move(*http);
    auto smtp = delivery::testing::SmtpTestServer::Start({});
    ASSERT_TRUE(smtp.ok()) << smtp.status();
    smtp_ = std::move(*smtp);
    const std::string base = http_->Url("");
    testing::HarnessOptions options;
    for (const auto& [name, text] : kWorkflows) options.workflow_files[name] = text;
    options.delivery_config = absl::StrCat(R"(
channels:
  hooks:
    provider: webhook
    options: {url: ")", http_->Url("/hook"), R"("}
    secrets: {signing_secret: {env: HERALD_E2E_SECRET}}
    retry: {max_attempts: 3, initial_backoff_ms: 1000, max_backoff_ms: 4000}
    circuit: {failures: 0}
  email:
    provider: smtp
    options: {host: 127.0.0.1, port: )", smtp_->port(), R"(, tls: none, from: "Herald <noreply@herald.test>", message_id_domain: herald.test}
  fcm:
    provider: fcm
    options: {project_id: p1, base_url: ")", base, R"("}
    secrets: {access_token: {env: HERALD_E2E_TOKEN}}
  sms:
    provider: twilio
    options: {account_sid: AC1, from: "+15550001111", base_url: ")", base, R"("}
    secrets: {auth_token: {env: HERALD_E2E_TOKEN}}
)");
    harness_ = std::make_unique<testing::HeraldHarness>(endpoint(), options);
    ASSERT_TRUE(harness_->ok());
    v1::IdentifyUserRequest request;
    request.mutable_user()->set_id("rita");
    request.mutable_user()->set_name("Rita");
    request.mutable_user()->set_email("rita@example.com");
    request.mutable_user()->set_phone_number("+15550100200");
    v1::User user;
    grpc::Status status = harness_->stub().IdentifyUser(testing::HeraldHarness::Context().get(), request, &user);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  void TearDown() override { harness_.reset(); }

  std::string Trigger(const std::string& workflow, const std::string& data) {
    v1::TriggerRequest request;
    request.set_workflow(workflow);
    request.add_recipients()->set_id("rita");
    request.set_data_json(data);
    v1::TriggerResponse response;
    grpc::Status status = harness_->stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.runs_size() > 0 ? response.runs(0).workflow_run_id() : "";
  }

  std::vector<v1::Message> Messages(const std::string& channel_type) {
    v1::ListMessagesRequest request;
    request.set_recipient("rita");
    request.set_channel_type(channel_type);
    request.set_page_size(100);
    v1::ListMessagesResponse response;
    grpc::Status status = harness_->stub().ListMessages(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.messages().begin(), response.messages().end()};
  }

  // The one message on `channel_type` once its status is `status`.
  std::optional<v1::Message> MessageWithStatus(const std::string& channel_type, const std::string& status) {
    std::optional<v1::Message> found;
    Eventually([&] {
      auto messages = Messages(channel_type);
      if (messages.size() == 1 && messages[0].status() == status) found = messages[0];
      return found.has_value();
    });
    return found;
  }

  std::vector<v1::MessageEvent> Events(const std::string& message_id) {
    v1::GetMessageEventsRequest request;
    request.set_user_id("rita");
    request.set_message_id(message_id);
    v1::GetMessageEventsResponse response;
    grpc::Status status =
        harness_->stub().GetMessageEvents(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.events().begin(), response.events().end()};
  }

  json Requests(const std::string& path_prefix) {
    auto all = http_->Requests();
    EXPECT_TRUE(all.ok()) << all.status();
    json out = json::array();
    if (!all.ok()) return out;
    for (const json& request : *all) {
      if (absl::StartsWith(request.value("path", ""), path_prefix)) out.push_back(request);
    }
    return out;
  }

  // Moves the simulated clock a second at a time until `condition` holds
  // (retries and delays come due on Herald's clock).
  bool AdvanceUntil(const std::function<bool()>& condition) {
    for (int i = 0; i < 120; ++i) {
      if (condition()) return true;
      harness_->clock().AdvanceMicros(1'000'000);
      absl::SleepFor(absl::Milliseconds(30));
    }
    return condition();
  }

  std::unique_ptr<delivery::testing::ScriptedHttpServer> http_;
  std::unique_ptr<delivery::testing::SmtpTestServer> smtp_;
  std::unique_ptr<testing::HeraldHarness> harness_;
};

TEST_F(DeliveryE2eTest, AWebhookIsPostedSignedOnceAndItsFateIsQueryable) {
  ASSERT_TRUE(http_->Script({{"/hook", {{{"status", 200}}}}}, kSecret).ok());
  Trigger("deploys", R"({"service": "billing"})");
  std::optional<v1::Message> message = MessageWithStatus("webhook", "sent");
  ASSERT_TRUE(message.has_value());
  json hooks = Requests("/hook");
  ASSERT_EQ(hooks.size(), 1u);
  EXPECT_TRUE(hooks[0]["signature_valid"].get<bool>()) << hooks[0].dump();
  EXPECT_EQ(hooks[0]["headers"]["idempotency-key"], message->id());
  EXPECT_EQ(json::parse(hooks[0]["body"].get<std::string>()), json::parse(R"({"event":"deploy","service":"billing"})"));
  EXPECT_EQ(message->attempts(), 1);
  std::vector<std::string> types;
  for (const v1::MessageEvent& event : Events(message->id())) types.push_back(event.type());
  EXPECT_EQ(types, (std::vector<std::string>{"message.queued", "message.attempt", "message.sent"}));
}

TEST_F(DeliveryE2eTest, RetryableAnswersAreRetriedWithBackoffUntilAccepted) {
  ASSERT_TRUE(http_->Script({{"/hook",
                              {{{"status", 500}},
                               {{"status", 429}, {"headers", {{"Retry-After", "2"}}}},
                               {{"status", 200}}}}},
                            kSecret)
                  .ok());
  Trigger("deploys", R"({"service": "billing"})");
  ASSERT_TRUE(AdvanceUntil([&] {
    auto messages = Messages("webhook");
    return messages.size() == 1 && messages[0].status() == "sent";
  }));
  const v1::Message message = Messages("webhook")[0];
  EXPECT_EQ(message.attempts(), 3);
  json hooks = Requests("/hook");
  ASSERT_EQ(hooks.size(), 3u);
  for (const json& hook : hooks) EXPECT_EQ(hook["headers"]["idempotency-key"], message.id());
  std::vector<std::string> statuses;
  int64_t retry_after_gap_us = 0;
  for (const v1::MessageEvent& event : Events(message.id())) {
    if (!event.has_attempt()) continue;
    statuses.push_back(event.attempt().provider_status());
    if (event.attempt().provider_status() == "http 429") {
      retry_after_gap_us = event.attempt().next_attempt_at_us() - event.attempt().at_us();
    }
  }
  EXPECT_EQ(statuses, (std::vector<std::string>{"http 500", "http 429", "http 200"}));
  // The next attempt counts from the provider's answer; the attempt is
  // stamped when recorded, a moment later.
  EXPECT_GE(retry_after_gap_us, 2'000'000 - 100'000) << "Retry-After: 2 not honoured";
}

TEST_F(DeliveryE2eTest, APermanentFailureIsADeadLetterThatAReplayDeliversExactlyOnce) {
  ASSERT_TRUE(http_->Script({{"/hook", {{{"status", 400}, {"body", "unknown service"}}}}}, kSecret).ok());
  Trigger("deploys", R"({"service": "nope"})");
  std::optional<v1::Message> message = MessageWithStatus("webhook", "undelivered");
  ASSERT_TRUE(message.has_value());
  EXPECT_EQ(message->reason(), "http 400: unknown service");

  v1::ListDeadLettersResponse dead;
  grpc::Status status =
      harness_->stub().ListDeadLetters(testing::HeraldHarness::Context().get(), v1::ListDeadLettersRequest(), &dead);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(dead.dead_letters_size(), 1);
  EXPECT_EQ(dead.dead_letters(0).message().id(), message->id());
  ASSERT_EQ(dead.dead_letters(0).attempts_size(), 1);
  EXPECT_EQ(dead.dead_letters(0).attempts(0).provider_status(), "http 400");

  ASSERT_TRUE(http_->Script({{"/hook", {{{"status", 200}}}}}, kSecret).ok());  // forgets recorded requests
  v1::DeadLetterSelection selection;
  selection.add_message_ids(message->id());
  v1::ReplayDeadLettersResponse replayed;
  status = harness_->stub().ReplayDeadLetters(testing::HeraldHarness::Context().get(), selection, &replayed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(replayed.replayed(), 1);
  status = harness_->stub().ReplayDeadLetters(testing::HeraldHarness::Context().get(), selection, &replayed);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(replayed.replayed(), 0) << "a second replay queued it again";
  ASSERT_TRUE(MessageWithStatus("webhook", "sent").has_value());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(Requests("/hook").size(), 1u);
  status = harness_->stub().ListDeadLetters(testing::HeraldHarness::Context().get(), v1::ListDeadLettersRequest(), &dead);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(dead.dead_letters_size(), 0);
}

// Bad dead-letter requests are refused naming the field, and change nothing.
TEST_F(DeliveryE2eTest, BadDeadLetterRequestsNameTheFieldAndChangeNothing) {
  ASSERT_TRUE(http_->Script({{"/hook", {{{"status", 400}}}}}, kSecret).ok());
  Trigger("deploys", R"({"service": "nope"})");
  ASSERT_TRUE(MessageWithStatus("webhook", "undelivered").has_value());
  auto list_error = [&](const std::function<void(v1::ListDeadLettersRequest&)>& change) {
    v1::ListDeadLettersRequest request;
    change(request);
    v1::ListDeadLettersResponse response;
    grpc::Status status = harness_->stub().ListDeadLetters(testing::HeraldHarness::Context().get(), request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    return status.error_message();
  };
  EXPECT_EQ(list_error([](auto& r) { r.set_page_size(101); }).rfind("page_size:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_after("0:x"); }).rfind("after:", 0), 0u);
  EXPECT_EQ(list_error([](auto& r) { r.set_after("99:1"); }).rfind("after:", 0), 0u) << "no such partition";
  EXPECT_EQ(list_error([](auto& r) { r.set_channel(std::string(1, '\x01')); }).rfind("channel:", 0), 0u);
  auto selection_error = [&](const std::function<void(v1::DeadLetterSelection&)>& change) {
    v1::DeadLetterSelection selection;
    change(selection);
    v1::ReplayDeadLettersResponse replayed;
    grpc::Status replay =
        harness_->stub().ReplayDeadLetters(testing::HeraldHarness::Context().get(), selection, &replayed);
    EXPECT_EQ(replay.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    v1::PurgeDeadLettersResponse purged;
    grpc::Status purge = harness_->stub().PurgeDeadLetters(testing::HeraldHarness::Context().get(), selection, &purged);
    EXPECT_EQ(purge.error_message(), replay.error_message());
    return replay.error_message();
  };
  EXPECT_EQ(selection_error([](auto& s) { s.add_message_ids(""); }).rfind("message_ids[0]:", 0), 0u);
  EXPECT_EQ(selection_error([](auto& s) { s.set_dead_before_us(-1); }).rfind("dead_before_us:", 0), 0u);
  EXPECT_EQ(selection_error([](auto& s) {
              s.add_message_ids("ok");
              s.add_message_ids(std::string(300, 'x'));
            }).rfind("message_ids[1]:", 0),
            0u);
  v1::ListDeadLettersResponse dead;
  ASSERT_TRUE(
      harness_->stub().ListDeadLetters(testing::HeraldHarness::Context().get(), v1::ListDeadLettersRequest(), &dead).ok());
  EXPECT_EQ(dead.dead_letters_size(), 1) << "a refused replay or purge touched a dead letter";
  EXPECT_EQ(Messages("webhook")[0].status(), "undelivered");
  EXPECT_EQ(Requests("/hook").size(), 1u);
}

TEST_F(DeliveryE2eTest, UnreadAfterTenMinutesSendsOneEmailOverSmtp) {
  const std::string run_id = Trigger("unread-reminder", R"({"doc": "Roadmap"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  ASSERT_EQ(harness_->AllFeedItems("rita").size(), 1u);
  harness_->clock().AdvanceMicros(9 * 60'000'000LL);
  ASSERT_TRUE(harness_->WaitForIdle());
  EXPECT_TRUE(Messages("email").empty());
  harness_->clock().AdvanceMicros(60'000'000LL + 1'000'000);
  std::optional<v1::Message> email = MessageWithStatus("email", "sent");
  ASSERT_TRUE(email.has_value());
  // The message after the delay still belongs to the run Trigger returned.
  EXPECT_EQ(email->workflow_run_id(), run_id);
  v1::ListMessagesRequest by_run;
  by_run.set_workflow_run_id(run_id);
  v1::ListMessagesResponse of_run;
  ASSERT_TRUE(harness_->stub().ListMessages(testing::HeraldHarness::Context().get(), by_run, &of_run).ok());
  EXPECT_EQ(of_run.messages_size(), 2) << "the in-app item and the email";
  std::vector<json> mails = smtp_->Messages();
  ASSERT_EQ(mails.size(), 1u);
  const std::string data = mails[0]["data"].get<std::string>();
  EXPECT_NE(data.find(absl::StrCat("Message-ID: <", email->id(), "@herald.test>")), std::string::npos) << data;
  EXPECT_NE(data.find("Subject: Unread mention in Roadmap"), std::string::npos) << data;
  EXPECT_NE(data.find("multipart/alternative"), std::string::npos) << data;
  EXPECT_NE(data.find("text/plain"), std::string::npos);
  EXPECT_NE(data.find("text/html"), std::string::npos);
  EXPECT_EQ(mails[0]["rcpt_tos"], json::array({"rita@example.com"}));
}

TEST_F(DeliveryE2eTest, ReadWithinTenMinutesSendsNoEmail) {
  Trigger("unread-reminder", R"({"doc": "Roadmap"})");
  ASSERT_TRUE(harness_->WaitForIdle());
  auto items = harness_->AllFeedItems("rita");
  ASSERT_EQ(items.size(), 1u);
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("rita");
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids(items[0].id());
  v1::MarkFeedItemsResponse marked;
  ASSERT_TRUE(harness_->stub().MarkFeedItems(testing::HeraldHarness::Context().get(), mark, &marked).ok());
  harness_->clock().AdvanceMicros(10 * 60'000'000LL + 1'000'000);
  ASSERT_TRUE(harness_->WaitForIdle());
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_TRUE(Messages("email").empty());
  EXPECT_TRUE(smtp_->Messages().empty());
}

TEST_F(DeliveryE2eTest, APushThePushProviderRefusesFallsBackToAnSms) {
  v1::SetChannelDataRequest tokens;
  tokens.set_user_id("rita");
  tokens.set_channel("fcm");
  tokens.set_data_json(R"({"tokens": ["dead-token"]})");
  v1::ChannelData data;
  ASSERT_TRUE(harness_->stub().SetChannelData(testing::HeraldHarness::Context().get(), tokens, &data).ok());
  ASSERT_TRUE(http_->Script({{"/v1/projects/p1/messages:send",
                              {{{"status", 404}, {"body", R"({"error": {"status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}})"}}}},
                             {"/2010-04-01/Accounts/AC1/Messages.json",
                              {{{"status", 201}, {"body", R"({"sid": "SM1"})"}}}}})
                  .ok());
  Trigger("push-sms", R"({"where": "Lisbon"})");
  ASSERT_TRUE(MessageWithStatus("push", "undelivered").has_value());
  std::optional<v1::Message> sms = MessageWithStatus("sms", "sent");
  ASSERT_TRUE(sms.has_value());
  EXPECT_EQ(sms->provider_message_id(), "SM1");
  json posts = Requests("/2010-04-01/");
  ASSERT_EQ(posts.size(), 1u);
  EXPECT_NE(posts[0]["body"].get<std::string>().find("Lisbon"), std::string::npos);
}

}  // namespace
}  // namespace herald
