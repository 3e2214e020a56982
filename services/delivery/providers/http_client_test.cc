// The HTTP client and the shared outcome mapping against a real server on
// loopback: each scripted answer (200, 429 + Retry-After, 500, 400, a
// timeout, a refused connection, a redirect) becomes the right result;
// the concurrency cap holds; connections are reused.
#include "services/delivery/providers/http_client.h"


#include <algorithm>
#include <set>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_set.h"
#include "services/delivery/providers/testing/test_servers.h"

namespace herald::delivery {
namespace {

using ::testing::HasSubstr;
using Json = nlohmann::json;

class HttpClientTest : public testing::WithScriptedServer<HttpClientTest> {
 protected:

  // A webhook channel posting to `path` on the test server.
  std::unique_ptr<Provider> Webhook(const std::string& path, int64_t timeout_ms = 5000, int concurrency = 8) {
    ChannelConfig channel;
    channel.name = "hooks";
    channel.type = "webhook";
    channel.provider = "webhook";
    channel.options["url"] = server_->Url(path);
    channel.timeout_ms = timeout_ms;
    channel.concurrency = concurrency;
    auto provider = MakeProvider(channel, SystemClock::Get());
    EXPECT_TRUE(provider.ok()) << provider.status();
    return provider.ok() ? std::move(*provider) : nullptr;
  }

  static Result DeliverOne(Provider& provider, const std::string& id = "msg_1") {
    Delivery delivery;
    delivery.set_message_id(id);
    delivery.mutable_content()->mutable_webhook();
    Result result;
    result.set_message_id(id);
    const Delivery* in[] = {&delivery};
    Result* out[] = {&result};
    provider.Deliver(in, out);
    return result;
  }

};


TEST_F(HttpClientTest, OutcomeTable) {
  ASSERT_TRUE(server_->Script({{"/ok", {{{"status", 200}, {"body", "{\"id\":1}"}}}},
                               {"/limited", {{{"status", 429}, {"headers", {{"Retry-After", "17"}}}, {"body", "slow"}}}},
                               {"/broken", {{{"status", 500}, {"body", "internal"}}}},
                               {"/bad", {{{"status", 400}, {"body", "{\"error\": \"bad payload\"}"}}}},
                               {"/moved", {{{"status", 301}, {"headers", {{"Location", "http://127.0.0.2:1/x"}}}, {"body", ""}}}}})
                  .ok());
  struct Case {
    std::string path;
    v1::Outcome outcome;
    std::string status;
    std::string provider_status;
    std::string reason;
    int64_t retry_after_ms;
  };
  for (const Case& c : std::vector<Case>{
           {"/ok", v1::OUTCOME_DELIVERED, "sent", "http 200", "", 0},
           {"/limited", v1::OUTCOME_RETRY, "", "http 429", "http 429: slow", 17000},
           {"/broken", v1::OUTCOME_RETRY, "", "http 500", "http 500: internal", 0},
           {"/bad", v1::OUTCOME_FAILED, "undelivered", "http 400", "http 400: {\"error\": \"bad payload\"}", 0},
           {"/moved", v1::OUTCOME_FAILED, "undelivered", "http 301", "http 301", 0},
       }) {
    auto provider = Webhook(c.path);
    Result result = DeliverOne(*provider);
    EXPECT_EQ(result.message_id(), "msg_1") << c.path;
    EXPECT_EQ(result.outcome(), c.outcome) << c.path;
    EXPECT_EQ(result.status(), c.status) << c.path;
    EXPECT_EQ(result.provider_status(), c.provider_status) << c.path;
    EXPECT_EQ(result.reason(), c.reason) << c.path;
    EXPECT_EQ(result.retry_after_ms(), c.retry_after_ms) << c.path;
    EXPECT_GT(result.latency_us(), 0) << c.path;
  }
  auto requests = server_->Requests();
  ASSERT_TRUE(requests.ok());
  // One request each: the redirect was not followed.
  EXPECT_EQ(requests->size(), 5u);
}

TEST_F(HttpClientTest, TimeoutIsRetry) {
  ASSERT_TRUE(server_->Script({{"/slow", {{{"status", 200}, {"delay_ms", 3000}}}}}).ok());
  auto provider = Webhook("/slow", /*timeout_ms=*/300);
  const absl::Time start = absl::Now();
  Result result = DeliverOne(*provider);
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
  EXPECT_EQ(result.outcome(), v1::OUTCOME_RETRY);
  EXPECT_EQ(result.provider_status(), "timeout");
}

TEST_F(HttpClientTest, RefusedConnectionIsRetry) {
  const int port = testing::ClosedLoopbackPort();
  ASSERT_NE(port, 0);
  HttpClient client(HttpClientOptions{});
  HttpRequest request;
  request.url = "http://127.0.0.1:" + std::to_string(port) + "/";
  std::vector<HttpResponse> responses = client.Perform({request});
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].error, TransportError::kConnect);
  Result result;
  MapHttpResponse(responses[0], 0, result);
  EXPECT_EQ(result.outcome(), v1::OUTCOME_RETRY);
  EXPECT_EQ(result.provider_status(), "connect");
}

