// A connection flood against the real herald binary with a small open-file
// limit (RLIMIT_NOFILE 256, soft and hard, so raising to the hard limit
// cannot escape it): many clients open a connection, send a few bytes and
// close, while more than the limit's worth of silent connections are held
// open. Afterwards a normal Trigger and a health call on a new connection
// must succeed within seconds, with the process still up. The same flood
// against a plain gRPC server (gRPC's own listener) wedges it for good:
// that is what the flood is strong enough to do.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "herald/v1/herald.grpc.pb.h"
#include "runtime/health.h"
#include "tests/support/eventually.h"
#include "tests/support/herald_process.h"
#include "tests/support/loopback.h"
#include "tests/support/redis_fixture.h"
#include "tests/support/scrape.h"

namespace herald {
namespace {

constexpr rlim_t kOpenFileLimit = 256;
// More silent connections than the limit: an unprotected server's fd table
// fills with them.
constexpr int kHeld = 300;
constexpr int kFloodThreads = 6;
constexpr absl::Duration kFloodTime = absl::Seconds(2);
constexpr int kFloodMaxConnections = 20'000;

// Server processes run under RLIMIT_NOFILE kOpenFileLimit.
testing::HeraldProcessOptions Limited(const std::string& program = "") {
  testing::HeraldProcessOptions options;
  options.program = program;
  options.open_file_limit = kOpenFileLimit;
  return options;
}

struct FloodResult {
  int connections = 0;
  int held = 0;
};

// Opens, writes a few bytes and closes as fast as kFloodThreads threads
// can, for kFloodTime or kFloodMaxConnections; meanwhile holds kHeld silent
// connections. Returns with the held ones still open in `held`.
FloodResult Flood(int port, std::vector<int>* held) {
  std::atomic<int> opened{0};
  absl::Time stop = absl::Now() + kFloodTime;
  std::vector<std::thread> threads;
  for (int t = 0; t < kFloodThreads; ++t) {
    threads.emplace_back([&] {
      while (absl::Now() < stop && opened.load() < kFloodMaxConnections) {
        int fd = testing::ConnectLoopback(port, absl::Seconds(1));
        if (fd < 0) continue;
        ++opened;
        static constexpr char kBytes[] = "GET / HTTP/1.1\r\n\r\n";
        (void)!send(fd, kBytes, sizeof(kBytes) - 1, MSG_NOSIGNAL);
        close(fd);
      }
    });
  }
  for (int i = 0; i < kHeld && absl::Now() < stop; ++i) {
    int fd = testing::ConnectLoopback(port, absl::Seconds(1));
    if (fd >= 0) held->push_back(fd);
  }
  for (auto& thread : threads) thread.join();
  return FloodResult{opened.load(), static_cast<int>(held->size())};
}

absl::StatusOr<ServingStatus> FreshHealthCheck(const std::string& target, const std::string& service,
                                               absl::Duration timeout) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  return CheckHealth(*channel, service, timeout);
}

grpc::Status FreshTrigger(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto stub = v1::Herald::NewStub(grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args));
  v1::TriggerRequest request;
  request.set_workflow("direct");
  request.add_recipients()->set_id("u1");
  request.set_data_json(R"({"n": 1})");
  v1::TriggerResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
  return stub->Trigger(&context, request, &response);
}

// The herald_grpc_connections_shed_total sample of the grpc listener on
// /metrics; -1 when there is none (or no scrape).
double ShedConnections(int metrics_port) {
  auto response = testing::HttpGet(metrics_port, "/metrics");
  return testing::SumOf(testing::ParseScrape(response ? response->body : ""), "herald_grpc_connections_shed_total",
                        {{"listener", "grpc"}});
}

class ListenerFloodTest : public testing::RedisTest {};

TEST_F(ListenerFloodTest, HeraldAcceptsAgainWithinSecondsAfterAFlood) {
  std::string workflows = testing::MakeTempDir("herald-flood-workflows-");
  testing::WriteFile(workflows, "direct.yaml", R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.n }}"}}
)");
  const int metrics_port = testing::FreeLoopbackPort();
  testing::HeraldProcess herald({"api", "--redis=" + endpoint().ToString(), "--workflows=" + workflows,
                                 "--grpc_address=127.0.0.1:0", absl::StrCat("--metrics_address=127.0.0.1:", metrics_port)},
                                Limited());
  const int port = herald.WaitForPort(absl::Seconds(30));
  ASSERT_GT(port, 0) << "herald did not start\n" << herald.Log();
  const std::string target = absl::StrCat("127.0.0.1:", port);
  ASSERT_TRUE(FreshTrigger(target).ok());
  const int64_t rss_before = herald.RssKiB();

  std::vector<int> held;
  FloodResult flood = Flood(port, &held);
  const absl::Time flood_end = absl::Now();
  EXPECT_GT(flood.connections, 1000) << "the flood was too weak to mean anything";
  EXPECT_GT(flood.held, static_cast<int>(kOpenFileLimit) / 2);

  // Served again within seconds, the held connections still open: a
  // Trigger and a health call, each on a new connection.
  const bool triggered = testing::Eventually([&] { return FreshTrigger(target).ok(); },
                                             flood_end + absl::Seconds(15) - absl::Now());
  const absl::Duration recovery = absl::Now() - flood_end;
  EXPECT_TRUE(triggered) << "no Trigger succeeded within 15 s of the flood";
  auto health = FreshHealthCheck(target, kLivenessService, absl::Seconds(5));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, ServingStatus::kServing);
  EXPECT_TRUE(herald.running());
  for (int fd : held) close(fd);

  const double shed = ShedConnections(metrics_port);
  const int64_t rss_after = herald.RssKiB();
  std::cout << "flood: " << flood.connections << " connections, " << flood.held << " held; served again after "
            << absl::FormatDuration(recovery) << "; shed " << shed << "; RSS " << rss_before << " KiB -> "
            << rss_after << " KiB" << std::endl;
  // More connections than the fd table holds: some had to be shed.
  EXPECT_GT(shed, 0);
  EXPECT_LT(rss_after - rss_before, 100 * 1024) << "a flood must not grow the process without bound";
  RecordProperty("rss_before_kib", std::to_string(rss_before));
  RecordProperty("rss_after_kib", std::to_string(rss_after));
}

TEST(PlainGrpcServerFloodTest, TheSameFloodWedgesGrpcsOwnListener) {
  testing::HeraldProcess plain({}, Limited(testing::BinaryPath("tests/plain_grpc_server")));
  const int port = plain.WaitForPort(absl::Seconds(30));
  ASSERT_GT(port, 0) << "plain_grpc_server did not start\n" << plain.Log();
  const std::string target = absl::StrCat("127.0.0.1:", port);
  auto before = FreshHealthCheck(target, "", absl::Seconds(5));
  ASSERT_TRUE(before.ok()) << before.status();

  std::vector<int> held;
  Flood(port, &held);
  for (int fd : held) close(fd);
  // Even with every held connection gone, no new connection is served.
  absl::Time until = absl::Now() + absl::Seconds(2);
  int served = 0;
  while (absl::Now() < until) {
    if (FreshHealthCheck(target, "", absl::Milliseconds(300)).ok()) ++served;
  }
  EXPECT_EQ(served, 0) << "the flood did not wedge gRPC's own listener: the herald test above proves nothing";
  EXPECT_TRUE(plain.running());
}

}  // namespace
}  // namespace herald
