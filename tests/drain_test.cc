// Graceful shutdown of the real `herald` binary (runtime/drain.h): SIGTERM
// under trigger load ends the process with status 0 within the drain
// deadline, no consumer of it still holds a stream entry, and after a
// restart on the same Redis (the test's, or the embedded one in the same
// data dir) every acknowledged trigger is in its recipient's feed exactly
// once and every unacknowledged one at most once. A call held in flight
// finishes during the drain while new calls are refused, and a second
// SIGTERM ends a drain at once.
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <optional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/keys.h"
#include "gtest/gtest.h"
#include "herald/v1/herald.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "runtime/health.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_process.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using testing::Eventually;
using testing::HeraldProcess;
using testing::ReadFile;

constexpr int kPartitions = 4;
constexpr int64_t kDrainTimeoutMs = 5000;
constexpr int kLoadThreads = 4;
// Acknowledged triggers before SIGTERM: the pipeline is busy by then.
constexpr int kAckedBeforeSignal = 400;

constexpr char kWorkflow[] = R"(key: drain
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.i }}"}}
)";

std::unique_ptr<v1::Herald::Stub> StubFor(int port) {
  grpc::ChannelArguments args;
  // Each caller its own connection, as separate clients have.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return v1::Herald::NewStub(
      grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
}

v1::TriggerRequest DrainTrigger(const std::string& user, int thread, int index) {
  v1::TriggerRequest request;
  request.set_workflow("drain");
  v1::InlineUser* recipient = request.add_recipients()->mutable_user();
  recipient->set_id(user);
  recipient->set_name("Drained");
  request.set_idempotency_key(absl::StrCat("drain-", thread, "-", index));
  request.set_data_json(absl::StrCat(R"({"k": )", thread, R"(, "i": )", index, "}"));
  return request;
}

grpc::Status Trigger(v1::Herald::Stub& stub, const v1::TriggerRequest& request, v1::TriggerResponse* response,
                     absl::Duration deadline) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  return stub.Trigger(&context, request, response);
}

// One trigger of the load and what its caller was told.
struct Attempt {
  std::string user;
  int thread = 0;
  int index = 0;
  bool acked = false;
  bool after_signal = false;  // sent after SIGTERM was
};

// Callers sending triggers one after another, each to a recipient of its
// own, from the start until Stop() (or until a call fails after SIGTERM).
class TriggerLoad {
 public:
  explicit TriggerLoad(int port) {
    for (int t = 0; t < kLoadThreads; ++t) {
      threads_.emplace_back([this, t, stub = StubFor(port)] {
        for (int i = 0; !stop_; ++i) {
          Attempt attempt{absl::StrCat("drain-", t, "-", i), t, i};
          attempt.after_signal = signal_sent_;
          v1::TriggerResponse response;
          grpc::Status status = Trigger(*stub, DrainTrigger(attempt.user, t, i), &response, absl::Seconds(10));
          attempt.acked = status.ok();
          if (attempt.acked) ++acked_;
          const bool refused_in_drain = !status.ok() && signal_sent_;
          if (!status.ok() && !attempt.after_signal && !signal_sent_) {
            ADD_FAILURE() << attempt.user << " failed before SIGTERM: " << status.error_message();
          }
          absl::MutexLock lock(&mutex_);
          attempts_.push_back(std::move(attempt));
          if (refused_in_drain) return;
        }
      });
    }
  }
  ~TriggerLoad() { Stop(); }

