// APNs over a real HTTP/2 server (Node's http2 module): cleartext with
// prior knowledge, and TLS with ALPN as api.push.apple.com speaks it. HTTP/2
// is what curl negotiated, the request carries the apns-* headers, and
// per-token answers map as APNs means them.
#include <filesystem>
#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/delivery/providers/apns_adapter.h"
#include "services/delivery/providers/provider_set.h"
#include "services/delivery/providers/testing/test_servers.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class ApnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = testing::ScriptedHttpServer::Start({.http2 = true, .tls_cert_file = "", .tls_key_file = ""});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }

  std::unique_ptr<Provider> Apns() {
    ChannelConfig channel;
    channel.name = "ios";
    channel.type = "push";
    channel.provider = "apns";
    channel.options = {{"topic", "com.acme.app"}, {"base_url", server_->Url("")}, {"http2_prior_knowledge", "true"}};
    channel.secrets = {{"auth_token", "apns-jwt-secret"}};
    auto provider = MakeProvider(channel, SystemClock::Get());
    EXPECT_TRUE(provider.ok()) << provider.status();
    return provider.ok() ? std::move(*provider) : nullptr;
  }

  static Result DeliverOne(Provider& provider, std::vector<std::string> tokens) {
    Delivery message;
    message.set_message_id("msg_apns");
    auto* push = message.mutable_content()->mutable_push();
    for (auto& token : tokens) push->add_tokens(token);
    push->set_title("Hello");
    push->set_body("World");
    (*push->mutable_data())["deep_link"] = "acme://inbox";
    Result result;
    const Delivery* in[] = {&message};
    Result* out[] = {&result};
    provider.Deliver(in, out);
    return result;
  }

  std::unique_ptr<testing::ScriptedHttpServer> server_;
};

TEST_F(ApnsTest, NegotiatesHttp2PriorKnowledge) {
  HttpClientOptions options;
  options.version = HttpVersion::kHttp2PriorKnowledge;
  HttpClient client(options);
  HttpRequest request;
  request.url = server_->Url("/3/device/abcd");
  std::vector<HttpResponse> responses = client.Perform({request, request});
  for (const HttpResponse& response : responses) {
    EXPECT_EQ(response.error, TransportError::kNone) << response.error_detail;
    EXPECT_EQ(response.http_version, CURL_HTTP_VERSION_2_0);
  }
  auto requests = server_->Requests();
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->size(), 2u);
  EXPECT_EQ((*requests)[0]["http_version"], "2");
}

TEST_F(ApnsTest, SendsAlertWithApnsHeaders) {
  ASSERT_TRUE(server_->Script({{"/3/device/aabbcc", {{{"status", 200}, {"headers", {{"apns-id", "server-id-1"}}}}}}}).ok());
  auto provider = Apns();
  Result result = DeliverOne(*provider, {"aabbcc"});
  EXPECT_EQ(result.outcome(), v1::OUTCOME_DELIVERED) << result.reason();
  EXPECT_EQ(result.status(), "sent");
  EXPECT_EQ(result.provider_message_id(), "server-id-1");
  auto requests = server_->Requests();
  ASSERT_TRUE(requests.ok());
  ASSERT_EQ(requests->size(), 1u);
  const Json& request = (*requests)[0];
  EXPECT_EQ(request["method"], "POST");
  EXPECT_EQ(request["http_version"], "2");
  EXPECT_EQ(request["headers"]["apns-topic"], "com.acme.app");
  EXPECT_EQ(request["headers"]["apns-push-type"], "alert");
  EXPECT_EQ(request["headers"]["apns-id"], ApnsIdForMessage("msg_apns"));
  EXPECT_EQ(request["headers"]["authorization"], "bearer apns-jwt-secret");
  EXPECT_EQ(Json::parse(request["body"].get<std::string>()),
            (Json{{"aps", {{"alert", {{"title", "Hello"}, {"body", "World"}}}}}, {"deep_link", "acme://inbox"}}));
}

