// The delivery dispatcher against a real Redis: messages queued the way the
// fan-out queues them are taken, handed to a channel's delivery service,
// and their outcomes recorded — retries on the timer, dead letters, replay,
// fallback, rate limit, circuit breaker, backpressure — and a worker that
// dies after recording never causes a second send. The delivery service
// here is a scripted one at the DeliveryService seam; the real providers
// are tested against real servers in tests/delivery_providers_test.cc.
#include <atomic>
#include <functional>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/keys.h"
#include "dispatcher/dispatcher.h"
#include "gtest/gtest.h"
#include "messages/delivery_state.h"
#include "messages/message_store.h"
#include "prometheus/registry.h"
#include "grpcpp/grpcpp.h"
#include "absl/strings/str_cat.h"
#include "services/delivery/providers/provider_set.h"
#include "services/delivery/remote.h"
#include "services/delivery/server.h"
#include "services/delivery/providers/testing/test_servers.h"
#include "tests/support/eventually.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using delivery::Delivery;
using delivery::Result;
using testing::Eventually;
using testing::RedisTest;

constexpr int kPartitions = 2;

// Answers each delivery with `answer` and counts calls per message id.
class ScriptedService final : public delivery::DeliveryService {
 public:
  std::function<Result(const Delivery&, int call)> answer = [](const Delivery& d, int) { return Delivered(d); };

  std::vector<Result> Deliver(const std::vector<Delivery>& deliveries) override {
    std::vector<Result> results;
    for (const Delivery& delivery : deliveries) {
      int call;
      {
        absl::MutexLock lock(&mutex_);
        call = ++calls_[delivery.message_id()];
        seen_.push_back(delivery);
      }
      results.push_back(answer(delivery, call));
    }
    return results;
  }

  int calls(const std::string& id) {
    absl::MutexLock lock(&mutex_);
    return calls_[id];
  }
  int total() {
    absl::MutexLock lock(&mutex_);
    int sum = 0;
    for (const auto& [id, n] : calls_) sum += n;
    return sum;
  }
  std::vector<Delivery> seen() {
    absl::MutexLock lock(&mutex_);
    return seen_;
  }

  static Result Delivered(const Delivery& d) {
    Result r;
    r.set_message_id(d.message_id());
    r.set_outcome(delivery::v1::OUTCOME_DELIVERED);
    r.set_provider_status("http 200");
    r.set_provider_message_id("prov-" + d.message_id());
    r.set_latency_us(1500);
    return r;
  }
  static Result Retry(const Delivery& d, int64_t retry_after_ms = 0) {
    Result r;
    r.set_message_id(d.message_id());
    r.set_outcome(delivery::v1::OUTCOME_RETRY);
    r.set_provider_status(retry_after_ms > 0 ? "http 429" : "http 503");
    r.set_retry_after_ms(retry_after_ms);
    return r;
  }
  static Result Failed(const Delivery& d, const std::string& status) {
    Result r;
    r.set_message_id(d.message_id());
    r.set_outcome(delivery::v1::OUTCOME_FAILED);
    r.set_status(status);
    r.set_provider_status("http 400");
    r.set_reason("http 400: invalid address");
    return r;
  }

 private:
  absl::Mutex mutex_;
  std::map<std::string, int> calls_;
  std::vector<Delivery> seen_;
};

class DeliveryDispatchTest : public RedisTest {
 protected:
  void SetUp() override {
    RedisTest::SetUp();
    client_ = Connect();
    delivery::ChannelConfig webhook;
    webhook.name = "hooks";
    webhook.type = "webhook";
    webhook.provider = "webhook";
    webhook.retry.max_attempts = 3;
    webhook.retry.initial_backoff_ms = 1000;
    webhook.circuit.failures = 0;  // off unless a test turns it on
    config_.channels["hooks"] = webhook;
  }
  void TearDown() override {
    if (dispatcher_) dispatcher_->Stop();
  }

  void StartDispatcher(int64_t reclaim_idle_ms = 15'000, int64_t lease_ms = 60'000) {
    dispatcher::DispatcherOptions options;
    options.partitions = kPartitions;
    options.consumer_name = "d1";
    options.reclaim_idle_ms = std::min<int64_t>(reclaim_idle_ms, reclaim_idle_ms_);
    options.reclaim_every_ms = 50;
    options.lease_ms = lease_ms;
    options.retry_tick_ms = 10;
    options.lane.capacity = lane_capacity_;
    metrics_ = std::make_unique<dispatcher::DispatcherMetrics>(registry_, config_);
    dispatcher_ = std::make_unique<dispatcher::Dispatcher>(
        endpoint(), config_,
        [this](const delivery::ChannelConfig&) -> delivery::DeliveryService* {
          return real_service_ != nullptr ? real_service_ : &service_;
        },
        clock_, options,
        *metrics_);
    dispatcher_->Start();
  }

