// A real redis-server on a unix socket in a temp dir, for tests: started
// once per test suite, FLUSHALL before each test, stopped at the end. With
// HERALD_TEST_REDIS_CLUSTER=1 it is a one-node Redis Cluster (every slot on
// it), which refuses anything that touches two slots at once: ctest runs
// every integration test a second time so (see herald_cc_test).
#pragma once

#include <memory>
#include <string>

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

// A fresh temporary directory path (created).
std::string MakeTempDir(const std::string& prefix);

}  // namespace herald::testing
