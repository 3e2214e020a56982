// Each HTTP provider through a ProviderSet against a recording server on
// loopback: what reached the server (verified there, e.g. the webhook
// signature) and the results Herald gets back.
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/delivery/providers/provider_set.h"
#include "services/delivery/providers/testing/test_servers.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Json = nlohmann::json;

class HttpProvidersTest : public testing::WithScriptedServer<HttpProvidersTest> {
 protected:

  std::unique_ptr<ProviderSet> Set(const std::string& yaml, std::map<std::string, std::string> env = {}) {
    auto config = ParseDeliveryConfig(yaml, env);
    EXPECT_TRUE(config.ok()) << config.status();
    auto set = MakeProviderSet(*config, {});
    EXPECT_TRUE(set.ok()) << set.status();
    return set.ok() ? std::move(*set) : nullptr;
  }

  Json Requests() {
    auto requests = server_->Requests();
    EXPECT_TRUE(requests.ok()) << requests.status();
    return requests.ok() ? *requests : Json::array();
  }

  std::string Base() const { return server_->Url(""); }

};


TEST_F(HttpProvidersTest, WebhookSignatureVerifiesAtTheReceiver) {
  ASSERT_TRUE(server_->Script({{"/hook", {{{"status", 202}}}}}, "whsec_test").ok());
  auto set = Set("channels:\n  hooks:\n    provider: webhook\n    secrets: {signing_secret: {env: SECRET}}\n",
                 {{"SECRET", "whsec_test"}});
  Delivery message;
  message.set_message_id("msg_w1");
  message.set_channel_type("webhook");
  message.set_channel("hooks");
  message.set_workflow("deploys");
  auto* webhook = message.mutable_content()->mutable_webhook();
  webhook->set_url(server_->Url("/hook"));
  webhook->set_body_json(R"({"event": "deploy.finished", "text": "Grüße"})");
  (*webhook->mutable_headers())["X-Team"] = "infra";
  Delivery defaulted = message;
  defaulted.set_message_id("msg_w2");
  defaulted.mutable_content()->mutable_webhook()->clear_body_json();

  std::vector<Result> results = set->Deliver({message, defaulted});
  ASSERT_EQ(results.size(), 2u);
  for (const Result& result : results) {
    EXPECT_EQ(result.outcome(), v1::OUTCOME_DELIVERED) << result.reason();
    EXPECT_EQ(result.status(), "sent");
    EXPECT_EQ(result.provider_status(), "http 202");
  }
  Json requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  // The server sees them in any order (they ran concurrently).
  for (const Json& request : requests) {
    const std::string id = request["headers"]["x-herald-message-id"];
    EXPECT_TRUE(request["signature_valid"].get<bool>()) << id;
    EXPECT_EQ(request["method"], "POST");
    EXPECT_EQ(request["headers"]["idempotency-key"], id);
    EXPECT_EQ(request["headers"]["content-type"], "application/json");
    EXPECT_EQ(request["headers"]["x-team"], "infra");
    if (id == "msg_w1") {
      EXPECT_EQ(request["body"], R"({"event": "deploy.finished", "text": "Grüße"})");
    } else {
      EXPECT_EQ(Json::parse(request["body"].get<std::string>())["workflow"], "deploys");
    }
  }
}

TEST_F(HttpProvidersTest, WebhookSignatureFailsWithAnotherSecret) {
  ASSERT_TRUE(server_->Script({}, "the_receivers_secret").ok());
  auto set = Set("channels:\n  hooks:\n    provider: webhook\n    options: {url: '" + server_->Url("/hook") +
                 "'}\n    secrets: {signing_secret: {env: SECRET}}\n",
                 {{"SECRET", "another_secret"}});
  Delivery message;
  message.set_message_id("msg_w3");
  message.set_channel("hooks");
  message.set_channel_type("webhook");
  message.mutable_content()->mutable_webhook();
  set->Deliver({message});
  Json requests = Requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_FALSE(requests[0]["signature_valid"].get<bool>());
}

