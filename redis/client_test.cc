#include "redis/client.h"

#include <atomic>
#include <filesystem>
#include <fstream>

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

// Arguments go out as RESP bulk strings, whatever bytes they hold and
// however long they are.
TEST_F(RedisClientTest, ArgumentsArriveByteForByte) {
  auto client = Connect();
  const std::string binary("a\r\n$3\r\nb\0c*", 12);
  const std::string large(200000, 'x');
  auto results = client->Pipeline({{"SET", "binary", binary},
                                   {"SET", "empty", ""},
                                   {"SET", "large", large},
                                   {"MGET", "binary", "empty", "large"},
                                   {"STRLEN", "large"}});
  ASSERT_EQ(results.size(), 5u);
  for (const auto& result : results) ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(results[3]->elements.size(), 3u);
  EXPECT_EQ(results[3]->elements[0].str, binary);
  EXPECT_EQ(results[3]->elements[1].str, "");
  EXPECT_FALSE(results[3]->elements[1].is_nil());
  EXPECT_EQ(results[3]->elements[2].str, large);
  EXPECT_EQ(results[4]->integer, 200000);
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
  EXPECT_EQ(ParseEndpoint("redis://127.0.0.1:6380/0")->port, 6380);
  EXPECT_EQ(ParseEndpoint("redis://redis.internal/")->host, "redis.internal");
}

TEST(EndpointTest, ParsesAUserAndAPasswordPercentDecoded) {
  auto both = ParseEndpoint("redis://herald:s%40cret%3A%2F@redis.internal:6380");
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->username, "herald");
  EXPECT_EQ(both->password, "s@cret:/");
  EXPECT_EQ(both->host, "redis.internal");
  EXPECT_EQ(both->port, 6380);
  EXPECT_EQ(both->ToString(), "redis.internal:6380");

  auto password_only = ParseEndpoint("redis://:p:w@10.0.0.5");
  ASSERT_TRUE(password_only.ok());
  EXPECT_EQ(password_only->username, "");
  EXPECT_EQ(password_only->password, "p:w");
  EXPECT_EQ(password_only->port, 6379);
  // An unencoded '@' in the password: the last '@' ends the user info.
  EXPECT_EQ(ParseEndpoint("redis://:a@b@host:1")->password, "a@b");
  EXPECT_EQ(ParseEndpoint("redis://user@host:1")->username, "user");
  EXPECT_EQ(ParseEndpoint("redis://user@host:1")->password, "");
}

TEST(EndpointTest, ErrorsNeverShowThePassword) {
  auto bad_port = ParseEndpoint("redis://herald:hunter2@host:x");
  ASSERT_FALSE(bad_port.ok());
  EXPECT_EQ(bad_port.status().message(), "redis address: bad port in 'redis://herald:***@host:x'");
  auto bad_escape = ParseEndpoint("redis://:hunter2%zz@host:1");
  ASSERT_FALSE(bad_escape.ok());
  EXPECT_EQ(bad_escape.status().message(),
            "redis address: bad percent-encoding in the password (a '%' must start %XX)");
  auto no_scheme = ParseEndpoint(":hunter2@host:1");
  ASSERT_FALSE(no_scheme.ok());
  EXPECT_THAT(std::string(no_scheme.status().message()), ::testing::HasSubstr("':***@host:1'"));
  auto database = ParseEndpoint("redis://:hunter2@host:1/3");
  ASSERT_FALSE(database.ok());
  EXPECT_THAT(std::string(database.status().message()), ::testing::Not(::testing::HasSubstr("hunter2")));
  auto tls = ParseEndpoint("rediss://:hunter2@host:1");
  ASSERT_FALSE(tls.ok());
  EXPECT_THAT(std::string(tls.status().message()), ::testing::HasSubstr("local TLS tunnel"));
  EXPECT_THAT(std::string(tls.status().message()), ::testing::Not(::testing::HasSubstr("hunter2")));
}

TEST(EndpointTest, ThePasswordFileWinsOverTheUrlAndLosesItsNewline) {
  const std::string dir = testing::MakeTempDir("herald-endpoint-");
  const std::string file = dir + "/password";
  std::ofstream(file) << "from-file\r\n";
  auto endpoint = EndpointFromFlags("redis://herald:from-url@host:1", file);
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  EXPECT_EQ(endpoint->username, "herald");
  EXPECT_EQ(endpoint->password, "from-file");
  EXPECT_EQ(EndpointFromFlags("unix:///run/redis.sock", file)->password, "from-file");

  auto bad_url = EndpointFromFlags("host:x", file);
  ASSERT_FALSE(bad_url.ok());
  EXPECT_EQ(bad_url.status().message(), "--redis: redis address: bad port in 'host:x'");
  auto missing = EndpointFromFlags("host:1", dir + "/nope");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "--redis_password_file " + dir + "/nope: cannot read: No such file or directory");
  std::ofstream(dir + "/empty") << "\n";
  EXPECT_THAT(std::string(EndpointFromFlags("host:1", dir + "/empty").status().message()),
              ::testing::HasSubstr(": empty"));
  std::ofstream(dir + "/two-lines") << "a\nb\n";
  EXPECT_THAT(std::string(EndpointFromFlags("host:1", dir + "/two-lines").status().message()),
              ::testing::HasSubstr("more than one line"));
  auto user_without_password = EndpointFromFlags("redis://herald@host:1", "");
  ASSERT_FALSE(user_without_password.ok());
  EXPECT_THAT(std::string(user_without_password.status().message()), ::testing::HasSubstr("--redis: user 'herald'"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace herald::redis
