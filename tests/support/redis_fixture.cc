#include "tests/support/redis_fixture.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace herald::testing {

std::string MakeTempDir(const std::string& prefix) {
  std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
  char* made = mkdtemp(pattern.data());
  if (made == nullptr) return "";
  return made;
}

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  EXPECT_FALSE(error) << dir << ": " << error.message();
  const std::string path = dir + "/" + name;
  std::ofstream out(path);
  out << text;
  EXPECT_TRUE(out.good()) << "could not write " << path;
  return path;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

PausedWrites::PausedWrites(redis::RedisClient& client, absl::Duration at_most) : client_(client) {
  auto paused = client_.Execute({"CLIENT", "PAUSE", std::to_string(absl::ToInt64Milliseconds(at_most)), "WRITE"});
  EXPECT_TRUE(paused.ok()) << "CLIENT PAUSE: " << paused.status();
  paused_ = paused.ok();
}

PausedWrites::~PausedWrites() {
  if (paused_) Resume().IgnoreError();
}

absl::Status PausedWrites::Resume() {
  auto resumed = client_.Execute({"CLIENT", "UNPAUSE"});
  if (!resumed.ok()) return resumed.status();
  paused_ = false;
  return absl::OkStatus();
}

bool RedisTest::InClusterMode() {
  const char* cluster = std::getenv("HERALD_TEST_REDIS_CLUSTER");
  return cluster != nullptr && std::string(cluster) == "1";
}

std::unique_ptr<redis::EmbeddedServer>& RedisTest::server() {
  static std::unique_ptr<redis::EmbeddedServer> instance;
  return instance;
}

std::string& RedisTest::data_dir() {
  static std::string dir;
  return dir;
}

void RedisTest::SetUpTestSuite() {
  if (server()) return;
  data_dir() = MakeTempDir("herald-redis-test-");
  redis::EmbeddedServerOptions options;
  options.data_dir = data_dir();
  options.append_only = false;
  options.single_node_cluster = InClusterMode();
  auto started = redis::EmbeddedServer::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  server() = std::move(*started);
}

void RedisTest::TearDownTestSuite() {
  server().reset();
  std::error_code ignored;
  if (!data_dir().empty()) std::filesystem::remove_all(data_dir(), ignored);
}

void RedisTest::SetUp() {
  ASSERT_TRUE(server()) << "redis did not start";
  auto client = Connect();
  ASSERT_TRUE(client);
  auto flushed = client->Execute({"FLUSHALL"});
  ASSERT_TRUE(flushed.ok()) << flushed.status();
}

void RedisClientTest::SetUp() {
  RedisTest::SetUp();
  client_ = Connect();
  ASSERT_TRUE(client_);
}

redis::Reply RedisClientTest::Run(const redis::Command& command) {
  auto reply = client_->Execute(command);
  EXPECT_TRUE(reply.ok()) << reply.status();
  return reply.ok() ? *reply : redis::Reply();
}

const redis::Endpoint& RedisTest::endpoint() { return server()->endpoint(); }

std::unique_ptr<redis::RedisClient> RedisTest::Connect() {
  auto client = redis::ConnectRedis(endpoint());
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

std::vector<std::string> RedisTest::AllKeys() {
  auto client = Connect();
  std::vector<std::string> keys;
  std::string cursor = "0";
  do {
    auto reply = client->Execute({"SCAN", cursor, "COUNT", "1000"});
    if (!reply.ok() || reply->elements.size() != 2) break;
    cursor = reply->elements[0].str;
    for (const auto& key : reply->elements[1].elements) keys.push_back(key.str);
  } while (cursor != "0");
  std::sort(keys.begin(), keys.end());
  return keys;
}

}  // namespace herald::testing