TEST_F(HttpProvidersTest, Twilio) {
  ASSERT_TRUE(server_->Script({{"/2010-04-01/Accounts/AC42/Messages.json",
                                {{{"status", 201}, {"body", R"({"sid": "SM123", "status": "queued"})"}},
                                 {{"status", 400}, {"body", R"({"code": 21614, "message": "'To' number is not a valid mobile number", "status": 400})"}},
                                 {{"status", 429}, {"headers", {{"Retry-After", "3"}}}, {"body", R"({"code": 20429})"}}}}})
                  .ok());
  auto set = Set("channels:\n  sms:\n    provider: twilio\n    options: {account_sid: AC42, from: '+15550001111', "
                 "base_url: '" + Base() + "'}\n    secrets: {auth_token: {env: TOKEN}}\n",
                 {{"TOKEN", "twilio-secret-token"}});
  auto sms = [](const std::string& id, const std::string& to) {
    Delivery message;
    message.set_message_id(id);
    message.set_channel_type("sms");
    message.mutable_content()->mutable_sms()->set_to(to);
    message.mutable_content()->mutable_sms()->set_text("Your code is 4242");
    return message;
  };
  // One at a time: the script answers in order.
  Result sent = set->Deliver({sms("s1", "+15552220000")})[0];
  Result invalid = set->Deliver({sms("s2", "+15550000000")})[0];
  Result limited = set->Deliver({sms("s3", "+15552220000")})[0];
  EXPECT_EQ(sent.outcome(), v1::OUTCOME_DELIVERED);
  EXPECT_EQ(sent.provider_message_id(), "SM123");
  EXPECT_EQ(invalid.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(invalid.status(), "undelivered");
  EXPECT_EQ(invalid.reason(), "http 400: twilio 21614: 'To' number is not a valid mobile number");
  EXPECT_EQ(limited.outcome(), v1::OUTCOME_RETRY);
  EXPECT_EQ(limited.retry_after_ms(), 3000);

  Json requests = Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0]["headers"]["content-type"], "application/x-www-form-urlencoded");
  EXPECT_EQ(requests[0]["body"], "To=%2B15552220000&Body=Your%20code%20is%204242&From=%2B15550001111");
  // Basic auth: base64("AC42:twilio-secret-token").
  EXPECT_EQ(requests[0]["headers"]["authorization"], "Basic QUM0Mjp0d2lsaW8tc2VjcmV0LXRva2Vu");
}