  // Queues a webhook message of `recipient` the way the fan-out does.
  std::string Queue(const std::string& id, const std::string& recipient = "u1", const std::string& fallback = "",
                    const std::string& channel_type = "webhook") {
    messages::QueuedMessage message;
    message.message_id = id;
    message.recipient = recipient;
    message.workflow = "wf";
    message.channel = channel_type == "webhook" ? "hooks" : channel_type;
    message.channel_type = channel_type;
    message.content.mutable_webhook()->set_body_json(R"({"hello":"world"})");
    message.at_us = clock_.NowMicros();
    auto reply = client_->Execute(messages::QueueMessageCommand(Keys(PartitionOf(recipient)), message));
    EXPECT_TRUE(reply.ok()) << reply.status();
    if (!fallback.empty()) {
      EXPECT_TRUE(client_->Execute({"HSET", Keys(PartitionOf(recipient)).Message(id), "fallback", fallback}).ok());
    }
    return id;
  }

  // A worker ("dead") reads m1's entry and takes m1 under a lease of
  // `lease_us`, as the dispatcher does before sending; returns the take.
  messages::DeliveryTake TakeAsDeadWorker(int64_t lease_us) {
    Queue("m1");
    EXPECT_TRUE(client_->Execute({"XGROUP", "CREATE", Keys(0).Deliveries(), std::string(kDeliveryGroup), "0",
                                  "MKSTREAM"}).ok());
    EXPECT_TRUE(client_->Execute({"XREADGROUP", "GROUP", std::string(kDeliveryGroup), "dead", "COUNT", "10",
                                  "STREAMS", Keys(0).Deliveries(), ">"}).ok());
    auto begin = client_->Execute(messages::BeginDeliveriesCommand(Keys(0), {"m1"}, clock_.NowMicros(),
                                                                   clock_.NowMicros() + lease_us, "dead"));
    EXPECT_TRUE(begin.ok());
    auto takes = begin.ok() ? messages::TakesFromReply({"m1"}, *begin)
                            : absl::StatusOr<std::vector<messages::DeliveryTake>>(begin.status());
    EXPECT_TRUE(takes.ok() && takes->size() == 1);
    return takes.ok() && takes->size() == 1 ? (*takes)[0] : messages::DeliveryTake{};
  }

  // Moves the simulated clock a second at a time (deferrals come back)
  // until `condition` holds.
  bool AdvanceUntil(const std::function<bool()>& condition) {
    for (int round = 0; round < 100; ++round) {
      if (condition()) return true;
      clock_.AdvanceMillis(1000);
      absl::SleepFor(absl::Milliseconds(50));
    }
    return condition();
  }

  static int PartitionOf(const std::string& recipient) { return recipient == "u2" ? 1 : 0; }

  std::string Field(const std::string& id, const std::string& field, const std::string& recipient = "u1") {
    auto reply = client_->Execute({"HGET", Keys(PartitionOf(recipient)).Message(id), field});
    return reply.ok() ? reply->str : "";
  }
  std::vector<std::string> Events(const std::string& id, const std::string& recipient = "u1") {
    auto reply = client_->Execute({"LRANGE", Keys(PartitionOf(recipient)).MessageEvents(id), "0", "-1"});
    std::vector<std::string> events;
    if (reply.ok()) {
      for (const auto& e : reply->elements) events.push_back(e.str);
    }
    return events;
  }
  int64_t Pending(int partition) {
    auto reply = client_->Execute({"XPENDING", Keys(partition).Deliveries(), std::string(kDeliveryGroup)});
    return reply.ok() && !reply->elements.empty() ? reply->elements[0].integer : -1;
  }
  bool InDeadLetters(const std::string& id, int partition = 0) {
    auto reply = client_->Execute({"ZSCORE", Keys(partition).DeadLetters(), id});
    return reply.ok() && !reply->str.empty();
  }

