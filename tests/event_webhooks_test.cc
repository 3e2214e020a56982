// Outbound event webhooks end to end on a real Redis and a loopback HTTP
// receiver: the messages and feed scripts fill the outbox only while a
// worker runs, the worker POSTs each event signed (HMAC-SHA256 checked here
// with OpenSSL), retries a failed POST after the backoff / Retry-After and
// delivers it exactly once, drops a permanently refused one.
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/clock.h"
#include "core/keys.h"
#include "events/event_webhook_worker.h"
#include "feed/feed_store.h"
#include "gtest/gtest.h"
#include "messages/delivery_state.h"
#include "messages/message_history.h"
#include "messages/message_store.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "services/delivery/providers/testing/test_servers.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {


constexpr int kPartitions = 2;
constexpr const char* kSecret = "whsec_test";

std::string HmacHex(const std::string& key, const std::string& data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest, &length);
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), length));
}

// The providers' scripted loopback HTTP server, as these tests read it.
class Receiver {
 public:
  struct Request {
    std::string method;
    std::string path;
    std::map<std::string, std::string> headers;  // names lower-cased
    std::string body;
    absl::Time received;
  };
  struct Response {
    int status = 200;
    std::string retry_after;
  };

  static absl::StatusOr<std::unique_ptr<Receiver>> Start() {
    auto server = delivery::testing::ScriptedHttpServer::Start();
    if (!server.ok()) return server.status();
    return std::unique_ptr<Receiver>(new Receiver(std::move(*server)));
  }
  std::string Url(const std::string& path) const { return server_->Url(path); }
  // The next requests get these answers, in order; after them, 200.
  void QueueResponses(const std::vector<Response>& responses) {
    nlohmann::json script = nlohmann::json::array();
    for (const Response& response : responses) {
      nlohmann::json answer = {{"status", response.status}};
      if (!response.retry_after.empty()) answer["headers"] = {{"Retry-After", response.retry_after}};
      script.push_back(answer);
    }
    script.push_back({{"status", 200}});
    EXPECT_TRUE(server_->Script({{"/herald/events", script}}).ok());
  }
  std::vector<Request> requests() const {
    std::vector<Request> out;
    auto recorded = server_->Requests();
    EXPECT_TRUE(recorded.ok()) << recorded.status();
    if (!recorded.ok()) return out;
    for (const nlohmann::json& r : *recorded) {
      Request request{r.value("method", ""), r.value("path", ""), {}, r.value("body", ""),
                      absl::FromUnixMicros(static_cast<int64_t>(r.value("received_at", 0.0) * 1e6))};
      const nlohmann::json headers = r.value("headers", nlohmann::json::object());
      for (const auto& [name, value] : headers.items()) {
        if (value.is_string()) request.headers[name] = value.get<std::string>();
      }
      out.push_back(std::move(request));
    }
    return out;
  }
  bool WaitForRequests(size_t count, absl::Duration timeout) const {
    const absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (requests().size() >= count) return true;
      absl::SleepFor(absl::Milliseconds(20));
    }
    return requests().size() >= count;
  }

 private:
  explicit Receiver(std::unique_ptr<delivery::testing::ScriptedHttpServer> server) : server_(std::move(server)) {}
  std::unique_ptr<delivery::testing::ScriptedHttpServer> server_;
};

class EventWebhooksTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    auto server = Receiver::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    client_ = Connect();
    metrics_ = std::make_unique<events::EventWebhookMetrics>(registry_);
  }
  void TearDown() override {
    if (worker_) worker_->Stop();
  }

  void StartWorker(int max_attempts = 3) {
    delivery::ChannelConfig hook;
    hook.name = "event_webhook";
    hook.type = hook.provider = "webhook";
    hook.options["url"] = server_->Url("/herald/events");
    hook.secrets["signing_secret"] = kSecret;
    hook.retry.max_attempts = max_attempts;
    hook.retry.initial_backoff_ms = 50;
    hook.retry.max_backoff_ms = 200;
    hook.timeout_ms = 5000;
    events::EventWebhookOptions options;
    options.partitions = kPartitions;
    options.consumer_name = "test";
    options.block_ms = 20;
    options.retry_tick_ms = 20;
    auto worker = events::EventWebhookWorker::Create(endpoint(), hook, SystemClock::Get(), options, *metrics_);
    ASSERT_TRUE(worker.ok()) << worker.status();
    worker_ = *std::move(worker);
    ASSERT_TRUE(worker_->Start().ok());
  }

  redis::Reply Run(const redis::Command& command) {
    auto reply = client_->Execute(command);
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *reply : redis::Reply{};
  }

  void Queue(const Keys& keys, const std::string& id) {
    messages::QueuedMessage message;
    message.message_id = id;
    message.recipient = "rita";
    message.workflow = "comments";
    message.tenant = "acme";
    message.channel = "email";
    message.channel_type = "email";
    message.at_us = 1'700'000'000'123'456;
    EXPECT_EQ(Run(messages::QueueMessageCommand(keys, message)).integer, 1);
  }

  // The bodies of the first `count` requests (waiting for them), each
  // checked to be a signed POST of one event.
  std::vector<nlohmann::json> ReceivedEvents(size_t count) {
    EXPECT_TRUE(server_->WaitForRequests(count, absl::Seconds(20)))
        << "got " << server_->requests().size() << " of " << count << " events";
    std::vector<nlohmann::json> events;
    for (const Receiver::Request& request : server_->requests()) {
      EXPECT_EQ(request.method, "POST");
      EXPECT_EQ(request.path, "/herald/events");
      EXPECT_EQ(request.headers.at("content-type"), "application/json");
      const std::string timestamp = request.headers.at("x-herald-timestamp");
      int64_t seconds = 0;
      EXPECT_TRUE(absl::SimpleAtoi(timestamp, &seconds));
      EXPECT_NEAR(seconds, absl::ToUnixSeconds(absl::Now()), 60);
      EXPECT_EQ(request.headers.at("x-herald-signature"),
                absl::StrCat("v1=", HmacHex(kSecret, absl::StrCat(timestamp, ".", request.body))))
          << request.body;
      nlohmann::json event = nlohmann::json::parse(request.body, nullptr, false);
      EXPECT_TRUE(event.is_object()) << request.body;
      EXPECT_EQ(request.headers.at("idempotency-key"), event.value("id", "?"));
      events.push_back(std::move(event));
    }
    // The events of one read are POSTed in parallel, so they may arrive in
    // any order; their ids (evt_<partition>_<outbox entry id>) carry the
    // order in which Herald emitted them.
    auto emitted = [](const nlohmann::json& event) {
      std::vector<std::string> parts = absl::StrSplit(event.value("id", ""), absl::ByAnyChar("_-"));
      std::vector<int64_t> key;
      for (const std::string& part : parts) {
        int64_t number = 0;
        if (absl::SimpleAtoi(part, &number)) key.push_back(number);
      }
      return key;
    };
    std::stable_sort(events.begin(), events.end(),
                     [&](const nlohmann::json& a, const nlohmann::json& b) { return emitted(a) < emitted(b); });
    return events;
  }

  // Waits until every outbox and retry timer is empty and nothing is
  // pending: nothing is left that could still be POSTed.
  void WaitUntilDrained() {
    const absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      int64_t left = 0;
      for (int p = 0; p < kPartitions; ++p) {
        const Keys keys(p);
        left += Run({"XLEN", keys.EventOutbox()}).integer + Run({"ZCARD", keys.EventDue()}).integer;
        redis::Reply pending = Run({"XPENDING", keys.EventOutbox(), std::string(kEventWebhookGroup)});
        if (!pending.elements.empty()) left += pending.elements[0].integer;
      }
      if (left == 0) return;
      absl::SleepFor(absl::Milliseconds(10));
    }
    ADD_FAILURE() << "the outboxes did not drain";
  }

  static std::vector<std::string> Types(const std::vector<nlohmann::json>& events) {
    std::vector<std::string> types;
    for (const auto& event : events) types.push_back(event.value("type", ""));
    return types;
  }

  prometheus::Registry registry_;
  std::unique_ptr<events::EventWebhookMetrics> metrics_;
  std::unique_ptr<Receiver> server_;
  std::unique_ptr<redis::RedisClient> client_;
  std::unique_ptr<events::EventWebhookWorker> worker_;
};