TEST_F(HttpProvidersTest, FcmDeliveredIfAnyTokenAccepted) {
  const std::string path = "/v1/projects/acme/messages:send";
  auto set = Set("channels:\n  push:\n    provider: fcm\n    options: {project_id: acme, base_url: '" + Base() +
                 "'}\n    secrets: {access_token: {env: TOKEN}}\n",
                 {{"TOKEN", "ya29.secret"}});
  const std::string unregistered =
      R"({"error": {"code": 404, "status": "NOT_FOUND", "details": [{"errorCode": "UNREGISTERED"}]}})";
  auto push = [](std::vector<std::string> tokens) {
    Delivery message;
    message.set_message_id("p1");
    message.set_channel_type("push");
    for (auto& token : tokens) message.mutable_content()->mutable_push()->add_tokens(token);
    message.mutable_content()->mutable_push()->set_title("New comment");
    return message;
  };
  // First token dead, second accepted.
  ASSERT_TRUE(server_->Script({{path, {{{"status", 404}, {"body", unregistered}},
                                       {{"status", 200}, {"body", R"({"name": "projects/acme/messages/77"})"}}}}})
                  .ok());
  // The tokens of one message go concurrently, so the server's order is
  // not the tokens' order: assert what does not depend on it.
  Result some = set->Deliver({push({"dead", "alive"})})[0];
  EXPECT_EQ(some.outcome(), v1::OUTCOME_DELIVERED);
  EXPECT_EQ(some.provider_message_id(), "projects/acme/messages/77");
  EXPECT_THAT(some.reason(), HasSubstr("delivered to 1 of 2 targets"));
  EXPECT_THAT(some.reason(), HasSubstr("UNREGISTERED"));
  Json requests = Requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["headers"]["authorization"], "Bearer ya29.secret");
  std::set<std::string> tokens;
  for (const Json& request : requests) {
    tokens.insert(Json::parse(request["body"].get<std::string>())["message"]["token"].get<std::string>());
  }
  EXPECT_EQ(tokens, (std::set<std::string>{"dead", "alive"}));

  ASSERT_TRUE(server_->Script({{path, {{{"status", 404}, {"body", unregistered}}}}}).ok());
  Result none = set->Deliver({push({"dead1", "dead2"})})[0];
  EXPECT_EQ(none.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(none.reason(), "all 2 targets failed; target 1: http 404: UNREGISTERED");

  Result empty = set->Deliver({push({"", ""})})[0];
  EXPECT_EQ(empty.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(empty.reason(), "no valid push token (2 empty, 0 malformed)");
}

TEST_F(HttpProvidersTest, SlackWebhookAndApi) {
  ASSERT_TRUE(server_->Script({{"/services/T1/B1/secretpath", {{{"status", 200}, {"body", "ok"}}}},
                               {"/services/T1/B2/gone", {{{"status", 404}, {"body", "no_service"}}}},
                               {"/api/chat.postMessage",
                                {{{"status", 200}, {"body", R"({"ok": true, "ts": "1700000000.000100"})"}},
                                 {{"status", 200}, {"body", R"({"ok": false, "error": "ratelimited"})"}},
                                 {{"status", 200}, {"body", R"({"ok": false, "error": "not_in_channel"})"}}}}})
                  .ok());
  auto set = Set("channels:\n  slack-hooks:\n    provider: slack_webhook\n    options: {allowed_url_prefix: '" +
                 Base() + "/services/'}\n  slack:\n    provider: slack_api\n    options: {base_url: '" + Base() +
                 "'}\n    secrets: {token: {env: TOKEN}}\n",
                 {{"TOKEN", "xoxb-channel-token"}});
  auto chat = [](const std::string& channel, const std::string& data) {
    Delivery message;
    message.set_message_id("c-" + channel);
    message.set_channel_type("chat");
    message.set_channel(channel);
    message.mutable_content()->mutable_chat()->set_channel_data_json(data);
    message.mutable_content()->mutable_chat()->set_text("Build green");
    message.mutable_content()->mutable_chat()->set_blocks_json(R"([{"type": "divider"}])");
    return message;
  };
  const std::string hooks = R"({"connections": [{"incoming_webhook": {"url": ")" + Base() +
                            R"(/services/T1/B1/secretpath"}}]})";
  Result hooked = set->Deliver({chat("slack-hooks", hooks)})[0];
  EXPECT_EQ(hooked.outcome(), v1::OUTCOME_DELIVERED) << hooked.reason();
  const std::string gone = R"({"connections": [{"incoming_webhook": {"url": ")" + Base() +
                           R"(/services/T1/B2/gone"}}]})";
  Result missing = set->Deliver({chat("slack-hooks", gone)})[0];
  EXPECT_EQ(missing.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(missing.reason(), "http 404: no_service");
  Result malformed = set->Deliver({chat("slack-hooks", "{\"connections\": [")})[0];
  EXPECT_EQ(malformed.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(malformed.reason(), "channel_data_json: not valid JSON");

  const std::string api = R"({"connections": [{"channel_id": "C042", "access_token": "xoxb-user-token"}]})";
  Result posted = set->Deliver({chat("slack", api)})[0];
  EXPECT_EQ(posted.outcome(), v1::OUTCOME_DELIVERED);
  EXPECT_EQ(posted.provider_message_id(), "1700000000.000100");
  EXPECT_EQ(set->Deliver({chat("slack", api)})[0].outcome(), v1::OUTCOME_RETRY);
  Result refused = set->Deliver({chat("slack", R"({"connections": [{"channel_id": "C9"}]})")})[0];
  EXPECT_EQ(refused.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(refused.reason(), "slack: not_in_channel");

  Json requests = Requests();
  ASSERT_EQ(requests.size(), 5u);
  EXPECT_EQ(Json::parse(requests[0]["body"].get<std::string>()),
            (Json{{"text", "Build green"}, {"blocks", {{{"type", "divider"}}}}}));
  EXPECT_EQ(requests[2]["headers"]["authorization"], "Bearer xoxb-user-token");
  EXPECT_EQ(Json::parse(requests[2]["body"].get<std::string>())["channel"], "C042");
  EXPECT_EQ(requests[4]["headers"]["authorization"], "Bearer xoxb-channel-token");
}

TEST_F(HttpProvidersTest, SecretsNeverComeBackInResults) {
  // A provider that echoes the credentials it was sent.
  ASSERT_TRUE(server_->Script({{"/api/chat.postMessage",
                                {{{"status", 401}, {"body", "invalid_auth for Bearer xoxb-echoed-secret"}}}},
                               {"/services/echo/secretpath",
                                {{{"status", 400}, {"body", "bad hook " + Base() + "/services/echo/secretpath"}}}}})
                  .ok());
  auto set = Set("channels:\n  slack:\n    provider: slack_api\n    options: {base_url: '" + Base() +
                 "'}\n    secrets: {token: {env: TOKEN}}\n  hooks:\n    provider: slack_webhook\n    options: {allowed_url_prefix: '" +
                 Base() + "'}\n",
                 {{"TOKEN", "xoxb-echoed-secret"}});
  Delivery message;
  message.set_message_id("c1");
  message.set_channel("slack");
  message.set_channel_type("chat");
  message.mutable_content()->mutable_chat()->set_text("hi");
  message.mutable_content()->mutable_chat()->set_channel_data_json(R"({"connections": [{"channel_id": "C1"}]})");
  Delivery hook = message;
  hook.set_channel("hooks");
  hook.mutable_content()->mutable_chat()->set_channel_data_json(
      R"({"connections": [{"incoming_webhook": {"url": ")" + Base() + R"(/services/echo/secretpath"}}]})");
  for (const Result& result : set->Deliver({message, hook})) {
    EXPECT_EQ(result.outcome(), v1::OUTCOME_FAILED);
    const std::string everything = result.DebugString();
    EXPECT_THAT(everything, Not(HasSubstr("xoxb-echoed-secret")));
    EXPECT_THAT(result.reason(), HasSubstr("[redacted]"));
  }
}

}  // namespace
}  // namespace herald::delivery
