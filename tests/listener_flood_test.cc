// A connection flood against the real herald binary with a small open-file
// limit (RLIMIT_NOFILE 256, soft and hard, so raising to the hard limit
// cannot escape it): many clients open a connection, send a few bytes and
// close, while more than the limit's worth of silent connections are held
// open. Afterwards a normal Trigger and a health call on a new connection
// must succeed within seconds, with the process still up. The same flood
// against a plain gRPC server (gRPC's own listener) wedges it for good:
// that is what the flood is strong enough to do.
#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/grpcpp.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "herald/v1/herald.grpc.pb.h"
#include "runtime/health.h"
#include "tests/support/redis_fixture.h"

namespace herald {
namespace {

constexpr rlim_t kOpenFileLimit = 256;
// More silent connections than the limit: an unprotected server's fd table
// fills with them.
constexpr int kHeld = 300;
constexpr int kFloodThreads = 6;
constexpr absl::Duration kFloodTime = absl::Seconds(2);
constexpr int kFloodMaxConnections = 20'000;

std::string BinaryPath(const std::string& relative) {
  const char* binary_dir = std::getenv("HERALD_BINARY_DIR");
  return absl::StrCat(binary_dir != nullptr ? binary_dir : ".", "/", relative);
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

// A server process under RLIMIT_NOFILE kOpenFileLimit; killed at the end.
class Server {
 public:
  explicit Server(std::vector<std::string> args) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // Only async-signal-safe calls between fork and exec.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(out[1], STDOUT_FILENO);
      // Nothing of the test's own fds counts against the child's limit.
      close_range(3, ~0U, 0);
      rlimit limit{kOpenFileLimit, kOpenFileLimit};
      setrlimit(RLIMIT_NOFILE, &limit);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    // The first line names the port ("... gRPC on port N ...").
    std::string line;
    absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (absl::Now() < give_up && line.find('\n') == std::string::npos) {
      pollfd readable{out[0], POLLIN, 0};
      if (poll(&readable, 1, 200) <= 0) continue;
      char buffer[256];
      ssize_t n = read(out[0], buffer, sizeof(buffer));
      if (n <= 0) break;
      line.append(buffer, static_cast<size_t>(n));
    }
    close(out[0]);
    size_t at = line.find("gRPC on port ");
    if (at != std::string::npos) port_ = std::atoi(line.c_str() + at + 13);
  }
  ~Server() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }

