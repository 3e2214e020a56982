// The HTTP adapters as plain code: what each sends for a message, what it
// refuses to send (malformed channel data, empty tokens, huge payloads),
// and how it reads its provider's answers.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/apns_adapter.h"
#include "services/delivery/providers/fcm_adapter.h"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/slack_adapters.h"
#include "services/delivery/providers/twilio_adapter.h"
#include "services/delivery/providers/webhook_adapter.h"
#include "services/delivery/providers/webhook_signature.h"

namespace herald::delivery {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::Pair;
using Json = nlohmann::json;

ChannelConfig Channel(std::string provider, std::map<std::string, std::string> options,
                      std::map<std::string, std::string> secrets = {}) {
  ChannelConfig channel;
  channel.name = "test";
  channel.provider = std::move(provider);
  channel.options = std::move(options);
  channel.secrets = std::move(secrets);
  return channel;
}

std::string Header(const HttpRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (key == name) return value;
  }
  return "<none>";
}

TEST(WebhookSignatureTest, KnownVector) {
  // python3 -c 'import hmac,hashlib;print(hmac.new(b"whsec",b"1700000000.{}",hashlib.sha256).hexdigest())'
  EXPECT_EQ(WebhookSignature("whsec", 1'700'000'000, "{}"),
            "v1=" + HmacSha256Hex("whsec", "1700000000.{}"));
  EXPECT_EQ(HmacSha256Hex("key", "The quick brown fox jumps over the lazy dog"),
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
}

TEST(WebhookAdapterTest, SignedPostWithHeraldHeaders) {
  SimulatedClock clock(1'700'000'000'000'000);
  auto adapter = WebhookAdapter::Create(Channel("webhook", {{"url", "https://hooks.acme.test/in"}},
                                                {{"signing_secret", "whsec"}}),
                                        clock);
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  Delivery delivery;
  delivery.set_message_id("msg_7");
  delivery.set_workflow("welcome");
  delivery.set_recipient("u1");
  delivery.set_channel("hooks");
  (*delivery.mutable_content()->mutable_webhook()->mutable_headers())["X-Team"] = "blue";
  auto requests = (*adapter)->BuildRequests(delivery);
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 1u);
  const HttpRequest& request = (*requests)[0];
  EXPECT_EQ(request.url, "https://hooks.acme.test/in");
  EXPECT_EQ(Json::parse(request.body),
            (Json{{"message_id", "msg_7"}, {"workflow", "welcome"}, {"recipient", "u1"}, {"tenant", ""},
                  {"channel", "hooks"}}));
  EXPECT_EQ(Header(request, "Content-Type"), "application/json");
  EXPECT_EQ(Header(request, "Idempotency-Key"), "msg_7");
  EXPECT_EQ(Header(request, "X-Herald-Message-Id"), "msg_7");
  EXPECT_EQ(Header(request, "X-Herald-Timestamp"), "1700000000");
  EXPECT_EQ(Header(request, "X-Herald-Signature"), WebhookSignature("whsec", 1'700'000'000, request.body));
  EXPECT_EQ(Header(request, "X-Team"), "blue");
}

TEST(WebhookAdapterTest, MessageUrlAndBodyWin) {
  SimulatedClock clock(0);
  auto adapter = WebhookAdapter::Create(Channel("webhook", {{"url", "https://default.test/"}}), clock);
  ASSERT_TRUE(adapter.ok());
  Delivery delivery;
  delivery.mutable_content()->mutable_webhook()->set_url("http://other.test/x");
  delivery.mutable_content()->mutable_webhook()->set_body_json("{\"a\":1}");
  auto requests = (*adapter)->BuildRequests(delivery);
  ASSERT_TRUE(requests.ok());
  EXPECT_EQ((*requests)[0].url, "http://other.test/x");
  EXPECT_EQ((*requests)[0].body, "{\"a\":1}");
  EXPECT_EQ(Header((*requests)[0], "X-Herald-Signature"), "<none>");  // No secret, no signature.
}

TEST(WebhookAdapterTest, RefusesWhatCannotBeSent) {
  SimulatedClock clock(0);
  auto adapter = WebhookAdapter::Create(Channel("webhook", {}), clock);
  ASSERT_TRUE(adapter.ok());
  Delivery no_url;
  EXPECT_THAT(std::string((*adapter)->BuildRequests(no_url).status().message()), HasSubstr("no webhook url"));
  Delivery file_url;
  file_url.mutable_content()->mutable_webhook()->set_url("file:///etc/passwd");
  EXPECT_FALSE((*adapter)->BuildRequests(file_url).ok());
  Delivery injected;
  injected.mutable_content()->mutable_webhook()->set_url("http://a.test/");
  (*injected.mutable_content()->mutable_webhook()->mutable_headers())["X-A"] = "1\r\nX-Evil: 2";
  EXPECT_THAT(std::string((*adapter)->BuildRequests(injected).status().message()), HasSubstr("is not valid"));
  Delivery reserved;
  reserved.mutable_content()->mutable_webhook()->set_url("http://a.test/");
  (*reserved.mutable_content()->mutable_webhook()->mutable_headers())["X-Herald-Signature"] = "forged";
  EXPECT_THAT(std::string((*adapter)->BuildRequests(reserved).status().message()), HasSubstr("set by Herald"));
  EXPECT_FALSE(WebhookAdapter::Create(Channel("webhook", {{"url", "ftp://x"}}), clock).ok());
}

TEST(TwilioAdapterTest, FormPostWithBasicAuth) {
  auto adapter = TwilioAdapter::Create(Channel("twilio", {{"account_sid", "AC1"}, {"from", "+15550001111"},
                                                          {"base_url", "http://127.0.0.1:9/"}},
                                               {{"auth_token", "tok"}}));
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  Delivery delivery;
  delivery.mutable_content()->mutable_sms()->set_to("+15552223333");
  delivery.mutable_content()->mutable_sms()->set_text("Code: 1234 & more");
  auto requests = (*adapter)->BuildRequests(delivery);
  ASSERT_TRUE(requests.ok());
  const HttpRequest& request = (*requests)[0];
  EXPECT_EQ(request.url, "http://127.0.0.1:9/2010-04-01/Accounts/AC1/Messages.json");
  EXPECT_EQ(request.body, "To=%2B15552223333&Body=Code%3A%201234%20%26%20more&From=%2B15550001111");
  EXPECT_EQ(request.basic_auth_user, "AC1");
  EXPECT_EQ(request.basic_auth_password, "tok");

  Result result;
  HttpResponse invalid;
  invalid.status = 400;
  invalid.body = R"({"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})";
  MapHttpResponse(invalid, 0, result);
  (*adapter)->InterpretResponse(invalid, result);
  EXPECT_EQ(result.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(result.status(), "undelivered");
  EXPECT_EQ(result.reason(), "http 400: twilio 21211: Invalid 'To' Phone Number");
}

TEST(TwilioAdapterTest, ConfigErrorsNameTheField) {
  auto missing_sid = TwilioAdapter::Create(Channel("twilio", {{"from", "+1"}}, {{"auth_token", "t"}}));
  EXPECT_THAT(std::string(missing_sid.status().message()), HasSubstr("channels.test.options.account_sid: required"));
  auto missing_token = TwilioAdapter::Create(Channel("twilio", {{"account_sid", "AC1"}, {"from", "+1"}}));
  EXPECT_THAT(std::string(missing_token.status().message()), HasSubstr("channels.test.secrets.auth_token: required"));
  auto missing_from = TwilioAdapter::Create(Channel("twilio", {{"account_sid", "AC1"}}, {{"auth_token", "t"}}));
  EXPECT_THAT(std::string(missing_from.status().message()), HasSubstr("channels.test.options.from"));
}

Delivery Push(std::vector<std::string> tokens) {
  Delivery delivery;
  delivery.set_message_id("msg_push");
  auto* push = delivery.mutable_content()->mutable_push();
  for (auto& token : tokens) push->add_tokens(token);
  push->set_title("Hi");
  push->set_body("There");
  (*push->mutable_data())["thread"] = "t1";
  return delivery;
}

TEST(FcmAdapterTest, OneRequestPerTokenEmptyTokensSkipped) {
  auto adapter = FcmAdapter::Create(Channel("fcm", {{"project_id", "acme"}}, {{"access_token", "ya29"}}));
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  auto requests = (*adapter)->BuildRequests(Push({"tokA", "", "tokB"}));
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[0].url, "https://fcm.googleapis.com/v1/projects/acme/messages:send");
  EXPECT_EQ(Header((*requests)[0], "Authorization"), "Bearer ya29");
  EXPECT_EQ(Json::parse((*requests)[1].body),
            (Json{{"message", {{"token", "tokB"}, {"notification", {{"title", "Hi"}, {"body", "There"}}},
                               {"data", {{"thread", "t1"}}}}}}));
  auto none = (*adapter)->BuildRequests(Push({"", ""}));
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(), "no valid push token (2 empty, 0 malformed)");
  EXPECT_EQ((*adapter)->BuildRequests(Push({})).status().message(), "no push tokens");

  Result result;
  HttpResponse unregistered;
  unregistered.status = 404;
  unregistered.body = R"({"error": {"code": 404, "status": "NOT_FOUND", "details": [
      {"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": "UNREGISTERED"}]}})";
  MapHttpResponse(unregistered, 0, result);
  (*adapter)->InterpretResponse(unregistered, result);
  EXPECT_EQ(result.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(result.reason(), "http 404: UNREGISTERED");
}

