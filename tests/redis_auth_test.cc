// Herald against Redis servers that want a login, each started by the test:
// requirepass with the password percent-encoded in the --redis URL; an ACL
// user named in the URL with its password in --redis_password_file, serving
// an API process and a worker process (every connection logs in as that
// user); a wrong or missing password, which fails the start at once with a
// message naming --redis and never the password; and a TLS-only Redis
// (--port 0 --tls-port) reached through a local stunnel client tunnel that
// verifies Redis's certificate — Debian's hiredis 0.14 has no TLS — run
// from the shipped deploy/redis-tls/stunnel.conf.
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "security/testing/test_pki.h"
#include "tests/support/herald_harness.h"
#include "tests/support/herald_process.h"
#include "tests/support/loopback.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWelcome[] = R"(
key: welcome
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "Welcome, {{ recipient.name }}!"}}
)";

// A child process the test owns (redis-server, stunnel4; `argv[0]` is
// looked up on PATH): stopped (SIGTERM, then SIGKILL) when it goes, and
// killed with the test process should that die first.
std::unique_ptr<testing::HeraldProcess> Start(std::vector<std::string> argv) {
  testing::HeraldProcessOptions options;
  options.program = argv[0];
  options.stop_grace = absl::Seconds(5);
  argv.erase(argv.begin());
  return std::make_unique<testing::HeraldProcess>(std::move(argv), options);
}

redis::Endpoint Loopback(int port, const std::string& password = "", const std::string& username = "") {
  redis::Endpoint endpoint;
  endpoint.host = "127.0.0.1";
  endpoint.port = port;
  endpoint.password = password;
  endpoint.username = username;
  return endpoint;
}

class RedisAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("herald-redis-auth-");
    ASSERT_FALSE(dir_.empty());
  }
  void TearDown() override {
    processes_.clear();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // A redis-server on a free loopback port with `args` added; ready when
  // `login` (the endpoint with its password) answers PING.
  redis::Endpoint StartRedis(const std::vector<std::string>& args, const std::string& password) {
    const int port = testing::FreeLoopbackPort();
    std::vector<std::string> argv = {"redis-server", "--port", std::to_string(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--dir", dir_,
                                     "--logfile", absl::StrCat(dir_, "/redis-", port, ".log")};
    argv.insert(argv.end(), args.begin(), args.end());
    processes_.push_back(Start(argv));
    EXPECT_TRUE(processes_.back()->started());
    redis::Endpoint endpoint = Loopback(port, password);
    absl::Status ready = redis::WaitForRedis(endpoint, absl::Seconds(15));
    EXPECT_TRUE(ready.ok()) << ready;
    return endpoint;
  }

  // Identify rita, trigger `welcome` for her, wait for the pipeline: her
  // feed holds the rendered item.
  static void ExpectTriggerReachesTheFeed(testing::HeraldHarness& harness) {
    ASSERT_TRUE(harness.Identify("rita", "Rita").ok());
    v1::TriggerRequest request;
    request.set_workflow("welcome");
    request.add_recipients()->set_id("rita");
    v1::TriggerResponse response;
    grpc::Status status = harness.stub().Trigger(testing::HeraldHarness::Context().get(), request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    const absl::Time give_up = absl::Now() + absl::Seconds(20);
    std::vector<v1::FeedItem> items;
    while (items.empty() && absl::Now() < give_up) {
      ASSERT_TRUE(harness.WaitForIdle());
      items = harness.AllFeedItems("rita");
    }
    ASSERT_EQ(items.size(), 1u);
    ASSERT_GE(items[0].blocks_size(), 1);
    EXPECT_EQ(items[0].blocks(0).markdown(), "Welcome, Rita!");
  }

  // Runtime::Start's error for `redis_url` (+ `password_file`), and how long
  // it took.
  std::pair<std::string, absl::Duration> StartError(const std::string& redis_url, const std::string& password_file) {
    RuntimeOptions options;
    options.roles = "api,batcher";
    options.redis_address = redis_url;
    options.redis_password_file = password_file;
    options.workflows_dir = dir_;
    options.grpc_address = "127.0.0.1:0";
    options.metrics_address = "";
    const absl::Time start = absl::Now();
    auto runtime = Runtime::Start(options);
    const absl::Duration took = absl::Now() - start;
    return {runtime.ok() ? "started" : std::string(runtime.status().message()), took};
  }

  // deploy/redis-tls/stunnel.conf with the value of each key in `values`
  // replaced (the line uncommented). Every key must be in the file.
  static std::string TunnelConfig(const std::map<std::string, std::string>& values) {
    const char* source = std::getenv("HERALD_SOURCE_DIR");
    std::ifstream in(absl::StrCat(source != nullptr ? source : ".", "/deploy/redis-tls/stunnel.conf"));
    EXPECT_TRUE(in.good()) << "deploy/redis-tls/stunnel.conf not found (HERALD_SOURCE_DIR)";
    std::string config, line;
    std::set<std::string> replaced;
    while (std::getline(in, line)) {
      absl::string_view setting = absl::StripPrefix(line, ";");
      const size_t equals = setting.find(" = ");
      auto value = equals == absl::string_view::npos ? values.end()
                                                     : values.find(std::string(setting.substr(0, equals)));
      if (value != values.end()) {
        line = absl::StrCat(value->first, " = ", value->second);
        replaced.insert(value->first);
      }
      absl::StrAppend(&config, line, "\n");
    }
    EXPECT_EQ(replaced.size(), values.size()) << config;
    return config;
  }

  std::string dir_;
  std::vector<std::unique_ptr<testing::HeraldProcess>> processes_;
};

// The password has characters a URL must encode: it is percent-decoded.
TEST_F(RedisAuthTest, RequirepassWithThePasswordPercentEncodedInTheUrl) {
  const std::string password = "p@ss:w/rd%";
  redis::Endpoint endpoint = StartRedis({"--requirepass", password}, password);
  testing::HarnessOptions options;
  options.workflow_files["welcome.yaml"] = kWelcome;
  options.customize = [&](RuntimeOptions& runtime) {
    runtime.redis_address = absl::StrCat("redis://:p%40ss%3Aw%2Frd%25@127.0.0.1:", endpoint.port);
  };
  testing::HeraldHarness harness(endpoint, options);
  ASSERT_TRUE(harness.ok());
  ExpectTriggerReachesTheFeed(harness);
}

// An ACL user that may do everything Herald does, and nothing as the
// default user, limited to Herald's keys (~herald:*): the API process and a
// worker process (batcher, fan-out, dispatcher, stream trimming) each log
// in as it on every connection, and the ACL denies them nothing.
TEST_F(RedisAuthTest, AnAclUserFromTheUrlWithItsPasswordFromAFileServesTheApiAndTheWorkers) {
  redis::Endpoint admin = StartRedis({"--requirepass", "admin-secret"}, "admin-secret");
  {
    auto client = redis::ConnectRedis(admin);
    ASSERT_TRUE(client.ok()) << client.status();
    auto created = (*client)->Execute({"ACL", "SETUSER", "herald", "on", ">herald-secret", "~herald:*", "&*", "+@all"});
    ASSERT_TRUE(created.ok()) << created.status();
  }
  const std::string password_file = testing::WriteFile(dir_, "redis-password", "herald-secret\n");
  const std::string url = absl::StrCat("redis://herald@127.0.0.1:", admin.port);

  testing::HarnessOptions options;
  options.workflow_files["welcome.yaml"] = kWelcome;
  options.roles = "api";
  options.customize = [&](RuntimeOptions& runtime) {
    runtime.redis_address = url;
    runtime.redis_password_file = password_file;
  };
  testing::HeraldHarness api(Loopback(admin.port, "herald-secret", "herald"), options);
  ASSERT_TRUE(api.ok());

  RuntimeOptions workers;
  workers.roles = "batcher,fanout,dispatcher";
  workers.redis_address = url;
  workers.redis_password_file = password_file;
  workers.workflows_dir = api.workflows_dir();
  workers.metrics_address = "";
  workers.clock = &api.clock();
  workers.flush_tick_ms = 2;
  workers.stream_trim_interval_ms = 50;
  auto runtime = Runtime::Start(workers);
  ASSERT_TRUE(runtime.ok()) << runtime.status();

  ExpectTriggerReachesTheFeed(api);

  // Every connection but this one is Herald's, and logged in as `herald`.
  auto client = redis::ConnectRedis(admin);
  ASSERT_TRUE(client.ok());
  auto own_id = (*client)->Execute({"CLIENT", "ID"});
  auto clients = (*client)->Execute({"CLIENT", "LIST"});
  ASSERT_TRUE(own_id.ok() && clients.ok());
  int herald_connections = 0;
  for (absl::string_view line : absl::StrSplit(clients->str, '\n', absl::SkipWhitespace())) {
    if (absl::StartsWith(line, absl::StrCat("id=", own_id->integer, " "))) continue;
    EXPECT_THAT(std::string(line), HasSubstr(" user=herald ")) << line;
    ++herald_connections;
  }
  EXPECT_GE(herald_connections, 4) << clients->str;  // the API's pipeline and each worker's own
  // Nothing Herald did was denied by the ACL (keys outside herald:*, a
  // command outside the user's rights) or failed to log in.
  auto denied = (*client)->Execute({"ACL", "LOG"});
  ASSERT_TRUE(denied.ok());
  EXPECT_EQ(denied->elements.size(), 0u) << "ACL LOG has entries";
  (*runtime)->Shutdown();
}

// A refused login is a start error at once (not after the 10 s wait for
// Redis), naming --redis, and never showing the password.
TEST_F(RedisAuthTest, AWrongOrMissingPasswordFailsTheStartAtOnceWithoutShowingIt) {
  redis::Endpoint endpoint = StartRedis({"--requirepass", "right-secret"}, "right-secret");
  auto [wrong, took] = StartError(absl::StrCat("redis://:wrong-secret@127.0.0.1:", endpoint.port), "");
  EXPECT_THAT(wrong, HasSubstr("--redis: "));
  EXPECT_THAT(wrong, HasSubstr("authentication failed"));
  EXPECT_THAT(wrong, HasSubstr("WRONGPASS"));
  EXPECT_THAT(wrong, Not(HasSubstr("wrong-secret")));
  EXPECT_LT(took, absl::Seconds(5));

  const std::string wrong_file = testing::WriteFile(dir_, "wrong-password", "also-wrong\n");
  auto [from_file, took_file] = StartError(absl::StrCat("redis://:right-secret@127.0.0.1:", endpoint.port), wrong_file);
  EXPECT_THAT(from_file, HasSubstr("authentication failed")) << "the file's password wins over the URL's";
  EXPECT_THAT(from_file, Not(HasSubstr("also-wrong")));
  EXPECT_THAT(from_file, Not(HasSubstr("right-secret")));

  auto [missing, took_missing] = StartError(absl::StrCat("redis://127.0.0.1:", endpoint.port), "");
  EXPECT_THAT(missing, HasSubstr("--redis: "));
  EXPECT_THAT(missing, HasSubstr("NOAUTH"));
  EXPECT_THAT(missing, HasSubstr("no password was given"));
  EXPECT_LT(took_missing, absl::Seconds(5));

  auto [bad_port, unused] = StartError("redis://:right-secret@127.0.0.1:notaport", "");
  EXPECT_EQ(bad_port, "--redis: redis address: bad port in 'redis://:***@127.0.0.1:notaport'");
}

// A TLS-only Redis (no plaintext port, client certificates required, and a
// password) reached through stunnel in client mode on loopback, which
// verifies Redis's certificate: what the README and deploy/redis-tls/
// describe (a sidecar in Kubernetes).
TEST_F(RedisAuthTest, ATlsOnlyRedisThroughAStunnelTunnel) {
  auto pki = security::testing::MakeTestPki(dir_);
  ASSERT_TRUE(pki.ok()) << pki.status();
  const int tls_port = testing::FreeLoopbackPort();
  processes_.push_back(Start(
      {"redis-server", "--port", "0", "--tls-port", std::to_string(tls_port), "--bind", "127.0.0.1", "--save", "",
       "--appendonly", "no", "--dir", dir_, "--logfile", dir_ + "/redis-tls.log", "--requirepass", "tunnel-secret",
       "--tls-cert-file", pki->server.cert_file, "--tls-key-file", pki->server.key_file, "--tls-ca-cert-file",
       pki->ca_file, "--tls-auth-clients", "yes"}));

  // deploy/redis-tls/stunnel.conf itself, with this test's files and
  // ports (and its commented-out client certificate lines enabled).
  auto tunnel = [&](const std::string& name, const std::string& ca_file) {
    const int port = testing::FreeLoopbackPort();
    const std::string config =
        testing::WriteFile(dir_, name + ".conf", TunnelConfig({{"accept", absl::StrCat("127.0.0.1:", port)},
                                                {"connect", absl::StrCat("127.0.0.1:", tls_port)},
                                                {"CAfile", ca_file},
                                                {"checkHost", "localhost"},
                                                {"cert", pki->client.cert_file},
                                                {"key", pki->client.key_file}}));
    processes_.push_back(Start({"stunnel4", config}));
    return port;
  };
  const int tunnel_port = tunnel("stunnel", pki->ca_file);
  redis::Endpoint through_tunnel = Loopback(tunnel_port, "tunnel-secret");
  absl::Status ready = redis::WaitForRedis(through_tunnel, absl::Seconds(15));
  ASSERT_TRUE(ready.ok()) << ready;

  // Redis speaks TLS only; and a tunnel that does not trust Redis's CA
  // gets nothing through.
  EXPECT_FALSE(redis::WaitForRedis(Loopback(tls_port, "tunnel-secret"), absl::Milliseconds(500)).ok());
  const int untrusting = tunnel("stunnel-other-ca", pki->other_ca_file);
  EXPECT_FALSE(redis::WaitForRedis(Loopback(untrusting, "tunnel-secret"), absl::Seconds(1)).ok());

  testing::HarnessOptions options;
  options.workflow_files["welcome.yaml"] = kWelcome;
  options.customize = [&](RuntimeOptions& runtime) {
    runtime.redis_address = absl::StrCat("redis://127.0.0.1:", tunnel_port);
    runtime.redis_password_file = testing::WriteFile(dir_, "tunnel-password", "tunnel-secret\n");
  };
  testing::HeraldHarness harness(through_tunnel, options);
  ASSERT_TRUE(harness.ok());
  ExpectTriggerReachesTheFeed(harness);
}

}  // namespace
}  // namespace herald
