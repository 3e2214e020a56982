// The herald binary's settings and logs as an operator meets them: a bad
// setting from each source stops it with exit code 2 and a message naming
// the setting and the source; precedence and redaction as `herald flags`
// prints them; the README's table is the flag registry's; a running
// Herald's stderr is JSON lines, gRPC's own lines included.
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/support/redis_fixture.h"

extern char** environ;

namespace herald {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

std::string SourceDir() {
  const char* dir = std::getenv("HERALD_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string HeraldBinary() {
  const char* dir = std::getenv("HERALD_BINARY_DIR");
  return absl::StrCat(dir != nullptr ? dir : ".", "/runtime/herald");
}

// A herald process with its stdout and stderr on pipes.
class Herald {
 public:
  // Starts `herald args...` with this process's environment minus every
  // HERALD_* variable, plus `environment`.
  Herald(const std::vector<std::string>& args, const std::map<std::string, std::string>& environment) {
    std::vector<std::string> env;
    for (char** entry = environ; *entry != nullptr; ++entry) {
      if (!absl::StartsWith(*entry, "HERALD_")) env.emplace_back(*entry);
    }
    for (const auto& [name, value] : environment) env.push_back(absl::StrCat(name, "=", value));
    std::vector<std::string> argv = {HeraldBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(out[1], STDOUT_FILENO);  // dup2 clears O_CLOEXEC on the copies only
      dup2(err[1], STDERR_FILENO);
      std::vector<char*> argv_ptrs, env_ptrs;
      for (auto& arg : argv) argv_ptrs.push_back(arg.data());
      argv_ptrs.push_back(nullptr);
      for (auto& entry : env) env_ptrs.push_back(entry.data());
      env_ptrs.push_back(nullptr);
      execve(argv_ptrs[0], argv_ptrs.data(), env_ptrs.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    out_fd_ = out[0];
    err_fd_ = err[0];
  }

  ~Herald() {
    if (pid_ > 0 && exit_code_ == kRunning) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
  }

  // Reads both pipes until `done()` holds or both are closed; false if
  // `timeout` passed first.
  bool ReadUntil(const std::function<bool()>& done, absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    while (!done()) {
      std::vector<pollfd> fds;
      if (out_fd_ >= 0) fds.push_back({out_fd_, POLLIN, 0});
      if (err_fd_ >= 0) fds.push_back({err_fd_, POLLIN, 0});
      if (fds.empty()) return true;
      const int64_t left_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (left_ms <= 0) return false;
      if (poll(fds.data(), fds.size(), static_cast<int>(left_ms)) < 0) return false;
      for (const pollfd& fd : fds) {
        if ((fd.revents & (POLLIN | POLLHUP)) == 0) continue;
        char buffer[4096];
        ssize_t n = read(fd.fd, buffer, sizeof(buffer));
        std::string& sink = fd.fd == out_fd_ ? out_ : err_;
        if (n > 0) {
          sink.append(buffer, static_cast<size_t>(n));
        } else {
          close(fd.fd);
          (fd.fd == out_fd_ ? out_fd_ : err_fd_) = -1;
        }
      }
    }
    return true;
  }

  // Reads to the end of both pipes and reaps the process: its exit code,
  // or -1 if it did not end within `timeout` (then it is killed).
  int Wait(absl::Duration timeout = absl::Seconds(20)) {
    const absl::Time deadline = absl::Now() + timeout;
    ReadUntil([] { return false; }, timeout);
    while (exit_code_ == kRunning) {
      int status = 0;
      pid_t done = waitpid(pid_, &status, WNOHANG);
      if (done == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      } else if (absl::Now() > deadline) {
        return -1;
      } else {
        absl::SleepFor(absl::Milliseconds(10));  // polling waitpid, not waiting for an event
      }
    }
    return exit_code_;
  }

  void Signal(int signal) { kill(pid_, signal); }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  // Every stderr line parsed as JSON (a line that is not JSON fails the test).
  std::vector<json> JsonLines() const {
    std::vector<json> lines;
    for (absl::string_view line : absl::StrSplit(err_, '\n', absl::SkipEmpty())) {
      json parsed = json::parse(line, nullptr, /*allow_exceptions=*/false);
      EXPECT_TRUE(parsed.is_object()) << "not a JSON line: " << line;
      if (parsed.is_object()) lines.push_back(std::move(parsed));
    }
    return lines;
  }

 private:
  static constexpr int kRunning = -1000;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int err_fd_ = -1;
  int exit_code_ = kRunning;
  std::string out_;
  std::string err_;
};

// The messages of the error lines of `herald`'s stderr.
std::vector<std::string> ErrorMessages(const Herald& herald) {
  std::vector<std::string> messages;
  for (const json& line : herald.JsonLines()) {
    if (line.value("level", "") == "error") messages.push_back(line.value("message", ""));
  }
  return messages;
}

std::string WriteFile(const std::string& dir, const std::string& name, const std::string& text) {
  std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path) << text;
  return path;
}

const std::regex kTimeFormat(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");

TEST(ConfigurationTest, BadFlagStopsHeraldWithExitCode2) {
  Herald herald({"api", "--partitions=abc"}, {});
  ASSERT_EQ(herald.Wait(), 2) << herald.err();
  EXPECT_THAT(ErrorMessages(herald),
              ::testing::ElementsAre(
                  "--partitions=abc: invalid value for --partitions (expected a 32-bit whole number)"));
  EXPECT_EQ(herald.out(), "");
}

TEST(ConfigurationTest, BadEnvironmentVariableStopsHeraldWithExitCode2) {
  Herald herald({"api"}, {{"HERALD_PARTITIONS", "abc"}});
  ASSERT_EQ(herald.Wait(), 2) << herald.err();
  EXPECT_THAT(ErrorMessages(herald),
              ::testing::ElementsAre(
                  "HERALD_PARTITIONS=abc: invalid value for --partitions (expected a 32-bit whole number)"));
}

TEST(ConfigurationTest, BadConfigFileStopsHeraldWithExitCode2) {
  const std::string dir = testing::MakeTempDir("herald-config-");
  const std::string config = WriteFile(dir, "config.yaml", "partitons: 4\nlog_level: loud\n");
  Herald herald({"api"}, {{"HERALD_CONFIG", config}});
  ASSERT_EQ(herald.Wait(), 2) << herald.err();
  EXPECT_THAT(ErrorMessages(herald),
              ::testing::ElementsAre(
                  config + ":1: unknown setting 'partitons' (did you mean 'partitions'?)",
                  config + ":2: log_level=loud: invalid value for --log_level ('loud' is not one of debug, info, "
                           "warning, error)"));
}

TEST(ConfigurationTest, OutOfRangeSettingNamesWhereItCameFrom) {
  // Parses, but Herald refuses it at start: still exit code 2, and the
  // message says which source to fix.
  Herald herald({"api", "--log_format=text"}, {{"HERALD_PARTITIONS", "0"}});
  ASSERT_EQ(herald.Wait(), 2) << herald.err();
  EXPECT_THAT(herald.err(), ::testing::ContainsRegex(
                                "\\S+Z ERROR herald: --partitions: must be between 1 and 1024 \\(set by "
                                "HERALD_PARTITIONS\\) code=INVALID_ARGUMENT\n"));
}

TEST(ConfigurationTest, UnknownHeraldVariableIsAWarningNotAFailure) {
  Herald herald({"flags"}, {{"HERALD_PARTITONS", "8"}, {"HERALD_API_KEY", "heraldctl's"}});
  ASSERT_EQ(herald.Wait(), 0) << herald.err();
  std::vector<json> lines = herald.JsonLines();
  ASSERT_EQ(lines.size(), 1u) << herald.err();
  EXPECT_EQ(lines[0]["level"], "warning");
  EXPECT_EQ(lines[0]["component"], "settings");
  EXPECT_EQ(lines[0]["message"],
            "HERALD_PARTITONS is not a Herald setting; ignored (did you mean HERALD_PARTITIONS?)");
  EXPECT_THAT(herald.out(), ::testing::ContainsRegex("\n--partitions=4 +default\n"));
}

TEST(ConfigurationTest, CommandLineBeatsEnvironmentBeatsConfigFileAndSecretsStayHidden) {
  const std::string dir = testing::MakeTempDir("herald-config-");
  const std::string config = WriteFile(dir, "herald.yaml",
                                       "partitions: 5\nbatcher_threads: 3\nfanout_threads: 3\n"
                                       "redis: redis://app:file-secret@db:1\nchannels: [email, sms]\n");
  Herald herald({"flags", "--config=" + config, "--partitions=7"},
                {{"HERALD_PARTITIONS", "6"},
                 {"HERALD_FANOUT_THREADS", "4"},
                 {"HERALD_REDIS_URL", "redis://app:env-secret@db:2"}});
  ASSERT_EQ(herald.Wait(), 0) << herald.err();
  const std::string& out = herald.out();
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--partitions=7 +command line\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--fanout_threads=4 +HERALD_FANOUT_THREADS\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--batcher_threads=3 +" + config + "\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--channels=email,sms +" + config + "\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--redis=redis://app:<redacted>@db:2 +HERALD_REDIS_URL\n"));
  EXPECT_THAT(out, ::testing::ContainsRegex("\n--config=" + config + " +command line\n"));
  EXPECT_THAT(out + herald.err(), Not(HasSubstr("secret@")));
}

TEST(ConfigurationTest, ReadmeTableIsTheFlagRegistry) {
  Herald herald({"flags", "--markdown"}, {});
  ASSERT_EQ(herald.Wait(), 0) << herald.err();
  std::ifstream file(SourceDir() + "/README.md");
  std::stringstream readme;
  readme << file.rdbuf();
  const std::string text = readme.str();
  const std::string begin =
      "<!-- settings table: generated by scripts/settings-table from `herald flags --markdown`; do not edit -->\n";
  const std::string end = "<!-- end of settings table -->\n";
  const size_t from = text.find(begin);
  const size_t to = text.find(end);
  ASSERT_NE(from, std::string::npos) << "README.md lost the settings table's begin marker";
  ASSERT_NE(to, std::string::npos) << "README.md lost the settings table's end marker";
  const std::string table = text.substr(from + begin.size(), to - from - begin.size());
  EXPECT_EQ(table, herald.out())
      << "README.md's settings table differs from `herald flags --markdown`: a flag was added or changed. "
         "Regenerate the table with scripts/settings-table and commit README.md.";
  EXPECT_THAT(herald.out(), HasSubstr("| `--partitions` | `HERALD_PARTITIONS` | `4` |"));
}

TEST(ConfigurationTest, RunningHeraldLogsJsonLines) {
  const std::string dir = testing::MakeTempDir("herald-logs-");
  Herald herald({"all", "--data_dir=" + dir, "--workflows=" + SourceDir() + "/examples/workflows",
                 "--grpc_address=127.0.0.1:0", "--metrics_address="},
                {});
  ASSERT_TRUE(herald.ReadUntil([&] { return absl::StrContains(herald.out(), "\n"); }, absl::Seconds(30)))
      << herald.err();
  std::smatch port;
  ASSERT_TRUE(std::regex_search(herald.out(), port, std::regex("gRPC on port (\\d+)"))) << herald.out();
  herald.Signal(SIGTERM);
  ASSERT_EQ(herald.Wait(), 0) << herald.err();

  std::vector<std::string> messages;
  for (const json& line : herald.JsonLines()) {
    ASSERT_TRUE(line.contains("time") && line.contains("level") && line.contains("component") &&
                line.contains("message"))
        << line.dump();
    EXPECT_TRUE(std::regex_match(line["time"].get<std::string>(), kTimeFormat)) << line.dump();
    if (line["component"] != "herald") continue;
    messages.push_back(line["message"]);
    if (line["message"] == "started") {
      EXPECT_EQ(line["grpc_port"], std::stoi(port[1])) << line.dump();
      EXPECT_EQ(line["roles"], "all");
    }
    if (line["message"] == "starting") {
      EXPECT_THAT(line["settings"].get<std::string>(), HasSubstr("--grpc_address=127.0.0.1:0 (command line)"));
    }
  }
  ASSERT_GE(messages.size(), 6u) << herald.err();
  EXPECT_EQ(messages[0], "starting");
  EXPECT_EQ(messages[1], "open-file limit raised");
  EXPECT_EQ(messages[2], "started");
  EXPECT_THAT(messages[3], ::testing::StartsWith("SIGTERM: draining"));
  EXPECT_THAT(messages[messages.size() - 2], ::testing::StartsWith("drain: finished in "));
  EXPECT_EQ(messages.back(), "stopped");
}

TEST(ConfigurationTest, GrpcLinesAreJsonLinesToo) {
  // A port already taken by the delivery service's listener (gRPC's own;
  // --grpc_address has Herald's accept loop, which binds without gRPC):
  // gRPC logs why it cannot bind, then Herald gives up.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));

  const std::string dir = testing::MakeTempDir("herald-logs-");
  Herald herald({"delivery", "--data_dir=" + dir, "--grpc_address=127.0.0.1:0", "--delivery_address=" + taken,
                 "--metrics_address="},
                {});
  EXPECT_EQ(herald.Wait(), 1) << herald.err();
  close(listener);
  bool grpc_line = false;
  for (const json& line : herald.JsonLines()) {
    if (line["component"] != "grpc") continue;
    grpc_line = true;
    EXPECT_EQ(line["level"], "error");
    EXPECT_THAT(line["message"].get<std::string>(), HasSubstr("Address already in use"));
    EXPECT_THAT(line["source"].get<std::string>(), ::testing::MatchesRegex("[a-z0-9_]+\\.cc:[0-9]+"));
  }
  EXPECT_TRUE(grpc_line) << herald.err();
  EXPECT_THAT(ErrorMessages(herald).back(),
              HasSubstr("--delivery_address " + taken + ": cannot listen (set on the command line)"));
}

}  // namespace
}  // namespace herald
