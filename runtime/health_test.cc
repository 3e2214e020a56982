// Health's rules (readiness follows Redis and draining, liveness follows
// its components only), what the gRPC health service then answers, and the
// liveness watchdog against a listener that stops taking connections.
#include "runtime/health.h"

#include <grpcpp/create_channel.h>

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "runtime/grpc_server.h"

namespace herald {
namespace {

TEST(HealthTest, ReadinessFollowsRedisAndDrainingLivenessItsComponents) {
  Health health(/*needs_redis=*/true, {""});
  EXPECT_TRUE(health.ready());
  EXPECT_TRUE(health.live());

  health.SetRedisReachable(false);
  EXPECT_FALSE(health.ready());
  EXPECT_TRUE(health.live()) << "a pod is not restarted for Redis's sake";
  health.SetRedisReachable(true);
  EXPECT_TRUE(health.ready());

  health.SetAlive("listener", false);
  health.SetAlive("workers", false);
  EXPECT_FALSE(health.live());
  EXPECT_TRUE(health.ready());
  health.SetAlive("listener", true);
  EXPECT_FALSE(health.live()) << "one component is still dead";
  health.SetAlive("workers", true);
  EXPECT_TRUE(health.live());

  health.SetDraining();
  EXPECT_FALSE(health.ready());
  health.SetRedisReachable(false);
  health.SetRedisReachable(true);
  EXPECT_FALSE(health.ready()) << "Redis coming back must not undo a drain";
  EXPECT_TRUE(health.live());
}

TEST(HealthTest, WithoutRedisReadyOnceStarted) {
  Health health(/*needs_redis=*/false, {""});
  health.SetRedisReachable(false);
  EXPECT_TRUE(health.ready());
  health.SetDraining();
  EXPECT_FALSE(health.ready());
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

// Polls `service` on `channel` until it answers `want` or 10 s pass.
::testing::AssertionResult Answers(grpc::Channel& channel, const std::string& service, ServingStatus want) {
  absl::Time give_up = absl::Now() + absl::Seconds(10);
  absl::StatusOr<ServingStatus> answer;
  while (absl::Now() < give_up) {
    answer = CheckHealth(channel, service, absl::Seconds(2));
    if (answer.ok() && *answer == want) return ::testing::AssertionSuccess();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return ::testing::AssertionFailure() << "'" << service << "' answered "
                                       << (answer.ok() ? std::to_string(static_cast<int>(*answer))
                                                       : answer.status().ToString());
}

TEST(HealthTest, TheHealthServiceAnswersWhatHealthDecides) {
  prometheus::Registry registry;
  Health health(/*needs_redis=*/true, {"", "herald.v1.Herald"});
  GrpcServerOptions options;
  options.listener.address = "127.0.0.1:0";
  options.watchdog.interval = absl::Hours(1);
  auto server = GrpcServer::Start(options, {}, health, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = NewChannel("127.0.0.1:" + std::to_string((*server)->port()));
  for (const char* service : {kLivenessService, kReadinessService, "", "herald.v1.Herald"}) {
    EXPECT_TRUE(Answers(*channel, service, ServingStatus::kServing));
  }
  health.SetRedisReachable(false);
  for (const char* service : {kReadinessService, "", "herald.v1.Herald"}) {
    EXPECT_TRUE(Answers(*channel, service, ServingStatus::kNotServing));
  }
  EXPECT_TRUE(Answers(*channel, kLivenessService, ServingStatus::kServing));
  health.SetRedisReachable(true);
  EXPECT_TRUE(Answers(*channel, kReadinessService, ServingStatus::kServing));

  // The drain (SIGTERM): every readiness name goes NOT_SERVING and stays
  // so whatever Redis does; liveness is untouched (no restart mid-drain).
  health.SetDraining();
  health.SetRedisReachable(false);
  health.SetRedisReachable(true);
  for (const char* service : {kReadinessService, "", "herald.v1.Herald"}) {
    EXPECT_TRUE(Answers(*channel, service, ServingStatus::kNotServing));
  }
  EXPECT_TRUE(Answers(*channel, kLivenessService, ServingStatus::kServing));

  health.SetAlive("listener", false);
  EXPECT_TRUE(Answers(*channel, kLivenessService, ServingStatus::kNotServing));
}

// The watchdog's view must match a prober's: once the port takes no new
// connection, liveness goes NOT_SERVING (seen here over a connection opened
// before), and SERVING again when the port accepts again.
TEST(HealthTest, WatchdogReportsAListenerThatStopsAccepting) {
  prometheus::Registry registry;
  Health health(/*needs_redis=*/false, {""});
  GrpcServerOptions options;
  options.listener.address = "127.0.0.1:0";
  options.watchdog.interval = absl::Milliseconds(100);
  options.watchdog.timeout = absl::Milliseconds(300);
  options.watchdog.failures = 2;
  auto server = GrpcServer::Start(options, {}, health, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  auto existing = NewChannel("127.0.0.1:" + std::to_string((*server)->port()));
  ASSERT_TRUE(Answers(*existing, kLivenessService, ServingStatus::kServing));
  // Healthy for a few watchdog rounds.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_TRUE(health.live());

  (*server)->listener().SetPausedForTest(true);
  EXPECT_TRUE(Answers(*existing, kLivenessService, ServingStatus::kNotServing));
  EXPECT_FALSE(health.live());
  EXPECT_TRUE(Answers(*existing, kReadinessService, ServingStatus::kServing)) << "liveness alone says so";

  (*server)->listener().SetPausedForTest(false);
  EXPECT_TRUE(Answers(*existing, kLivenessService, ServingStatus::kServing));
}

}  // namespace
}  // namespace herald