  SimulatedClock clock_{1'800'000'000'000'000};
  std::unique_ptr<redis::RedisClient> client_;
  delivery::DeliveryConfig config_;
  ScriptedService service_;
  prometheus::Registry registry_;
  std::unique_ptr<dispatcher::DispatcherMetrics> metrics_;
  std::unique_ptr<dispatcher::Dispatcher> dispatcher_;
  size_t lane_capacity_ = 20'000;
  int64_t reclaim_idle_ms_ = 15'000;
  // When set, the dispatcher delivers through it (a real provider set).
  delivery::DeliveryService* real_service_ = nullptr;
};

TEST_F(DeliveryDispatchTest, DeliversEveryQueuedMessageOnceAndRecordsTheAttempt) {
  StartDispatcher();
  for (int i = 0; i < 50; ++i) Queue("m" + std::to_string(i), i % 2 == 0 ? "u1" : "u2");
  ASSERT_TRUE(Eventually([&] { return service_.total() == 50 && Pending(0) == 0 && Pending(1) == 0; }));
  for (int i = 0; i < 50; ++i) {
    const std::string id = "m" + std::to_string(i), user = i % 2 == 0 ? "u1" : "u2";
    ASSERT_TRUE(Eventually([&] { return Field(id, "status", user) == "sent"; })) << id;
    EXPECT_EQ(Field(id, "attempts", user), "1");
    EXPECT_EQ(Field(id, "provider_message_id", user), "prov-" + id);
    EXPECT_EQ(service_.calls(id), 1);
    std::vector<std::string> events = Events(id, user);
    ASSERT_EQ(events.size(), 3u);
    EXPECT_NE(events[0].find("\"message.queued\""), std::string::npos) << events[0];
    EXPECT_NE(events[1].find("\"message.attempt\""), std::string::npos) << events[1];
    EXPECT_NE(events[1].find("\"provider_status\":\"http 200\""), std::string::npos) << events[1];
    EXPECT_NE(events[2].find("\"message.sent\""), std::string::npos) << events[2];
  }
  const Delivery first = service_.seen().front();
  EXPECT_EQ(first.channel(), "hooks");
  EXPECT_EQ(first.channel_type(), "webhook");
  EXPECT_EQ(first.attempt(), 1);
  EXPECT_EQ(first.content().webhook().body_json(), R"({"hello":"world"})");
}

TEST_F(DeliveryDispatchTest, ARetryWaitsOnTheTimerAtLeastRetryAfterThenDelivers) {
  service_.answer = [](const Delivery& d, int call) {
    return call == 1 ? ScriptedService::Retry(d, 5000) : ScriptedService::Delivered(d);
  };
  StartDispatcher();
  const int64_t queued_ms = clock_.NowMillis();
  Queue("m1");
  ASSERT_TRUE(Eventually([&] { return Field("m1", "status") == "delivery_attempted"; }));
  auto due = client_->Execute({"ZSCORE", Keys(0).DeliveryDue(), "m1"});
  ASSERT_TRUE(due.ok());
  const int64_t due_ms = std::stoll(due->str);
  EXPECT_GE(due_ms, queued_ms + 5000);        // Retry-After honoured
  EXPECT_LE(due_ms, queued_ms + 5000 + 1200);  // and not much later (backoff 1 s ±20%)
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(service_.calls("m1"), 1) << "retried before it was due";
  clock_.AdvanceMillis(6500);
  ASSERT_TRUE(Eventually([&] { return Field("m1", "status") == "sent"; }));
  EXPECT_EQ(service_.calls("m1"), 2);
  EXPECT_EQ(Field("m1", "attempts"), "2");
  EXPECT_EQ(Events("m1").size(), 5u);  // queued, attempt, delivery_attempted, attempt, sent
}

TEST_F(DeliveryDispatchTest, PermanentFailureStopsAtOnceAndBecomesADeadLetter) {
  service_.answer = [](const Delivery& d, int) {
    return ScriptedService::Failed(d, d.message_id() == "bounce" ? "bounced" : "undelivered");
  };
  StartDispatcher();
  Queue("bad");
  Queue("bounce");
  ASSERT_TRUE(Eventually([&] { return Field("bad", "status") == "undelivered"; }));
  ASSERT_TRUE(Eventually([&] { return Field("bounce", "status") == "bounced"; }));
  EXPECT_EQ(Field("bad", "reason"), "http 400: invalid address");
  EXPECT_TRUE(InDeadLetters("bad"));
  absl::SleepFor(absl::Milliseconds(100));
  clock_.AdvanceMillis(3'600'000);
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(service_.calls("bad"), 1);
  EXPECT_EQ(service_.calls("bounce"), 1);
}

TEST_F(DeliveryDispatchTest, RetriesStopAfterTheLastAttemptAndAReplayDeliversExactlyOnce) {
  std::atomic<bool> provider_up{false};
  service_.answer = [&](const Delivery& d, int) {
    return provider_up ? ScriptedService::Delivered(d) : ScriptedService::Retry(d);
  };
  StartDispatcher();
  Queue("m1");
  for (int attempt = 1; attempt <= 3; ++attempt) {
    ASSERT_TRUE(Eventually([&] { return service_.calls("m1") == attempt; })) << attempt;
    ASSERT_TRUE(Eventually([&] { return Field("m1", "attempts") == std::to_string(attempt); }));
    clock_.AdvanceMillis(10'000);  // past any backoff of this policy (1 s, 2 s)
  }
  ASSERT_TRUE(Eventually([&] { return Field("m1", "status") == "undelivered"; }));
  EXPECT_EQ(Field("m1", "reason"), "retries exhausted after 3 attempts: http 503");
  ASSERT_TRUE(InDeadLetters("m1"));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(service_.calls("m1"), 3);

  provider_up = true;
  // Two operators replay at once: the message is queued once.
  std::vector<redis::Command> replays = {messages::ReplayDeadLettersCommand(Keys(0), {"m1"}, clock_.NowMicros()),
                                         messages::ReplayDeadLettersCommand(Keys(0), {"m1"}, clock_.NowMicros())};
  auto replies = client_->Pipeline(replays);
  ASSERT_TRUE(replies[0].ok() && replies[1].ok());
  EXPECT_EQ(replies[0]->integer + replies[1]->integer, 1);
  ASSERT_TRUE(Eventually([&] { return Field("m1", "status") == "sent"; }));
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(service_.calls("m1"), 4);
  EXPECT_FALSE(InDeadLetters("m1"));
  EXPECT_EQ(Field("m1", "attempts"), "1");  // a fresh round
}

TEST_F(DeliveryDispatchTest, AFailedMessageHandsItsFallbackStepToTheFanout) {
  service_.answer = [](const Delivery& d, int) { return ScriptedService::Failed(d, "undelivered"); };
  StartDispatcher();
  Queue("push1", "u1", "serialized-fallback-envelope");
  ASSERT_TRUE(Eventually([&] { return Field("push1", "status") == "undelivered"; }));
  auto entries = client_->Execute({"XRANGE", Keys(0).Batches(), "-", "+"});
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->elements.size(), 1u);
  const auto& fields = entries->elements[0].elements[1].elements;
  ASSERT_EQ(fields.size(), 2u);
  EXPECT_EQ(fields[0].str, "s");
  EXPECT_EQ(fields[1].str, "serialized-fallback-envelope");
}

TEST_F(DeliveryDispatchTest, AMessageWithoutAConfiguredChannelIsUndeliveredWithTheReason) {
  StartDispatcher();
  Queue("s1", "u1", "", "sms");
  ASSERT_TRUE(Eventually([&] { return Field("s1", "status") == "undelivered"; }));
  EXPECT_EQ(Field("s1", "reason"), "no channel configured for sms (sms)");
  EXPECT_EQ(service_.total(), 0);
  EXPECT_TRUE(Eventually([&] { return Pending(0) == 0; }));
}

TEST_F(DeliveryDispatchTest, DuplicateEntriesOfOneMessageSendItOnce) {
  StartDispatcher(/*reclaim_idle_ms=*/50);
  Queue("m1");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(client_->Execute({"XADD", Keys(0).Deliveries(), "*", "m", "m1"}).ok());
  // Entries of a message being sent stay pending until its outcome is in;
  // the reader then takes them over and acks them without sending.
  ASSERT_TRUE(AdvanceUntil([&] { return Pending(0) == 0 && Field("m1", "status") == "sent"; }));
  EXPECT_EQ(service_.calls("m1"), 1);
}

// A worker takes a message, the provider accepts it, the worker records the
// outcome — and dies before acking the stream entry. Another worker takes
// the entry over and must not send it again.
TEST_F(DeliveryDispatchTest, AWorkerKilledBetweenRecordingAndAckCausesNoSecondSend) {
  // The worker that dies: its read, its lease, its send, its record.
  ASSERT_EQ(TakeAsDeadWorker(60'000'000).verdict, messages::DeliveryTake::Verdict::kSend);
  Delivery delivery;
  delivery.set_message_id("m1");
  ASSERT_EQ(service_.Deliver({delivery})[0].outcome(), delivery::v1::OUTCOME_DELIVERED);
  messages::DeliveryRecord record;
  record.message_id = "m1";
  record.outcome = messages::DeliveryRecord::Outcome::kDelivered;
  record.status = "sent";
  record.attempt = 1;
  ASSERT_TRUE(client_->Execute(messages::RecordDeliveriesCommand(Keys(0), {record}, clock_.NowMicros(), "dead")).ok());
  ASSERT_EQ(Pending(0), 1);  // died here: not acked

  StartDispatcher(/*reclaim_idle_ms=*/100);
  absl::SleepFor(absl::Milliseconds(150));
  clock_.AdvanceMillis(1000);  // the reader looks for stalled entries
  ASSERT_TRUE(Eventually([&] { return Pending(0) == 0; }));
  EXPECT_EQ(service_.calls("m1"), 1);
  EXPECT_EQ(Field("m1", "status"), "sent");
}

// The same with the real webhook provider and a real HTTP server that
// counts requests per message id: the worker got the server's 200, recorded
// it and died before acking; the worker that takes over sends nothing.
TEST_F(DeliveryDispatchTest, AKilledWorkerAfterTheProvidersAnswerCausesNoSecondRequest) {
  auto server = delivery::testing::ScriptedHttpServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_TRUE((*server)->Script({{"/hook", {{{"status", 200}}}}}).ok());
  config_.channels["hooks"].options["url"] = (*server)->Url("/hook");
  auto providers = delivery::MakeProviderSet(config_, {});
  ASSERT_TRUE(providers.ok()) << providers.status();
  const messages::DeliveryTake take = TakeAsDeadWorker(60'000'000);
  ASSERT_EQ(take.verdict, messages::DeliveryTake::Verdict::kSend);
  Delivery delivery;
  delivery.set_message_id("m1");
  delivery.set_channel("hooks");
  delivery.set_channel_type("webhook");
  delivery.set_attempt(1);
  ASSERT_TRUE(delivery.mutable_content()->ParseFromString(take.content));
  std::vector<Result> results = (*providers)->Deliver({delivery});
  ASSERT_EQ(results[0].outcome(), delivery::v1::OUTCOME_DELIVERED) << results[0].reason();
  messages::DeliveryRecord record;
  record.message_id = "m1";
  record.outcome = messages::DeliveryRecord::Outcome::kDelivered;
  record.status = "sent";
  record.attempt = 1;
  ASSERT_TRUE(client_->Execute(messages::RecordDeliveriesCommand(Keys(0), {record}, clock_.NowMicros(), "dead")).ok());
  // Killed here.

  real_service_ = providers->get();
  StartDispatcher(/*reclaim_idle_ms=*/100);
  absl::SleepFor(absl::Milliseconds(150));
  clock_.AdvanceMillis(1000);
  ASSERT_TRUE(Eventually([&] { return Pending(0) == 0; }));
  auto requests = (*server)->Requests();
  ASSERT_TRUE(requests.ok());
  int for_m1 = 0;
  for (const auto& request : *requests) for_m1 += request["headers"].value("idempotency-key", "") == "m1";
  EXPECT_EQ(for_m1, 1);
  EXPECT_EQ(Field("m1", "status"), "sent");
  dispatcher_->Stop();
}

// A message whose lease lapsed while it waited in a slow worker's queue and
// that another worker took meanwhile: the slow worker neither sends it
// (its renewal fails) nor records over the other's result.
TEST_F(DeliveryDispatchTest, AWorkerWhoseLeaseWasTakenOverNeitherSendsNorRecords) {
  Queue("m1");
  const int64_t now = clock_.NowMicros();
  auto take = [&](const std::string& owner, int64_t at_us) {
    auto reply = client_->Execute(messages::BeginDeliveriesCommand(Keys(0), {"m1"}, at_us, at_us + 1'000'000, owner));
    EXPECT_TRUE(reply.ok());
    auto takes = messages::TakesFromReply({"m1"}, *reply);
    return takes.ok() ? (*takes)[0].verdict : messages::DeliveryTake::Verdict::kGone;
  };
  EXPECT_EQ(take("slow", now), messages::DeliveryTake::Verdict::kSend);
  EXPECT_EQ(take("fast", now + 500'000), messages::DeliveryTake::Verdict::kLeased);
  EXPECT_EQ(take("fast", now + 2'000'000), messages::DeliveryTake::Verdict::kSend);  // slow's lease lapsed
  auto renewed = client_->Execute(messages::RenewLeasesCommand(Keys(0), {"m1"}, "slow", now + 90'000'000));
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(renewed->elements[0].integer, 0) << "the slow worker would send it too";
  messages::DeliveryRecord late;
  late.message_id = "m1";
  late.outcome = messages::DeliveryRecord::Outcome::kFailed;
  late.status = "undelivered";
  late.attempt = 1;
  auto recorded = client_->Execute(messages::RecordDeliveriesCommand(Keys(0), {late}, now + 3'000'000, "slow"));
  ASSERT_TRUE(recorded.ok());
  EXPECT_EQ(recorded->elements[0].integer, 0);
  EXPECT_EQ(Field("m1", "status"), "queued");
  EXPECT_EQ(Field("m1", "lease_owner"), "fast");
}

// The gRPC contract: the dispatcher reaches a delivery service in another
// "process" (a gRPC server on loopback) through RemoteDeliveryService; a
// request without content is refused whole, naming the field; an
// unreachable service makes every message of the call a retry.
TEST_F(DeliveryDispatchTest, ARemoteDeliveryServiceOverGrpcDeliversAndAnUnreachableOneMeansRetry) {
  delivery::DeliveryGrpcService grpc_service(service_);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&grpc_service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(port, 0);
  auto remote = delivery::RemoteDeliveryService::Connect(absl::StrCat("127.0.0.1:", port), 2000, 8);
  ASSERT_TRUE(remote.ok());
  real_service_ = remote->get();
  StartDispatcher();
  for (int i = 0; i < 20; ++i) Queue("m" + std::to_string(i), i % 2 == 0 ? "u1" : "u2");
  for (int i = 0; i < 20; ++i) {
    const std::string id = "m" + std::to_string(i), user = i % 2 == 0 ? "u1" : "u2";
    ASSERT_TRUE(Eventually([&] { return Field(id, "status", user) == "sent"; })) << id;
    EXPECT_EQ(Field(id, "provider_message_id", user), "prov-" + id);
  }
  EXPECT_EQ(service_.total(), 20);

  Delivery empty;
  empty.set_message_id("x");
  delivery::v1::DeliverRequest request;
  *request.add_deliveries() = empty;
  delivery::v1::DeliverResponse response;
  grpc::ClientContext context;
  auto stub = delivery::v1::DeliveryService::NewStub(
      grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  grpc::Status refused = stub->Deliver(&context, request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(refused.error_message(), "deliveries[0].content: empty");
  dispatcher_->Stop();
  server->Shutdown();

  auto nowhere = delivery::RemoteDeliveryService::Connect(absl::StrCat("127.0.0.1:", port), 200, 8);
  ASSERT_TRUE(nowhere.ok());
  Delivery delivery;
  delivery.set_message_id("m1");
  std::vector<Result> results = (*nowhere)->Deliver({delivery, delivery});
  ASSERT_EQ(results.size(), 2u);
  for (const Result& result : results) EXPECT_EQ(result.outcome(), delivery::v1::OUTCOME_RETRY);
}

// The window that remains: a worker that dies after the provider accepted
// but before recording. Its lease holds the message until it lapses (no
// second worker sends it meanwhile); then it is sent again, with the same
// message id as the idempotency key.
TEST_F(DeliveryDispatchTest, AWorkerKilledBeforeRecordingIsRetriedOnlyAfterItsLeaseLapses) {
  ASSERT_EQ(TakeAsDeadWorker(30'000'000).verdict, messages::DeliveryTake::Verdict::kSend);
  StartDispatcher(/*reclaim_idle_ms=*/100);
  absl::SleepFor(absl::Milliseconds(600));  // reclaimed several times meanwhile
  EXPECT_EQ(service_.calls("m1"), 0);
  EXPECT_EQ(Field("m1", "status"), "queued");
  clock_.AdvanceMillis(30'001);
  ASSERT_TRUE(Eventually([&] { return Field("m1", "status") == "sent"; }));
  EXPECT_EQ(service_.calls("m1"), 1);
}

TEST_F(DeliveryDispatchTest, TheRateLimitIsSharedAndDefersWithoutCountingAnAttempt) {
  config_.channels["hooks"].rate_limit = {/*per_second=*/10, /*burst=*/10};
  StartDispatcher();
  for (int i = 0; i < 30; ++i) Queue("m" + std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return service_.total() == 10; }));
  absl::SleepFor(absl::Milliseconds(300));
  EXPECT_EQ(service_.total(), 10) << "the simulated clock did not move: no new tokens";
  int deferred = 0;
  for (int i = 0; i < 30; ++i) {
    if (Field("m" + std::to_string(i), "status") == "queued") {
      ++deferred;
      EXPECT_EQ(Field("m" + std::to_string(i), "attempts"), "");
    }
  }
  EXPECT_EQ(deferred, 20);
  clock_.AdvanceMillis(1000);  // 10 more tokens
  ASSERT_TRUE(Eventually([&] { return service_.total() == 20; }));
  clock_.AdvanceMillis(1000);
  ASSERT_TRUE(Eventually([&] { return service_.total() == 30; }));
  for (int i = 0; i < 30; ++i) EXPECT_EQ(service_.calls("m" + std::to_string(i)), 1);
}

TEST_F(DeliveryDispatchTest, TheCircuitOpensOnADeadProviderAndClosesWhenItRecovers) {
  config_.channels["hooks"].circuit = {/*failures=*/3, /*open_ms=*/60'000};
  config_.channels["hooks"].retry.max_attempts = 100;
  std::atomic<bool> provider_up{false};
  service_.answer = [&](const Delivery& d, int) {
    return provider_up ? ScriptedService::Delivered(d) : ScriptedService::Retry(d);
  };
  StartDispatcher();
  for (int i = 0; i < 3; ++i) Queue("m" + std::to_string(i));
  ASSERT_TRUE(Eventually([&] { return service_.total() == 3; }));
  auto gauge = [&] {
    for (const auto& family : registry_.Collect()) {
      if (family.name != "herald_delivery_circuit_open") continue;
      for (const auto& metric : family.metric) {
        if (metric.label[0].value == "hooks") return metric.gauge.value;
      }
    }
    return -1.0;
  };
  ASSERT_TRUE(Eventually([&] { return gauge() == 1.0; }));
  // Open: due retries come back but are held, not attempted.
  for (int i = 3; i < 10; ++i) Queue("m" + std::to_string(i));
  clock_.AdvanceMillis(5000);
  absl::SleepFor(absl::Milliseconds(400));
  EXPECT_EQ(service_.total(), 3);
  provider_up = true;
  clock_.AdvanceMillis(60'000);  // the probe goes out, succeeds, the rest follow
  ASSERT_TRUE(AdvanceUntil([&] {
    for (int i = 0; i < 10; ++i) {
      if (Field("m" + std::to_string(i), "status") != "sent") return false;
    }
    return true;
  }));
  EXPECT_EQ(gauge(), 0.0);
  EXPECT_EQ(service_.total(), 13);  // 3 failed attempts, then each message once
}

TEST_F(DeliveryDispatchTest, AFullLaneDefersItsOverflowInsteadOfWaiting) {
  lane_capacity_ = 4;
  std::atomic<bool> release{false};
  service_.answer = [&](const Delivery& d, int) {
    while (!release) absl::SleepFor(absl::Milliseconds(5));
    return ScriptedService::Delivered(d);
  };
  StartDispatcher();
  for (int i = 0; i < 40; ++i) Queue("m" + std::to_string(i));
  // Everything read is acked (in the lane, deferred or in flight) without
  // the provider answering once.
  ASSERT_TRUE(Eventually([&] {
    auto reply = client_->Execute({"ZCARD", Keys(0).DeliveryDue()});
    return reply.ok() && reply->integer > 0;
  }));
  release = true;
  AdvanceUntil([&] {
    for (int i = 0; i < 40; ++i) {
      if (Field("m" + std::to_string(i), "status") != "sent") return false;
    }
    return true;
  });
  for (int i = 0; i < 40; ++i) {
    EXPECT_EQ(Field("m" + std::to_string(i), "status"), "sent") << i;
    EXPECT_EQ(service_.calls("m" + std::to_string(i)), 1) << i;
  }
}

}  // namespace
}  // namespace herald