TEST(ApnsAdapterTest, RequestShape) {
  auto adapter = ApnsAdapter::Create(Channel("apns", {{"topic", "com.acme.app"}}, {{"auth_token", "jwt"}}));
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->http_version(), HttpVersion::kHttp2Tls);
  auto requests = (*adapter)->BuildRequests(Push({"a1b2", "zz-not-hex", "C3D4"}));
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 2u);  // The malformed token is not sent.
  const HttpRequest& request = (*requests)[0];
  EXPECT_EQ(request.url, "https://api.push.apple.com/3/device/a1b2");
  EXPECT_EQ((*requests)[1].url, "https://api.push.apple.com/3/device/C3D4");
  EXPECT_EQ(Header(request, "apns-topic"), "com.acme.app");
  EXPECT_EQ(Header(request, "apns-push-type"), "alert");
  EXPECT_EQ(Header(request, "authorization"), "bearer jwt");
  EXPECT_EQ(Header(request, "apns-id"), ApnsIdForMessage("msg_push"));
  EXPECT_EQ(Json::parse(request.body),
            (Json{{"aps", {{"alert", {{"title", "Hi"}, {"body", "There"}}}}}, {"thread", "t1"}}));
}

TEST(ApnsAdapterTest, ApnsIdIsAStableVersion5Uuid) {
  const std::string id = ApnsIdForMessage("msg_push");
  EXPECT_EQ(id, ApnsIdForMessage("msg_push"));
  EXPECT_NE(id, ApnsIdForMessage("msg_push2"));
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[14], '5');
  EXPECT_TRUE(id[19] == '8' || id[19] == '9' || id[19] == 'a' || id[19] == 'b') << id;
}