  int port() const { return port_; }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  bool running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Resident memory in KiB (VmRSS), -1 when unknown.
  int64_t RssKiB() const {
    std::ifstream status(absl::StrCat("/proc/", pid_, "/status"));
    std::string key;
    int64_t value = -1;
    while (status >> key) {
      if (key == "VmRSS:") {
        status >> value;
        break;
      }
      status.ignore(1 << 16, '\n');
    }
    return value;
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

int Connect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // A full backlog drops SYNs: bound the connect (SO_SNDTIMEO covers it).
  timeval timeout{1, 0};
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
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
        int fd = Connect(port);
        if (fd < 0) continue;
        ++opened;
        static constexpr char kBytes[] = "GET / HTTP/1.1\r\n\r\n";
        (void)!send(fd, kBytes, sizeof(kBytes) - 1, MSG_NOSIGNAL);
        close(fd);
      }
    });
  }
  for (int i = 0; i < kHeld && absl::Now() < stop; ++i) {
    int fd = Connect(port);
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

std::string Scrape(int port) {
  int fd = Connect(port);
  if (fd < 0) return "";
  static constexpr char kRequest[] = "GET /metrics HTTP/1.0\r\n\r\n";
  (void)!send(fd, kRequest, sizeof(kRequest) - 1, MSG_NOSIGNAL);
  std::string body;
  char buffer[4096];
  for (ssize_t n; (n = read(fd, buffer, sizeof(buffer))) > 0;) body.append(buffer, static_cast<size_t>(n));
  close(fd);
  return body;
}

// `series`: a metric name with its labels as Prometheus prints them.
double Metric(const std::string& scrape, const std::string& name) {
  size_t at = scrape.find("\n" + name + " ");
  double value = -1;
  if (at != std::string::npos) {
    size_t start = at + name.size() + 2;
    (void)absl::SimpleAtod(scrape.substr(start, scrape.find('\n', start) - start), &value);
  }
  return value;
}

class ListenerFloodTest : public testing::RedisTest {};

TEST_F(ListenerFloodTest, HeraldAcceptsAgainWithinSecondsAfterAFlood) {
  std::string workflows = testing::MakeTempDir("herald-flood-workflows-");
  std::ofstream(workflows + "/direct.yaml") << R"(
key: direct
steps:
  - {ref: feed, type: channel, channel_type: in_app_feed, template: {markdown: "{{ data.n }}"}}
)";
  const int metrics_port = FreePort();
  Server herald({BinaryPath("runtime/herald"), "api", "--redis=" + endpoint().ToString(), "--workflows=" + workflows,
                 "--grpc_address=127.0.0.1:0", absl::StrCat("--metrics_address=127.0.0.1:", metrics_port)});
  ASSERT_GT(herald.port(), 0) << "herald did not start";
  ASSERT_TRUE(FreshTrigger(herald.target()).ok());
  const int64_t rss_before = herald.RssKiB();

  std::vector<int> held;
  FloodResult flood = Flood(herald.port(), &held);
  const absl::Time flood_end = absl::Now();
  EXPECT_GT(flood.connections, 1000) << "the flood was too weak to mean anything";
  EXPECT_GT(flood.held, static_cast<int>(kOpenFileLimit) / 2);

  // Served again within seconds, the held connections still open: a
  // Trigger and a health call, each on a new connection.
  bool triggered = false;
  absl::Time give_up = flood_end + absl::Seconds(15);
  while (!triggered && absl::Now() < give_up) {
    triggered = FreshTrigger(herald.target()).ok();
    if (!triggered) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const absl::Duration recovery = absl::Now() - flood_end;
  EXPECT_TRUE(triggered) << "no Trigger succeeded within 15 s of the flood";
  auto health = FreshHealthCheck(herald.target(), kLivenessService, absl::Seconds(5));
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, ServingStatus::kServing);
  EXPECT_TRUE(herald.running());
  for (int fd : held) close(fd);

  const std::string scrape = Scrape(metrics_port);
  const int64_t rss_after = herald.RssKiB();
  std::cout << "flood: " << flood.connections << " connections, " << flood.held << " held; served again after "
            << absl::FormatDuration(recovery) << "; shed " << Metric(scrape, "herald_grpc_connections_shed_total{listener=\"grpc\"}")
            << "; RSS " << rss_before << " KiB -> " << rss_after << " KiB" << std::endl;
  // More connections than the fd table holds: some had to be shed.
  EXPECT_GT(Metric(scrape, "herald_grpc_connections_shed_total{listener=\"grpc\"}"), 0);
  EXPECT_LT(rss_after - rss_before, 100 * 1024) << "a flood must not grow the process without bound";
  RecordProperty("rss_before_kib", std::to_string(rss_before));
  RecordProperty("rss_after_kib", std::to_string(rss_after));
}

TEST(PlainGrpcServerFloodTest, TheSameFloodWedgesGrpcsOwnListener) {
  Server plain({BinaryPath("tests/plain_grpc_server")});
  ASSERT_GT(plain.port(), 0) << "plain_grpc_server did not start";
  auto before = FreshHealthCheck(plain.target(), "", absl::Seconds(5));
  ASSERT_TRUE(before.ok()) << before.status();

  std::vector<int> held;
  Flood(plain.port(), &held);
  for (int fd : held) close(fd);
  // Even with every held connection gone, no new connection is served.
  absl::Time until = absl::Now() + absl::Seconds(2);
  int served = 0;
  while (absl::Now() < until) {
    if (FreshHealthCheck(plain.target(), "", absl::Milliseconds(300)).ok()) ++served;
  }
  EXPECT_EQ(served, 0) << "the flood did not wedge gRPC's own listener: the herald test above proves nothing";
  EXPECT_TRUE(plain.running());
}

}  // namespace
}  // namespace herald
