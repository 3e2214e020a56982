#include "redis/client.h"

#include <atomic>

#include "absl/synchronization/notification.h"
#include "redis/async_pipeline.h"
#include "core/keys.h"
#include "gmock/gmock.h"
#include "redis/script.h"
#include "tests/support/redis_fixture.h"

namespace herald::redis {
namespace {

class RedisClientTest : public testing::RedisTest {};

TEST_F(RedisClientTest, PipelineReturnsOneTypedResultPerCommand) {
  auto client = Connect();
  auto results = client->Pipeline({{"SET", "k", "v"}, {"GET", "k"}, {"INCR", "n"}, {"GET", "missing"}, {"HGET", "k", "f"}});
  ASSERT_EQ(results.size(), 5u);
  EXPECT_TRUE(results[0].ok());
  EXPECT_EQ(results[1]->str, "v");
  EXPECT_EQ(results[2]->integer, 1);
  EXPECT_TRUE(results[3]->is_nil());
  EXPECT_FALSE(results[4].ok());  // WRONGTYPE
  EXPECT_EQ(results[4].status().code(), absl::StatusCode::kInternal);
}

TEST_F(RedisClientTest, ScriptsSurviveScriptFlush) {
  static const Script kScript("return redis.call('INCRBY', KEYS[1], ARGV[1])");
  auto client = Connect();
  ASSERT_TRUE(client->Execute({"SCRIPT", "FLUSH"}).ok());
  auto first = client->Execute(kScript.Call({"counter"}, {"5"}));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->integer, 5);
  auto second = client->Execute(kScript.Call({"counter"}, {"2"}));
  EXPECT_EQ(second->integer, 7);
}

TEST_F(RedisClientTest, ScriptUserErrorsMapToStatusCodes) {
  static const Script kScript("return redis.error_reply('HERALD INVALID_ARGUMENT field x is bad')");
  auto client = Connect();
  auto reply = client->Execute(kScript.Call({"k"}, {}));
  ASSERT_FALSE(reply.ok());
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reply.status().message(), "field x is bad");
}

// A script call Redis Cluster could not route to one slot is refused by the
// client, not sent: the rest of the pipeline still runs.
TEST_F(RedisClientTest, ScriptCallsWithoutKeysOrAcrossSlotsAreRefused) {
  static const Script kScript("return redis.call('SET', KEYS[1], ARGV[1])");
  auto client = Connect();
  auto results = client->Pipeline({kScript.Call({}, {"x"}),
                                   kScript.Call({"herald:{1}:a", "herald:{2}:b"}, {"x"}),
                                   kScript.Call({"herald:{1}:a", "herald:{1}:b"}, {"same-slot"}),
                                   {"GET", "herald:{1}:a"}});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(results[0].status().message()), ::testing::HasSubstr("no key"));
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(results[1].status().message()), ::testing::HasSubstr("herald:{2}:b"));
  ASSERT_TRUE(results[2].ok()) << results[2].status();
  ASSERT_TRUE(results[3].ok());
  EXPECT_EQ(results[3]->str, "same-slot") << "only the routable call ran";
  EXPECT_EQ(HashTagOf("herald:{12}:msg:x"), "12");
  EXPECT_EQ(HashTagOf("plain"), "plain");
  EXPECT_EQ(HashTagOf("a{}b{c}"), "a{}b{c}") << "an empty first tag means the whole key";
}

TEST_F(RedisClientTest, UnreachableServerIsUnavailable) {
  Endpoint nowhere;
  nowhere.unix_socket = "/nonexistent/redis.sock";
  auto client = ConnectRedis(nowhere);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(RedisClientTest, AsyncPipelineCompletesEveryJobInOrder) {
  auto pipeline = AsyncPipeline::Create(endpoint(), 2);
  ASSERT_TRUE(pipeline.ok()) << pipeline.status();
  constexpr int kJobs = 2000;
  std::atomic<int> done{0};
  std::atomic<int> wrong{0};
  absl::Notification all_done;
  for (int i = 0; i < kJobs; ++i) {
    std::string key = "job:" + std::to_string(i);
    (*pipeline)->Submit({{"SET", key, std::to_string(i)}, {"GET", key}}, [&, i](AsyncPipeline::Results results) {
      if (results.size() != 2 || !results[1].ok() || results[1]->str != std::to_string(i)) ++wrong;
      if (++done == kJobs) all_done.Notify();
    });
  }
  ASSERT_TRUE(all_done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(wrong.load(), 0);
}

TEST(EndpointTest, ParsesEveryForm) {
  EXPECT_EQ(ParseEndpoint("unix:///tmp/r.sock")->unix_socket, "/tmp/r.sock");
  EXPECT_EQ(ParseEndpoint("/tmp/r.sock")->unix_socket, "/tmp/r.sock");
  EXPECT_EQ(ParseEndpoint("redis://127.0.0.1:6380")->port, 6380);
  EXPECT_EQ(ParseEndpoint("localhost")->port, 6379);
  EXPECT_FALSE(ParseEndpoint("host:notaport").ok());
  EXPECT_FALSE(ParseEndpoint(":1").ok());
}

}  // namespace
}  // namespace herald::redis