TEST(ApnsAdapterTest, RefusesOversizedPayloadAndReadsReasons) {
  auto adapter = ApnsAdapter::Create(Channel("apns", {{"topic", "t"}, {"http2_prior_knowledge", "true"}},
                                             {{"auth_token", "jwt"}}));
  ASSERT_TRUE(adapter.ok());
  EXPECT_EQ((*adapter)->http_version(), HttpVersion::kHttp2PriorKnowledge);
  Delivery huge = Push({"ab"});
  huge.mutable_content()->mutable_push()->set_body(std::string(5000, 'x'));
  EXPECT_THAT(std::string((*adapter)->BuildRequests(huge).status().message()), HasSubstr("exceeds 4096"));

  Result result;
  HttpResponse gone;
  gone.status = 410;
  gone.body = R"({"reason": "Unregistered", "timestamp": 1700000000000})";
  MapHttpResponse(gone, 0, result);
  (*adapter)->InterpretResponse(gone, result);
  EXPECT_EQ(result.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(result.reason(), "http 410: Unregistered");
  EXPECT_FALSE(ApnsAdapter::Create(Channel("apns", {{"topic", "t"}, {"priority", "11"}}, {{"auth_token", "j"}})).ok());
}

Delivery Chat(const std::string& channel_data, const std::string& blocks = "") {
  Delivery delivery;
  auto* chat = delivery.mutable_content()->mutable_chat();
  chat->set_channel_data_json(channel_data);
  chat->set_text("Deploy finished");
  chat->set_blocks_json(blocks);
  return delivery;
}

TEST(SlackAdaptersTest, MalformedChannelDataFailsWithAReason) {
  auto webhook = SlackWebhookAdapter::Create(Channel("slack_webhook", {}));
  auto api = SlackApiAdapter::Create(Channel("slack_api", {}, {{"token", "xoxb-1"}}));
  ASSERT_TRUE(webhook.ok() && api.ok());
  struct Case {
    std::string data;
    std::string blocks;
    std::string error;
  };
  for (const Case& c : std::vector<Case>{
           {"", "", "no slack channel data"},
           {"{\"connections\": [{\"access_token\": \"xoxb-SECRET\"", "", "channel_data_json: not valid JSON"},
           {"[1,2]", "", "no \"connections\" array"},
           {"{\"connections\": 5}", "", "no \"connections\" array"},
           {"{\"connections\": [1, \"x\", null, {\"incoming_webhook\": 3}]}", "", "no slack"},
           {"{\"connections\": [{\"channel_id\": \"C1\"}]}", "{not json", "blocks_json: not a JSON array"},
       }) {
    for (const HttpAdapter* adapter : {static_cast<HttpAdapter*>(webhook->get()), static_cast<HttpAdapter*>(api->get())}) {
      auto requests = adapter->BuildRequests(Chat(c.data, c.blocks));
      ASSERT_FALSE(requests.ok()) << c.data;
      EXPECT_THAT(std::string(requests.status().message()), HasSubstr(c.error)) << c.data;
      EXPECT_THAT(std::string(requests.status().message()), Not(HasSubstr("SECRET")));
    }
  }
}

TEST(SlackAdaptersTest, WebhookUrlsOutsideThePrefixAreRefused) {
  auto adapter = SlackWebhookAdapter::Create(Channel("slack_webhook", {}));
  ASSERT_TRUE(adapter.ok());
  auto requests = (*adapter)->BuildRequests(Chat(R"({"connections": [
      {"incoming_webhook": {"url": "http://169.254.169.254/latest"}},
      {"incoming_webhook": {"url": "https://hooks.slack.com/services/T/B/X"}}]})",
                                                 R"([{"type": "section"}])"));
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 1u);
  EXPECT_EQ((*requests)[0].url, "https://hooks.slack.com/services/T/B/X");
  EXPECT_EQ(Json::parse((*requests)[0].body), (Json{{"text", "Deploy finished"}, {"blocks", {{{"type", "section"}}}}}));
  EXPECT_THAT((*requests)[0].secrets, ElementsAre("https://hooks.slack.com/services/T/B/X"));
}

