#include "redis/embedded_server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"

namespace herald::redis {

absl::StatusOr<std::unique_ptr<EmbeddedServer>> EmbeddedServer::Start(const EmbeddedServerOptions& options) {
  std::error_code error;
  std::filesystem::create_directories(options.data_dir, error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create redis data dir ", options.data_dir, ": ", error.message()));
  }
  std::string dir = std::filesystem::absolute(options.data_dir).string();
  std::string socket = absl::StrCat(dir, "/redis.sock");
  std::vector<std::string> args = {
      options.redis_server_binary,
      "--port", std::to_string(options.tcp_port),
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
  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::ResourceExhaustedError("fork failed for redis-server");
  if (pid == 0) {
    // Die with the parent so a crashed Herald never leaves Redis behind.
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);
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
  return server;
}

void EmbeddedServer::Stop() {
  if (pid_ <= 0) return;
  kill(pid_, SIGTERM);
  int status = 0;
  // Redis flushes its AOF on SIGTERM; give it time, then insist.
  for (int i = 0; i < 1000; ++i) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return;
    }
    usleep(10 * 1000);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

EmbeddedServer::~EmbeddedServer() { Stop(); }

}  // namespace herald::redis