TEST_F(ApnsTest, DeadTokensFailAndLiveOnesDeliver) {
  ASSERT_TRUE(server_->Script({{"/3/device/0a0a", {{{"status", 410}, {"body", R"({"reason": "Unregistered"})"}}}},
                               {"/3/device/0b0b", {{{"status", 400}, {"body", R"({"reason": "BadDeviceToken"})"}}}},
                               {"/3/device/0c0c", {{{"status", 200}}}},
                               {"/3/device/0d0d", {{{"status", 429}, {"body", R"({"reason": "TooManyRequests"})"}}}}})
                  .ok());
  auto provider = Apns();
  Result mixed = DeliverOne(*provider, {"0a0a", "0c0c"});
  EXPECT_EQ(mixed.outcome(), v1::OUTCOME_DELIVERED);
  EXPECT_EQ(mixed.reason(), "delivered to 1 of 2 targets; target 1: http 410: Unregistered");
  Result dead = DeliverOne(*provider, {"0a0a", "0b0b"});
  EXPECT_EQ(dead.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(dead.status(), "undelivered");
  EXPECT_EQ(dead.reason(), "all 2 targets failed; target 1: http 410: Unregistered");
  Result limited = DeliverOne(*provider, {"0b0b", "0d0d"});
  EXPECT_EQ(limited.outcome(), v1::OUTCOME_RETRY);
  EXPECT_THAT(limited.reason(), HasSubstr("TooManyRequests"));
  Result malformed = DeliverOne(*provider, {"", "not/hex"});
  EXPECT_EQ(malformed.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(malformed.reason(), "no valid push token (1 empty, 1 malformed)");
}

TEST(ApnsTlsTest, Http2OverTlsMultiplexesOnOneConnection) {
  const std::string dir = testing::MakeTempDir();
  auto cert = testing::MakeTestCertificate(dir);
  ASSERT_TRUE(cert.ok()) << cert.status();
  auto server = testing::ScriptedHttpServer::Start({.http2 = true, .tls_cert_file = cert->cert_file,
                                                    .tls_key_file = cert->key_file});
  ASSERT_TRUE(server.ok()) << server.status();
  ChannelConfig channel;
  channel.name = "ios";
  channel.type = "push";
  channel.provider = "apns";
  // The production setting: HTTP/2 negotiated by ALPN, certificate verified.
  channel.options = {{"topic", "com.acme.app"}, {"base_url", (*server)->Url("")}, {"ca_file", cert->cert_file}};
  channel.secrets = {{"auth_token", "apns-jwt-secret"}};
  auto provider = MakeProvider(channel, SystemClock::Get());
  ASSERT_TRUE(provider.ok()) << provider.status();
  Delivery message;
  message.set_message_id("msg_tls");
  for (const char* token : {"01", "02", "03", "04"}) message.mutable_content()->mutable_push()->add_tokens(token);
  message.mutable_content()->mutable_push()->set_title("Hi");
  Result first, second;
  const Delivery* in[] = {&message};
  Result* out[] = {&first};
  (*provider)->Deliver(in, out);
  out[0] = &second;
  (*provider)->Deliver(in, out);
  EXPECT_EQ(first.outcome(), v1::OUTCOME_DELIVERED) << first.reason();
  EXPECT_EQ(second.outcome(), v1::OUTCOME_DELIVERED) << second.reason();
  EXPECT_EQ(first.reason(), "");  // All four tokens accepted.
  auto requests = (*server)->Requests();
  ASSERT_TRUE(requests.ok()) << requests.status();
  ASSERT_EQ(requests->size(), 8u);
  std::set<int> connections;
  for (const Json& request : *requests) {
    EXPECT_EQ(request["alpn"], "h2");
    connections.insert(request["client_port"].get<int>());
  }
  // Eight streams over both calls, one TLS connection.
  EXPECT_EQ(connections.size(), 1u);
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace herald::delivery
