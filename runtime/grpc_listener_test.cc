// GrpcListener and GrpcServer without Redis: health on an ephemeral port,
// address errors, the connection bound, and an fd table filled to the last
// slot (accept4 fails EMFILE, which ends gRPC 1.51's own listener for good).
#include "runtime/grpc_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/create_channel.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "runtime/grpc_server.h"
#include "runtime/health.h"
#include "tests/support/eventually.h"
#include "tests/support/loopback.h"

namespace herald {
namespace {

double MetricValue(prometheus::Registry& registry, const std::string& name, const std::string& reason = "") {
  for (const prometheus::MetricFamily& family : registry.Collect()) {
    if (family.name != name) continue;
    for (const prometheus::ClientMetric& metric : family.metric) {
      bool match = reason.empty();
      for (const prometheus::ClientMetric::Label& label : metric.label) {
        if (label.name == "reason" && label.value == reason) match = true;
      }
      if (!match) continue;
      return family.type == prometheus::MetricType::Gauge ? metric.gauge.value : metric.counter.value;
    }
  }
  return -1;
}

// A channel with a connection of its own (never shared with another channel).
std::shared_ptr<grpc::Channel> NewChannel(const std::string& target) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<ServingStatus> Check(const std::string& target, const std::string& service) {
  return CheckHealth(*NewChannel(target), service, absl::Seconds(5));
}

// Polls a fresh health call until it answers SERVING or `timeout` passes.
bool ServesWithin(const std::string& target, absl::Duration timeout) {
  return testing::Eventually(
      [&] {
        auto answer = CheckHealth(*NewChannel(target), kLivenessService, absl::Milliseconds(500));
        return answer.ok() && *answer == ServingStatus::kServing;
      },
      timeout);
}

// Whether the server answered `fd` within `timeout`: closed it (EOF or
// reset) or, when `or_served`, sent its first HTTP/2 frame.
bool AnsweredByServer(int fd, absl::Duration timeout, bool or_served = false) {
  pollfd readable{fd, POLLIN, 0};
  if (poll(&readable, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return false;
  char byte;
  return read(fd, &byte, 1) <= 0 || or_served;
}

struct TestServer {
  explicit TestServer(GrpcServerOptions options) : health(false, {""}) {
    auto started = GrpcServer::Start(options, {}, health, registry);
    EXPECT_TRUE(started.ok()) << started.status();
    if (started.ok()) server = std::move(*started);
  }
  std::string target() const { return "127.0.0.1:" + std::to_string(server->port()); }

  prometheus::Registry registry;
  Health health;
  std::unique_ptr<GrpcServer> server;
};

GrpcServerOptions LocalOptions() {
  GrpcServerOptions options;
  options.listener.address = "127.0.0.1:0";
  // The watchdog has its own tests (health_test); here it stays out of the way.
  options.watchdog.interval = absl::Hours(1);
  return options;
}

TEST(GrpcListenerTest, ServesHealthOnAnEphemeralPort) {
  TestServer test(LocalOptions());
  ASSERT_TRUE(test.server);
  EXPECT_GT(test.server->port(), 0);
  EXPECT_EQ(test.server->listener().local_target(), test.target());
  for (const char* service : {kLivenessService, kReadinessService, ""}) {
    auto answer = Check(test.target(), service);
    ASSERT_TRUE(answer.ok()) << service << ": " << answer.status();
    EXPECT_EQ(*answer, ServingStatus::kServing) << service;
  }
  // A worker role serves no API, so its health does not pretend to.
  EXPECT_EQ(Check(test.target(), "herald.v1.Herald").status().code(), absl::StatusCode::kNotFound);
}

TEST(GrpcListenerTest, ProbeAcceptTellsWhetherTheAcceptLoopTakesConnections) {
  TestServer test(LocalOptions());
  ASSERT_TRUE(test.server);
  GrpcListener& listener = test.server->listener();
  EXPECT_TRUE(listener.ProbeAccept(absl::Seconds(5)).ok());
  // Paused like a wedged loop: the kernel still completes the TCP
  // handshake into the backlog, but nothing takes it off.
  listener.SetPausedForTest(true);
  EXPECT_EQ(listener.ProbeAccept(absl::Milliseconds(200)).code(), absl::StatusCode::kUnavailable);
  listener.SetPausedForTest(false);
  EXPECT_TRUE(listener.ProbeAccept(absl::Seconds(5)).ok());
}

TEST(GrpcListenerTest, WildcardAddressesAreReachedOverLoopback) {
  for (const char* address : {"0.0.0.0:0", ":0"}) {
    GrpcServerOptions options = LocalOptions();
    options.listener.address = address;
    TestServer test(options);
    ASSERT_TRUE(test.server) << address;
    // IPv4 clients reach a dual-stack "::" socket too.
    EXPECT_TRUE(ServesWithin(test.target(), absl::Seconds(5))) << address;
    EXPECT_TRUE(ServesWithin(test.server->listener().local_target(), absl::Seconds(5))) << address;
  }
}

TEST(GrpcListenerTest, RefusesBadAddressesAndBusyPorts) {
  prometheus::Registry registry;
  for (const char* address : {"50051", "::1:50051", "[::1]50051", "127.0.0.1:port", "127.0.0.1:70000"}) {
    GrpcListenerOptions options;
    options.address = address;
    auto listener = GrpcListener::Bind(options, registry);
    EXPECT_EQ(listener.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(listener.status().message().find("--grpc_address"), std::string::npos) << listener.status();
  }
  GrpcListenerOptions options;
  options.address = "127.0.0.1:0";
  options.max_connections = 0;
  EXPECT_EQ(GrpcListener::Bind(options, registry).status().code(), absl::StatusCode::kInvalidArgument);

  options.max_connections = 10;
  auto first = GrpcListener::Bind(options, registry);
  ASSERT_TRUE(first.ok()) << first.status();
  options.address = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = GrpcListener::Bind(options, registry);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
}

TEST(GrpcListenerTest, ShedsConnectionsAboveTheBoundAndServesAgainWhenOneCloses) {
  GrpcServerOptions options = LocalOptions();
  options.listener.max_connections = 2;
  TestServer test(options);
  ASSERT_TRUE(test.server);
  // Two served connections, each with a call done.
  std::vector<std::shared_ptr<grpc::Channel>> held = {NewChannel(test.target()), NewChannel(test.target())};
  for (auto& channel : held) {
    auto answer = CheckHealth(*channel, kLivenessService, absl::Seconds(5));
    ASSERT_TRUE(answer.ok()) << answer.status();
  }
  EXPECT_EQ(test.server->listener().live_connections(), 2);

  // A third is accepted and closed at once: its client learns promptly.
  int third = testing::ConnectLoopback(test.server->port());
  ASSERT_GE(third, 0);
  EXPECT_TRUE(AnsweredByServer(third, absl::Seconds(5)));
  close(third);
  EXPECT_GE(MetricValue(test.registry, "herald_grpc_connections_shed_total"), 1);
  EXPECT_EQ(CheckHealth(*NewChannel(test.target()), kLivenessService, absl::Seconds(1)).status().code(),
            absl::StatusCode::kUnavailable);

  // One leaves: the next new connection is served.
  held.pop_back();
  EXPECT_TRUE(ServesWithin(test.target(), absl::Seconds(10)));
}

// Fills every fd slot of this process, so accept4 fails EMFILE: the
// listener must shed the waiting clients (they see a close, not a hang)
// and serve again once fds are free. (gRPC's threads may free an fd of
// their own meanwhile, and a client then gets served instead: either way
// no client is left waiting.)
TEST(GrpcListenerTest, SurvivesAFullFileDescriptorTable) {
  TestServer test(LocalOptions());
  ASSERT_TRUE(test.server);
  ASSERT_TRUE(ServesWithin(test.target(), absl::Seconds(5)));

  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  // Client sockets first: connect() needs no new fd once the table is full.
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    clients.push_back(fd);
  }
  int highest = *std::max_element(clients.begin(), clients.end());
  rlimit lowered = original;
  lowered.rlim_cur = static_cast<rlim_t>(highest + 64);
  std::vector<int> fillers;
  absl::Cleanup restore = [&] {
    for (int fd : fillers) close(fd);
    for (int fd : clients) close(fd);
    setrlimit(RLIMIT_NOFILE, &original);
  };
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  for (int fd; (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
  ASSERT_EQ(errno, EMFILE);

  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(test.server->port()));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int fd : clients) ASSERT_EQ(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  for (int fd : clients) EXPECT_TRUE(AnsweredByServer(fd, absl::Seconds(5), /*or_served=*/true));
  EXPECT_GE(MetricValue(test.registry, "herald_grpc_accept_errors_total", "emfile"), 1);
  EXPECT_GE(MetricValue(test.registry, "herald_grpc_connections_shed_total"), 1);

  std::move(restore).Invoke();
  EXPECT_TRUE(ServesWithin(test.target(), absl::Seconds(5)));
}

TEST(GrpcListenerTest, RaisesTheSoftOpenFileLimitToTheHardLimit) {
  rlimit original{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &original), 0);
  absl::Cleanup restore = [&] { setrlimit(RLIMIT_NOFILE, &original); };
  rlimit lowered = original;
  lowered.rlim_cur = std::min<rlim_t>(original.rlim_max, 512);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &lowered), 0);
  auto raised = RaiseOpenFileLimit();
  ASSERT_TRUE(raised.ok()) << raised.status();
  EXPECT_EQ(raised->soft_before, lowered.rlim_cur);
  EXPECT_EQ(raised->hard, original.rlim_max);
  rlimit now{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &now), 0);
  EXPECT_EQ(now.rlim_cur, raised->soft);
  if (original.rlim_max != RLIM_INFINITY) {
    EXPECT_EQ(now.rlim_cur, original.rlim_max);
  }
}

}  // namespace
}  // namespace herald