TEST(SlackAdaptersTest, ApiAnswers) {
  auto adapter = SlackApiAdapter::Create(Channel("slack_api", {}, {{"token", "xoxb-channel"}}));
  ASSERT_TRUE(adapter.ok());
  auto requests = (*adapter)->BuildRequests(
      Chat(R"({"connections": [{"channel_id": "C1"}, {"channel_id": "C2", "access_token": "xoxb-user"}]})"));
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[0].url, "https://slack.com/api/chat.postMessage");
  EXPECT_EQ(Header((*requests)[0], "Authorization"), "Bearer xoxb-channel");
  EXPECT_EQ(Header((*requests)[1], "Authorization"), "Bearer xoxb-user");
  EXPECT_EQ(Json::parse((*requests)[1].body)["channel"], "C2");

  auto interpret = [&](const std::string& body) {
    HttpResponse response;
    response.status = 200;
    response.body = body;
    Result result;
    MapHttpResponse(response, 0, result);
    (*adapter)->InterpretResponse(response, result);
    return result;
  };
  Result ok = interpret(R"({"ok": true, "ts": "1503435956.000247"})");
  EXPECT_EQ(ok.outcome(), v1::OUTCOME_DELIVERED);
  EXPECT_EQ(ok.provider_message_id(), "1503435956.000247");
  Result limited = interpret(R"({"ok": false, "error": "ratelimited"})");
  EXPECT_EQ(limited.outcome(), v1::OUTCOME_RETRY);
  Result missing = interpret(R"({"ok": false, "error": "channel_not_found"})");
  EXPECT_EQ(missing.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(missing.reason(), "slack: channel_not_found");
  EXPECT_EQ(interpret("<html>").outcome(), v1::OUTCOME_FAILED);
}

}  // namespace
}  // namespace herald::delivery