TEST_F(EventWebhooksTest, AQueuedThenSentDeliveryPostsBothStatusesSigned) {
  StartWorker();
  const Keys keys(1);
  Queue(keys, "msg-1");
  messages::DeliveryRecord sent;
  sent.message_id = "msg-1";
  sent.outcome = messages::DeliveryRecord::Outcome::kDelivered;
  sent.status = "sent";
  sent.attempt = 1;
  EXPECT_EQ(Run(messages::RecordDeliveriesCommand(keys, {sent}, 1'700'000'000'200'000, "test")).elements.at(0).integer, 1);

  auto events = ReceivedEvents(2);
  ASSERT_EQ(Types(events), (std::vector<std::string>{"message.queued", "message.sent"}));
  for (const auto& event : events) {
    EXPECT_EQ(event["message_id"], "msg-1");
    EXPECT_EQ(event["recipient"], "rita");
    EXPECT_EQ(event["workflow"], "comments");
    EXPECT_EQ(event["tenant"], "acme");
    EXPECT_EQ(event["channel_type"], "email");
  }
  EXPECT_EQ(events[0]["status"], "queued");
  EXPECT_EQ(events[0]["at_us"], "1700000000123456");  // exact: a string
  EXPECT_EQ(events[1]["status"], "sent");
  EXPECT_EQ(events[1]["at_us"], "1700000000200000");
  EXPECT_NE(events[0]["id"], events[1]["id"]);
  WaitUntilDrained();
  EXPECT_EQ(metrics_->delivered.Value(), 2);
}

TEST_F(EventWebhooksTest, AReceiptPostsTheNewStatus) {
  StartWorker();
  const Keys keys(0);
  Queue(keys, "msg-2");
  v1::UpdateMessageStatusRequest receipt;
  receipt.set_user_id("rita");
  receipt.set_message_id("msg-2");
  receipt.set_status("bounced");
  receipt.set_reason("smtp 550 5.1.1");
  auto command = messages::ReceiptCommand(keys, receipt, 1'700'000'000'300'000);
  ASSERT_TRUE(command.ok()) << command.status();
  Run(*command);

  auto events = ReceivedEvents(2);
  ASSERT_EQ(Types(events), (std::vector<std::string>{"message.queued", "message.bounced"}));
  EXPECT_EQ(events[1]["status"], "bounced");
  EXPECT_EQ(events[1]["message_id"], "msg-2");
  EXPECT_EQ(events[1]["at_us"], "1700000000300000");
}

TEST_F(EventWebhooksTest, AnInAppItemAndMarkingItReadPostDeliveredSeenRead) {
  StartWorker();
  const Keys keys(1);
  feed::NewItem item;
  item.item.set_id("item-1");
  item.item.set_workflow("comments");
  item.item.set_tenant("acme");
  item.recipient = "rita";
  item.channel = "in_app";
  item.inserted_at_us = 1'700'000'000'400'000;
  Run(feed::InsertManyCommand(keys, {item}));
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("rita");
  mark.set_action(v1::FEED_ACTION_READ);
  mark.add_ids("item-1");
  auto command = feed::MarkCommand(keys, mark, 1'700'000'000'500);
  ASSERT_TRUE(command.ok()) << command.status();
  Run(*command);

  auto events = ReceivedEvents(3);
  ASSERT_EQ(Types(events), (std::vector<std::string>{"message.delivered", "message.seen", "message.read"}));
  for (const auto& event : events) {
    EXPECT_EQ(event["message_id"], "item-1");
    EXPECT_EQ(event["channel_type"], "in_app_feed");
    EXPECT_EQ(event["status"], "delivered");
    EXPECT_EQ(event["tenant"], "acme");
    EXPECT_EQ(event["workflow"], "comments");
  }
  EXPECT_EQ(events[0]["at_us"], "1700000000400000");
  EXPECT_EQ(events[2]["at_us"], "1700000000500000");
}

TEST_F(EventWebhooksTest, AFailedPostIsRetriedAfterRetryAfterAndArrivesExactlyOnce) {
  server_->QueueResponses({{500, ""}, {503, "1"}});  // then 200
  StartWorker(/*max_attempts=*/5);
  Queue(Keys(0), "msg-3");

  ASSERT_TRUE(server_->WaitForRequests(3, absl::Seconds(20)));
  WaitUntilDrained();
  auto requests = server_->requests();
  ASSERT_EQ(requests.size(), 3u);  // 500, 503, then 200: nothing after
  for (const auto& request : requests) EXPECT_EQ(request.body, requests[0].body);
  // The 503 asked for one second; the backoff alone would be ~100 ms.
  EXPECT_GE(requests[2].received - requests[1].received, absl::Milliseconds(900));
  auto events = ReceivedEvents(3);
  EXPECT_EQ(events[0]["type"], "message.queued");
  EXPECT_EQ(metrics_->retried.Value(), 2);
  EXPECT_EQ(metrics_->delivered.Value(), 1);
}

TEST_F(EventWebhooksTest, PermanentFailuresAndTheLastAttemptAreDroppedAndCounted) {
  server_->QueueResponses({{400, ""}, {500, ""}, {500, ""}});
  StartWorker(/*max_attempts=*/2);
  Queue(Keys(0), "msg-4");  // 400: dropped at once
  ASSERT_TRUE(server_->WaitForRequests(1, absl::Seconds(20)));
  Queue(Keys(1), "msg-5");  // 500, 500: dropped after the second attempt
  ASSERT_TRUE(server_->WaitForRequests(3, absl::Seconds(20)));
  WaitUntilDrained();
  EXPECT_EQ(server_->requests().size(), 3u);
  EXPECT_EQ(metrics_->failed.Value(), 1);
  EXPECT_EQ(metrics_->retried.Value(), 1);
  EXPECT_EQ(metrics_->exhausted.Value(), 1);
  EXPECT_EQ(metrics_->delivered.Value(), 0);
}

TEST_F(EventWebhooksTest, WithoutAWorkerTheOutboxStaysEmpty) {
  const Keys keys(0);
  Queue(keys, "msg-6");
  messages::DeliveryRecord failed;
  failed.message_id = "msg-6";
  failed.outcome = messages::DeliveryRecord::Outcome::kFailed;
  failed.status = "undelivered";
  failed.attempt = 1;
  Run(messages::RecordDeliveriesCommand(keys, {failed}, 1'700'000'000'600'000, "test"));
  Run(messages::ReplayDeadLettersCommand(keys, {"msg-6"}, 1'700'000'000'700'000));
  messages::NotDelivered record;
  record.message_id = "msg-7";
  record.recipient = "rita";
  record.status = "not_sent";
  record.reason = "preference";
  Run(messages::RecordNotDeliveredCommand(keys, record));
  feed::NewItem item;
  item.item.set_id("item-2");
  item.recipient = "rita";
  item.channel = "in_app";
  Run(feed::InsertManyCommand(keys, {item}));
  v1::MarkFeedItemsRequest mark;
  mark.set_user_id("rita");
  mark.set_action(v1::FEED_ACTION_ARCHIVED);
  mark.set_all(true);
  Run(*feed::MarkCommand(keys, mark, 1'700'000'000'800));

  EXPECT_EQ(Run({"EXISTS", keys.EventOutbox(), keys.EventOutboxEnabled(), keys.EventDue()}).integer, 0);
  // The message's own history is kept as before.
  EXPECT_EQ(Run({"LLEN", keys.MessageEvents("msg-6")}).integer, 5);  // queued, attempt, undelivered, replayed, queued
  EXPECT_EQ(server_->requests().size(), 0u);
}

TEST_F(EventWebhooksTest, TheOutboxFillsOnlyWhileTheFlagLives) {
  const Keys keys(1);
  ASSERT_TRUE(events::EventWebhookWorker::EnableOutboxes(*client_, kPartitions, 100'000).ok());
  EXPECT_GT(Run({"PTTL", keys.EventOutboxEnabled()}).integer, 0);
  Queue(keys, "msg-8");
  EXPECT_EQ(Run({"XLEN", keys.EventOutbox()}).integer, 1);
  Run({"DEL", keys.EventOutboxEnabled()});  // as when the TTL runs out
  Queue(keys, "msg-9");
  EXPECT_EQ(Run({"XLEN", keys.EventOutbox()}).integer, 1);
}

}  // namespace
}  // namespace herald
