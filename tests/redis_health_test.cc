// Health tells the truth about Redis: a whole Herald role in process
// against its own redis-server, which the test stops (connection refused)
// or freezes with SIGSTOP (no answer). Readiness ("readiness", "" and
// "herald.v1.Herald") goes NOT_SERVING and data RPCs fail UNAVAILABLE while
// liveness stays SERVING; when Redis is back, so is readiness. Worker-only
// roles serve the same health; a delivery service alone needs no Redis.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <filesystem>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "herald/v1/herald.grpc.pb.h"
#include "redis/embedded_server.h"
#include "runtime/health.h"
#include "runtime/runtime.h"
#include "tests/support/eventually.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

class RedisHealthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("herald-health-");
    testing::WriteFile(dir_ + "/workflows", "direct.yaml", R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "hi"}}
)");
    StartRedis();
  }
  void TearDown() override {
    runtime_.reset();
    redis_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // (Re)starts redis-server on the same unix socket.
  void StartRedis() {
    redis::EmbeddedServerOptions options;
    options.data_dir = dir_ + "/redis";
    options.append_only = false;
    auto started = redis::EmbeddedServer::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    redis_ = std::move(*started);
  }

  void StartHerald(const std::string& roles) {
    RuntimeOptions options;
    options.roles = roles;
    if (roles != "delivery") options.redis_address = redis_->endpoint().ToString();
    options.workflows_dir = dir_ + "/workflows";
    options.grpc_address = "127.0.0.1:0";
    options.delivery_address = "127.0.0.1:0";
    options.metrics_address = "";
    options.redis_monitor.interval = absl::Milliseconds(100);
    options.redis_monitor.timeout = absl::Milliseconds(300);
    auto started = Runtime::Start(options);
    ASSERT_TRUE(started.ok()) << started.status();
    runtime_ = std::move(*started);
    channel_ =
        grpc::CreateChannel("127.0.0.1:" + std::to_string(runtime_->grpc_port()), grpc::InsecureChannelCredentials());
  }

  // Polls `service` until it answers `want` (10 s at most).
  ::testing::AssertionResult Answers(const std::string& service, ServingStatus want) {
    absl::StatusOr<ServingStatus> answer;
    if (testing::Eventually(
            [&] {
              answer = CheckHealth(*channel_, service, absl::Seconds(2));
              return answer.ok() && *answer == want;
            },
            absl::Seconds(10))) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "'" << service << "' answered "
                                         << (answer.ok() ? std::to_string(static_cast<int>(*answer))
                                                         : answer.status().ToString());
  }

  ::testing::AssertionResult Ready(bool ready) {
    ServingStatus want = ready ? ServingStatus::kServing : ServingStatus::kNotServing;
    for (const char* service : {kReadinessService, "", "herald.v1.Herald"}) {
      if (std::string(service) == "herald.v1.Herald" && !api_) continue;
      ::testing::AssertionResult result = Answers(service, want);
      if (!result) return result;
    }
    return ::testing::AssertionSuccess();
  }

  grpc::Status Identify() {
    auto stub = v1::Herald::NewStub(channel_);
    v1::IdentifyUserRequest request;
    request.mutable_user()->set_id("u1");
    v1::User response;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    return stub->IdentifyUser(&context, request, &response);
  }

  std::string dir_;
  bool api_ = true;
  std::unique_ptr<redis::EmbeddedServer> redis_;
  std::unique_ptr<Runtime> runtime_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(RedisHealthTest, ApiIsNotReadyWhileRedisIsDownAndReadyWhenItReturns) {
  StartHerald("api");
  EXPECT_TRUE(Ready(true));
  ASSERT_TRUE(Identify().ok());

  redis_->Stop();
  EXPECT_TRUE(Ready(false));
  EXPECT_TRUE(Answers(kLivenessService, ServingStatus::kServing)) << "no restart for Redis's sake";
  EXPECT_EQ(Identify().error_code(), grpc::StatusCode::UNAVAILABLE);

  StartRedis();
  EXPECT_TRUE(Ready(true));
  // The API's own connections come back too.
  grpc::Status identified;
  EXPECT_TRUE(testing::Eventually([&] { return (identified = Identify()).ok(); }, absl::Seconds(10)))
      << identified.error_message();
}

TEST_F(RedisHealthTest, AFrozenRedisIsNotReadyEither) {
  StartHerald("api");
  EXPECT_TRUE(Ready(true));
  ASSERT_EQ(kill(redis_->pid(), SIGSTOP), 0);
  absl::Cleanup thaw = [&] { kill(redis_->pid(), SIGCONT); };
  EXPECT_TRUE(Ready(false));
  EXPECT_TRUE(Answers(kLivenessService, ServingStatus::kServing));
  std::move(thaw).Invoke();
  EXPECT_TRUE(Ready(true));
}

TEST_F(RedisHealthTest, AWorkerRoleServesHealthThatFollowsRedis) {
  api_ = false;
  StartHerald("batcher");
  ASSERT_GT(runtime_->grpc_port(), 0);
  EXPECT_TRUE(Answers(kLivenessService, ServingStatus::kServing));
  EXPECT_TRUE(Ready(true));
  EXPECT_EQ(CheckHealth(*channel_, "herald.v1.Herald", absl::Seconds(2)).status().code(), absl::StatusCode::kNotFound)
      << "a worker serves no API";

  redis_->Stop();
  EXPECT_TRUE(Ready(false));
  EXPECT_TRUE(Answers(kLivenessService, ServingStatus::kServing));
  StartRedis();
  EXPECT_TRUE(Ready(true));
}

TEST_F(RedisHealthTest, ADeliveryServiceAloneIsReadyWithoutRedis) {
  api_ = false;
  redis_.reset();
  StartHerald("delivery");
  EXPECT_EQ(runtime_->redis_endpoint(), "");
  EXPECT_TRUE(Ready(true));
  EXPECT_TRUE(Answers(kLivenessService, ServingStatus::kServing));
}

}  // namespace
}  // namespace herald