TEST_F(HttpClientTest, NonHttpSchemesAreRefused) {
  HttpClient client(HttpClientOptions{});
  HttpRequest request;
  request.url = "file:///etc/passwd";
  EXPECT_EQ(client.Perform({request})[0].error, TransportError::kInvalidUrl);
}

TEST_F(HttpClientTest, ConcurrencyCapHoldsAcrossCallers) {
  ASSERT_TRUE(server_->Script({{"/wait", {{{"status", 200}, {"delay_ms", 150}}}}}).ok());
  HttpClientOptions options;
  options.concurrency = 4;
  HttpClient client(options);
  std::vector<HttpRequest> requests(8);
  for (HttpRequest& request : requests) request.url = server_->Url("/wait");
  // Two threads share one client, so one cap.
  std::thread other([&] { client.Perform(requests); });
  std::vector<HttpResponse> responses = client.Perform(requests);
  other.join();
  for (const HttpResponse& response : responses) EXPECT_EQ(response.status, 200);
  auto recorded = server_->Requests();
  ASSERT_TRUE(recorded.ok());
  ASSERT_EQ(recorded->size(), 16u);
  int max_in_flight = 0;
  for (const Json& request : *recorded) max_in_flight = std::max(max_in_flight, request["in_flight"].get<int>());
  EXPECT_LE(max_in_flight, 4);
  EXPECT_GE(max_in_flight, 2);  // It did run concurrently.
}

TEST_F(HttpClientTest, ConnectionsAreReusedBetweenCalls) {
  ASSERT_TRUE(server_->Script({}).ok());
  HttpClient client(HttpClientOptions{});
  HttpRequest request;
  request.url = server_->Url("/again");
  for (int i = 0; i < 5; ++i) ASSERT_EQ(client.Perform({request})[0].status, 200);
  auto recorded = server_->Requests();
  ASSERT_TRUE(recorded.ok());
  std::set<int> client_ports;
  for (const Json& r : *recorded) client_ports.insert(r["client_port"].get<int>());
  EXPECT_EQ(client_ports.size(), 1u);  // One keep-alive connection.
}

TEST_F(HttpClientTest, HugeAnswerIsBoundedAndHugeBodyRefused) {
  ASSERT_TRUE(server_->Script({{"/huge", {{{"status", 400}, {"body", std::string(1 << 20, 'z')}}}}}).ok());
  auto provider = Webhook("/huge");
  Result result = DeliverOne(*provider);
  EXPECT_EQ(result.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(result.provider_response().size(), 512u);
  EXPECT_LT(result.reason().size(), 200u);

  Delivery huge;
  huge.set_message_id("big");
  huge.mutable_content()->mutable_webhook()->set_body_json(std::string(2 << 20, ' '));
  Result refused;
  const Delivery* in[] = {&huge};
  Result* out[] = {&refused};
  provider->Deliver(in, out);
  EXPECT_EQ(refused.outcome(), v1::OUTCOME_FAILED);
  EXPECT_THAT(refused.reason(), HasSubstr("exceeds"));
}

}  // namespace
}  // namespace herald::delivery
