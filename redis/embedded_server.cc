#include "redis/embedded_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace herald::redis {
namespace {

// A TCP port of 127.0.0.1 that nothing listens on right now.
absl::StatusOr<int> PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::ResourceExhaustedError("cannot open a socket to pick a port");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  int port = -1;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  close(fd);
  if (port <= 0) return absl::UnavailableError("no free port for redis-server");
  return port;
}

// Assigns every hash slot to the (only) node and waits for cluster_state:ok.
absl::Status TakeEverySlot(const Endpoint& endpoint) {
  auto client = ConnectRedis(endpoint);
  if (!client.ok()) return client.status();
  auto added = (*client)->Execute({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"});
  if (!added.ok()) return added.status();
  absl::Time give_up = absl::Now() + absl::Seconds(15);
  while (absl::Now() < give_up) {
    auto info = (*client)->Execute({"CLUSTER", "INFO"});
    if (info.ok() && info->str.find("cluster_state:ok") != std::string::npos) return absl::OkStatus();
    usleep(10 * 1000);
  }
  return absl::DeadlineExceededError("redis cluster did not reach cluster_state:ok");
}

}  // namespace

absl::StatusOr<std::unique_ptr<EmbeddedServer>> EmbeddedServer::Start(const EmbeddedServerOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create redis data dir ", options.data_dir, ": ", error.message()));
  }
  std::string dir = std::filesystem::absolute(options.data_dir).string();
  std::string socket = absl::StrCat(dir, "/redis.sock");
  int port = options.tcp_port;
  if (options.single_node_cluster && port == 0) {
    auto free_port = PickFreePort();
    if (!free_port.ok()) return free_port.status();
    port = *free_port;
  }
  std::vector<std::string> args = {
      options.redis_server_binary,
      "--port", std::to_string(port),
      "--bind", "127.0.0.1",
      "--unixsocket", socket,
      "--unixsocketperm", "700",
      "--dir", dir,
      "--appendonly", options.append_only ? "yes" : "no",
      "--appendfsync", "everysec",
      "--save", "",
      "--daemonize", "no",
      "--logfile", absl::StrCat(dir, "/redis.log"),
      "--protected-mode", "yes",
  };
  if (options.single_node_cluster) {
    auto bus_port = PickFreePort();
    if (!bus_port.ok()) return bus_port.status();
    for (const char* arg : {"--cluster-enabled", "yes", "--cluster-config-file"}) args.push_back(arg);
    args.push_back(absl::StrCat(dir, "/nodes.conf"));
    args.push_back("--cluster-port");
    args.push_back(std::to_string(*bus_port));
  }
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::ResourceExhaustedError("fork failed for redis-server");
  if (pid == 0) {
    // Die with the parent so a crashed Herald never leaves Redis behind
    // (SIGTERM: Redis still fsyncs its AOF on the way out).
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
    // Out of Herald's process group: a Ctrl-C in a terminal signals the
    // whole foreground group, and Redis must outlive Herald's drain (which
    // ends by shutting it down), not stop under the workers still writing.
    setpgid(0, 0);
    // The parent may block signals for its own signal thread; the mask is
    // inherited across exec, and redis must see SIGTERM.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, STDIN_FILENO);
      dup2(devnull, STDOUT_FILENO);
    }
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  Endpoint endpoint;
  endpoint.unix_socket = socket;
  std::unique_ptr<EmbeddedServer> server(new EmbeddedServer(pid, endpoint));
  absl::Status ready = WaitForRedis(endpoint, absl::Seconds(15));
  if (!ready.ok()) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      server->pid_ = -1;
      return absl::FailedPreconditionError(absl::StrCat(
          "redis-server exited at start (is it installed? see ", dir, "/redis.log): ", ready.message()));
    }
    return ready;
  }
  if (options.single_node_cluster) {
    absl::Status cluster = TakeEverySlot(endpoint);
    if (!cluster.ok()) return cluster;
  }
  return server;
}

namespace {

// Polls waitpid until `pid` exits or `timeout` passes; true with its
// status when it exited.
bool WaitForExit(pid_t pid, absl::Duration timeout, int* status) {
  absl::Time give_up = absl::Now() + timeout;
  while (true) {
    if (waitpid(pid, status, WNOHANG) == pid) return true;
    if (absl::Now() >= give_up) return false;
    usleep(5 * 1000);
  }
}

}  // namespace

absl::Status EmbeddedServer::Shutdown(absl::Duration timeout) {
  if (pid_ <= 0) return absl::OkStatus();
  // SHUTDOWN rather than a signal, so a refusal comes back with its reason.
  absl::Status refused;
  ClientOptions client_options;
  client_options.connect_timeout = absl::Seconds(1);
  client_options.command_timeout = timeout;
  auto client = ConnectRedis(endpoint_, client_options);
  if (client.ok()) {
    // A clean shutdown closes the connection without a reply (UNAVAILABLE).
    auto reply = (*client)->Execute({"SHUTDOWN"});
    if (reply.ok()) {
      refused = absl::InternalError("redis-server answered SHUTDOWN and kept running");
    } else if (reply.status().code() != absl::StatusCode::kUnavailable) {
      refused = reply.status();
    }
  }
  // Redis shuts down the same way on SIGTERM: the fallback when the
  // command could not be sent or was refused.
  if (!client.ok() || !refused.ok()) kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitForExit(pid_, timeout, &status)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return absl::DeadlineExceededError(absl::StrCat(
        "redis-server did not exit within ", absl::FormatDuration(timeout),
        " of SHUTDOWN and was killed; its last second of writes may be lost",
        refused.ok() ? "" : absl::StrCat(" (", refused.message(), ")")));
  }
  pid_ = -1;
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return absl::OkStatus();
  std::string how = WIFEXITED(status) ? absl::StrCat("exited with status ", WEXITSTATUS(status))
                                      : absl::StrCat("was killed by signal ", WTERMSIG(status));
  if (!refused.ok()) absl::StrAppend(&how, " after refusing SHUTDOWN: ", refused.message());
  return absl::InternalError(absl::StrCat("redis-server ", how));
}

void EmbeddedServer::Stop() { Shutdown(absl::Seconds(10)).IgnoreError(); }

EmbeddedServer::~EmbeddedServer() { Stop(); }

}  // namespace herald::redis
