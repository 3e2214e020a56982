// A real redis-server on a unix socket in a temp dir, for tests: started
// once per test suite, FLUSHALL before each test, stopped at the end. With
// HERALD_TEST_REDIS_CLUSTER=1 it is a one-node Redis Cluster (every slot on
// it), which refuses anything that touches two slots at once: ctest runs
// every integration test a second time so (see herald_cc_test).
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "redis/client.h"
#include "redis/embedded_server.h"

namespace herald::testing {

class RedisTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static const redis::Endpoint& endpoint();
  // Whether this run's Redis is a one-node Redis Cluster.
  static bool InClusterMode();
  // A fresh connection owned by the caller.
  static std::unique_ptr<redis::RedisClient> Connect();
  // Every key currently in Redis (SCAN), sorted.
  static std::vector<std::string> AllKeys();

 private:
  static std::unique_ptr<redis::EmbeddedServer>& server();
  static std::string& data_dir();
};

// A RedisTest with a connection of its own (`client_`, made in SetUp) and
// Run(): a command that must succeed (a failure fails the test and yields
// an empty reply).
class RedisClientTest : public RedisTest {
 protected:
  void SetUp() override;
  redis::Reply Run(const redis::Command& command);

  std::unique_ptr<redis::RedisClient> client_;
};

// Redis holds every write command (CLIENT PAUSE ... WRITE) from
// construction until Resume() or destruction, so a call that writes stays
// in flight meanwhile. Declare a std::jthread making such calls before it:
// Redis then resumes before the thread is joined. Failures are reported via
// gtest; `client` must outlive this.
class PausedWrites {
 public:
  // Redis resumes by itself after `at_most` should the test hang.
  explicit PausedWrites(redis::RedisClient& client, absl::Duration at_most = absl::Seconds(20));
  ~PausedWrites();
  PausedWrites(const PausedWrites&) = delete;
  PausedWrites& operator=(const PausedWrites&) = delete;

  // Whether Redis paused.
  bool ok() const { return paused_; }
  // CLIENT UNPAUSE.
  absl::Status Resume();

 private:
  redis::RedisClient& client_;
  bool paused_ = false;
};

// A fresh temporary directory path (created).
std::string MakeTempDir(const std::string& prefix);

// Writes `text` to `dir`/`name`, creating `dir` (and its parents) first;
// returns the file's path.
std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text);

// The whole of the file at `path` ("" when it cannot be read).
std::string ReadFile(const std::string& path);

}  // namespace herald::testing