  int64_t acked() const { return acked_; }
  // Call just before sending the signal.
  void SignalSent() { signal_sent_ = true; }
  // Joins the callers; returns every attempt.
  std::vector<Attempt> Stop() {
    stop_ = true;
    for (std::thread& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
    absl::MutexLock lock(&mutex_);
    return attempts_;
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<bool> signal_sent_{false};
  std::atomic<int64_t> acked_{0};
  absl::Mutex mutex_;
  std::vector<Attempt> attempts_ ABSL_GUARDED_BY(mutex_);
  std::vector<std::thread> threads_;
};

// Stream entries delivered to a consumer named `prefix`* and not acked, in
// every consumer group of the pipeline.
int64_t HeldBy(redis::RedisClient& client, const std::string& prefix) {
  int64_t held = 0;
  for (int p = 0; p < kPartitions; ++p) {
    const Keys keys(p);
    const std::pair<std::string, absl::string_view> groups[] = {{keys.Events(), kBatcherGroup},
                                                                {keys.EventsBulk(), kBatcherGroup},
                                                                {keys.Expansions(), kExpanderGroup},
                                                                {keys.Batches(), kFanoutGroup},
                                                                {keys.BatchesBulk(), kFanoutGroup},
                                                                {keys.Deliveries(), kDeliveryGroup}};
    for (const auto& [stream, group] : groups) {
      auto summary = client.Execute({"XPENDING", stream, std::string(group)});
      if (!summary.ok() || summary->elements.size() != 4) {
        ADD_FAILURE() << "XPENDING " << stream << " " << group << ": " << summary.status();
        continue;
      }
      for (const redis::Reply& holder : summary->elements[3].elements) {
        int64_t count = 0;
        if (absl::StartsWith(holder.elements[0].str, prefix) && absl::SimpleAtoi(holder.elements[1].str, &count)) {
          held += count;
        }
      }
    }
  }
  return held;
}

// Polls until every stage stream is empty (entries are deleted once acked)
// twice in a row; false at `timeout`.
bool WaitForEmptyStreams(redis::RedisClient& client, absl::Duration timeout) {
  std::vector<redis::Command> lengths;
  for (int p = 0; p < kPartitions; ++p) {
    const Keys keys(p);
    for (const std::string& stream : {keys.Events(), keys.EventsBulk(), keys.Expansions(), keys.Batches(),
                                      keys.BatchesBulk(), keys.Deliveries()}) {
      lengths.push_back({"XLEN", stream});
    }
  }
  const absl::Time give_up = absl::Now() + timeout;
  int quiet = 0;
  while (absl::Now() < give_up) {
    bool empty = true;
    for (auto& reply : client.Pipeline(lengths)) empty = empty && reply.ok() && reply->integer == 0;
    quiet = empty ? quiet + 1 : 0;
    if (quiet >= 2) return true;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return false;
}

absl::StatusOr<std::unique_ptr<redis::RedisClient>> ConnectWhenUp(const redis::Endpoint& endpoint) {
  absl::Status up = redis::WaitForRedis(endpoint, absl::Seconds(10));
  if (!up.ok()) return up;
  return redis::ConnectRedis(endpoint);
}

class DrainTest : public testing::RedisTest {
 protected:
  void SetUp() override {
    testing::RedisTest::SetUp();
    dir_ = testing::MakeTempDir("herald-drain-");
    ASSERT_FALSE(dir_.empty());
    testing::WriteFile(dir_ + "/workflows", "drain.yaml", kWorkflow);
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Flags every herald of these tests shares; `where` says which Redis.
  // Text log lines: the checks below read "herald: drain: ..." in them.
  std::vector<std::string> Flags(const std::string& roles, const std::string& where, const std::string& consumer,
                                 int64_t drain_timeout_ms) const {
    return {roles,
            where,
            "--log_format=text",
            "--workflows=" + dir_ + "/workflows",
            "--grpc_address=127.0.0.1:0",
            "--metrics_address=",
            absl::StrCat("--partitions=", kPartitions),
            "--consumer=" + consumer,
            absl::StrCat("--drain_timeout_ms=", drain_timeout_ms)};
  }

  // SIGTERM to a `herald all` under load, then a restart on the same Redis
  // (`where`: --redis or --data_dir; `redis`: where the test looks, which
  // for the embedded Redis answers only while a herald runs).
  void SigtermUnderLoadLosesAndDoublesNothing(const std::string& where, const redis::Endpoint& redis, bool embedded);

  std::string dir_;
};

void DrainTest::SigtermUnderLoadLosesAndDoublesNothing(const std::string& where, const redis::Endpoint& redis,
                                                       bool embedded) {
  std::vector<Attempt> attempts;
  {
    HeraldProcess first(Flags("all", where, "first", kDrainTimeoutMs));
    const int port = first.WaitForPort(absl::Seconds(30));
    ASSERT_NE(port, 0) << first.Log();
    TriggerLoad load(port);
    Eventually([&] { return load.acked() >= kAckedBeforeSignal || first.Exited(); }, absl::Seconds(60));
    ASSERT_GE(load.acked(), kAckedBeforeSignal) << first.Log();

    load.SignalSent();
    const absl::Time signalled = absl::Now();
    first.Signal(SIGTERM);
    std::optional<int> status = first.WaitForExit(absl::Milliseconds(kDrainTimeoutMs) + absl::Seconds(5));
    const absl::Duration took = absl::Now() - signalled;
    attempts = load.Stop();
    ASSERT_TRUE(status.has_value()) << "still running " << took << " after SIGTERM\n" << first.Log();
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status << "\n" << first.Log();
    EXPECT_LT(took, absl::Milliseconds(kDrainTimeoutMs)) << first.Log();

    const std::string log = first.Log();
    for (const char* step : {"herald: SIGTERM: draining", "herald: drain: readiness NOT_SERVING: done",
                             "herald: drain: gRPC calls: done", "herald: drain: batcher 0: done",
                             "herald: drain: expander 0: done", "herald: drain: flusher: done",
                             "herald: drain: fanout 0: done", "herald: drain: fanout 1: done",
                             "herald: drain: dispatcher and delivery service: done", "herald: drain: finished in "}) {
      EXPECT_TRUE(absl::StrContains(log, step)) << step << "\n" << log;
    }
    if (embedded) {
      EXPECT_TRUE(absl::StrContains(log, "herald: drain: embedded Redis SHUTDOWN (AOF fsynced): done")) << log;
      const std::string redis_log = ReadFile(dir_ + "/data/redis/redis.log");
      EXPECT_TRUE(absl::StrContains(redis_log, "Calling fsync() on the AOF file.")) << redis_log;
      EXPECT_TRUE(absl::StrContains(redis_log, "Redis is now ready to exit, bye bye")) << redis_log;
      // Removed by a clean shutdown only.
      EXPECT_FALSE(std::filesystem::exists(redis.unix_socket)) << redis.unix_socket;
    } else {
      auto client = ConnectWhenUp(redis);
      ASSERT_TRUE(client.ok()) << client.status();
      EXPECT_EQ(HeldBy(**client, "first-"), 0) << "the drained process left stream entries unacked";
    }
  }

  int64_t acked = 0, acked_in_drain = 0, refused = 0;
  for (const Attempt& attempt : attempts) {
    acked += attempt.acked;
    acked_in_drain += attempt.acked && attempt.after_signal;
    refused += !attempt.acked;
  }
  EXPECT_GE(refused, 1) << "no call was refused: the load stopped before the drain";

  HeraldProcess second(Flags("all", where, "second", kDrainTimeoutMs));
  const int port = second.WaitForPort(absl::Seconds(30));
  ASSERT_NE(port, 0) << second.Log();
  auto client = ConnectWhenUp(redis);
  ASSERT_TRUE(client.ok()) << client.status();
  // Checked before anything is idle long enough to be reclaimed (15 s).
  if (embedded) {
    EXPECT_EQ(HeldBy(**client, "first-"), 0) << "the drained process left stream entries unacked";
  }
  ASSERT_TRUE(WaitForEmptyStreams(**client, absl::Seconds(60))) << second.Log();

  int64_t unacked_delivered = 0;
  // The channel is closed before the SIGTERM below: an idle synchronous
  // client answers the server's GOAWAY only when its backup poller runs
  // (every 5 s), which would hold that drain's gRPC step as long.
  auto stub = StubFor(port);
  for (const Attempt& attempt : attempts) {
    v1::ListFeedRequest request;
    request.set_user_id(attempt.user);
    request.set_page_size(10);
    v1::ListFeedResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    grpc::Status status = stub->ListFeed(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    if (attempt.acked) {
      ASSERT_EQ(response.items_size(), 1) << attempt.user << " was acknowledged"
                                          << (attempt.after_signal ? " during the drain" : "");
    } else {
      ASSERT_LE(response.items_size(), 1) << attempt.user << " was not acknowledged";
      unacked_delivered += response.items_size();
    }
    if (response.items_size() == 1) {
      nlohmann::json data = nlohmann::json::parse(response.items(0).data_json());
      EXPECT_EQ(data["k"], attempt.thread);
      EXPECT_EQ(data["i"], attempt.index);
    }
  }
  stub.reset();
  std::cout << attempts.size() << " triggers: " << acked << " acknowledged (" << acked_in_drain
            << " of them while draining), " << refused << " refused or failed (" << unacked_delivered
            << " of those delivered anyway)" << std::endl;

  second.Signal(SIGTERM);
  std::optional<int> status = second.WaitForExit(absl::Milliseconds(kDrainTimeoutMs) + absl::Seconds(5));
  ASSERT_TRUE(status.has_value()) << second.Log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << second.Log();
}

TEST_F(DrainTest, SigtermUnderLoadWithExternalRedis) {
  SigtermUnderLoadLosesAndDoublesNothing("--redis=" + endpoint().ToString(), endpoint(), /*embedded=*/false);
}

TEST_F(DrainTest, SigtermUnderLoadWithEmbeddedRedis) {
  // Herald's own redis-server, never a cluster: one run is enough.
  if (InClusterMode()) GTEST_SKIP() << "the embedded Redis is the same in both runs";
  redis::Endpoint embedded;
  embedded.unix_socket = dir_ + "/data/redis/redis.sock";
  SigtermUnderLoadLosesAndDoublesNothing("--data_dir=" + dir_ + "/data", embedded, /*embedded=*/true);
}

// Polls CLIENT LIST until a connection waits in a paused EVALSHA (every
// trigger runs a script): the API has the call in flight.
bool WaitForHeldScript(redis::RedisClient& client, absl::Duration timeout) {
  return Eventually(
      [&] {
        auto list = client.Execute({"CLIENT", "LIST"});
        if (!list.ok()) return false;
        for (absl::string_view line : absl::StrSplit(list->str, '\n')) {
          if (absl::StrContains(line, " flags=b") && absl::StrContains(line, " cmd=evalsha")) return true;
        }
        return false;
      },
      timeout);
}

int64_t EventsWritten(redis::RedisClient& client) {
  int64_t events = 0;
  for (int p = 0; p < kPartitions; ++p) {
    for (const std::string& stream : {Keys(p).Events(), Keys(p).EventsBulk()}) {
      auto length = client.Execute({"XLEN", stream});
      if (length.ok()) events += length->integer;
    }
  }
  return events;
}

TEST_F(DrainTest, CallInFlightFinishesWhileNewCallsAreRefused) {
  // The API alone: nothing consumes what it writes, and the only scripts
  // Redis holds while paused are its own.
  HeraldProcess api(Flags("api", "--redis=" + endpoint().ToString(), "held", 10'000));
  const int port = api.WaitForPort(absl::Seconds(30));
  ASSERT_NE(port, 0) << api.Log();
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  auto stub = v1::Herald::NewStub(channel);
  EXPECT_EQ(CheckHealth(*channel, "", absl::Seconds(2)).value_or(ServingStatus::kUnknown), ServingStatus::kServing);

  grpc::Status held_status;
  v1::TriggerResponse held_response;
  // Declared before the pause: Redis resumes before the caller is joined.
  std::jthread held;
  auto client = Connect();
  testing::PausedWrites pause(*client);
  ASSERT_TRUE(pause.ok());
  held = std::jthread([&] {
    held_status = Trigger(*stub, DrainTrigger("held", 0, 0), &held_response, absl::Seconds(30));
  });
  ASSERT_TRUE(WaitForHeldScript(*client, absl::Seconds(10))) << "the trigger never reached Redis";

  const absl::Time signalled = absl::Now();
  api.Signal(SIGTERM);
  ASSERT_TRUE(api.WaitForOutput("herald: drain: readiness NOT_SERVING: done", absl::Seconds(10))) << api.Log();
  // Draining: not ready, and a new call is refused rather than held.
  auto health = CheckHealth(*channel, "", absl::Seconds(2));
  EXPECT_FALSE(health.ok() && *health == ServingStatus::kServing);
  // The readiness flip comes first; the gRPC server starts refusing a
  // moment later, in the drain's parallel step. A call that needs no Redis
  // tells when it does (a write sent before would be held, not refused).
  bool refusing = false;
  for (const absl::Time deadline = absl::Now() + absl::Seconds(10); !refusing && absl::Now() < deadline;) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::ListWorkflowsResponse workflows;
    refusing = !stub->ListWorkflows(&context, v1::ListWorkflowsRequest(), &workflows).ok();
    if (!refusing) absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_TRUE(refusing) << "new calls were still served 10 s into the drain";
  v1::TriggerResponse refused_response;
  grpc::Status refused = Trigger(*stub, DrainTrigger("refused", 0, 1), &refused_response, absl::Seconds(5));
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << "held, not refused";
  // The drain waits for the call Redis holds.
  EXPECT_FALSE(api.Exited().has_value()) << api.Log();
  EXPECT_FALSE(absl::StrContains(api.Log(), "herald: drain: gRPC calls: done")) << api.Log();

  ASSERT_TRUE(pause.Resume().ok());
  std::optional<int> status = api.WaitForExit(absl::Seconds(15));
  ASSERT_TRUE(status.has_value()) << api.Log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << api.Log();
  EXPECT_LT(absl::Now() - signalled, absl::Seconds(10)) << api.Log();
  held.join();
  EXPECT_TRUE(held_status.ok()) << held_status.error_message();
  ASSERT_EQ(held_response.runs_size(), 1);
  // The held trigger was written, the refused one was not.
  EXPECT_EQ(EventsWritten(*client), 1);
}

TEST_F(DrainTest, SecondSigtermDuringTheDrainExitsAtOnce) {
  HeraldProcess api(Flags("api", "--redis=" + endpoint().ToString(), "held", 10'000));
  const int port = api.WaitForPort(absl::Seconds(30));
  ASSERT_NE(port, 0) << api.Log();
  auto stub = StubFor(port);
  grpc::Status held_status;
  // Declared before the pause: Redis resumes before the caller is joined.
  std::jthread held;
  auto client = Connect();
  testing::PausedWrites pause(*client);
  ASSERT_TRUE(pause.ok());
  held = std::jthread([&] {
    v1::TriggerResponse response;
    held_status = Trigger(*stub, DrainTrigger("held", 0, 0), &response, absl::Seconds(30));
  });
  ASSERT_TRUE(WaitForHeldScript(*client, absl::Seconds(10))) << "the trigger never reached Redis";

  api.Signal(SIGTERM);
  // Signals of one kind do not queue: the second is sent once the first was taken.
  ASSERT_TRUE(api.WaitForOutput("herald: SIGTERM: draining", absl::Seconds(10))) << api.Log();
  api.Signal(SIGTERM);
  std::optional<int> status = api.WaitForExit(absl::Seconds(3));
  ASSERT_TRUE(status.has_value()) << "the second SIGTERM did not end the drain\n" << api.Log();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 128 + SIGTERM) << "wait status " << *status;
  EXPECT_TRUE(absl::StrContains(api.Log(), "herald: SIGTERM again during the drain: exiting now, status 143"))
      << api.Log();
  EXPECT_FALSE(absl::StrContains(api.Log(), "herald: drain: finished")) << api.Log();
  held.join();
  EXPECT_FALSE(held_status.ok()) << "answered by a process that exited before Redis did the work";
}

}  // namespace
}  // namespace herald
