#include "tests/support/herald_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/redis_fixture.h"

extern char** environ;

namespace herald::testing {
namespace {

std::string UnderEnvDir(const char* variable, absl::string_view relative) {
  const char* dir = std::getenv(variable);
  return absl::StrCat(dir != nullptr ? dir : ".", "/", relative);
}

}  // namespace

std::string BinaryPath(absl::string_view relative) { return UnderEnvDir("HERALD_BINARY_DIR", relative); }

std::string SourcePath(absl::string_view relative) { return UnderEnvDir("HERALD_SOURCE_DIR", relative); }

HeraldProcess::HeraldProcess(std::vector<std::string> args, HeraldProcessOptions options)
    : options_(std::move(options)) {
  args.insert(args.begin(), options_.program.empty() ? BinaryPath("runtime/herald") : options_.program);
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const absl::string_view name = absl::string_view(*entry).substr(0, absl::string_view(*entry).find('='));
    if (options_.drop_herald_env && absl::StartsWith(name, "HERALD_")) continue;
    if (options_.env.count(std::string(name)) != 0) continue;
    env.emplace_back(*entry);
  }
  for (const auto& [name, value] : options_.env) env.push_back(absl::StrCat(name, "=", value));

  // Files rather than pipes: nothing blocks when a test reads no output,
  // and what the process wrote is all there once it is reaped.
  output_dir_ = MakeTempDir("herald-process-");
  if (output_dir_.empty()) {
    ADD_FAILURE() << "no temp dir for " << args[0] << "'s output";
    return;
  }
  const int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int out = open((output_dir_ + "/stdout").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  const int err = open((output_dir_ + "/stderr").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  // Everything the child needs is made before fork: between fork and exec
  // only async-signal-safe calls (the test may run other threads).
  std::vector<char*> argv, envp;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  for (std::string& entry : env) envp.push_back(entry.data());
  envp.push_back(nullptr);
  const rlimit limit{options_.open_file_limit, options_.open_file_limit};
  const pid_t parent = getpid();
  if (devnull >= 0 && out >= 0 && err >= 0) pid_ = fork();
  if (pid_ == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    dup2(devnull, STDIN_FILENO);  // dup2 clears O_CLOEXEC on the copies only
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    // Nothing of the test's own (held sockets, gRPC's fds) goes with it,
    // nor counts against its open-file limit.
    close_range(3, ~0U, 0);
    if (options_.open_file_limit > 0) setrlimit(RLIMIT_NOFILE, &limit);
    execvpe(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  for (int fd : {devnull, out, err}) {
    if (fd >= 0) close(fd);
  }
  if (pid_ < 0) ADD_FAILURE() << "could not start " << args[0];
}

HeraldProcess::~HeraldProcess() {
  if (started() && !Exited()) {
    if (options_.stop_grace > absl::ZeroDuration()) {
      Signal(SIGTERM);
      WaitForExit(options_.stop_grace);
    }
    if (!Exited()) {
      Signal(SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  std::error_code ignored;
  if (!output_dir_.empty()) std::filesystem::remove_all(output_dir_, ignored);
}

bool HeraldProcess::Signal(int signal) { return started() && kill(pid_, signal) == 0; }

bool HeraldProcess::Freeze() {
  if (!started() || wait_status_ || kill(pid_, SIGSTOP) != 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WUNTRACED) != pid_) return false;
  if (WIFSTOPPED(status)) return true;
  wait_status_ = status;
  return false;
}

std::optional<int> HeraldProcess::Exited() {
  if (started() && !wait_status_) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) wait_status_ = status;
  }
  return wait_status_;
}

std::optional<int> HeraldProcess::WaitForExit(absl::Duration timeout) {
  // Polling waitpid (there is no event to wait on with a timeout).
  const absl::Time give_up = absl::Now() + timeout;
  while (started() && !Exited() && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(2));
  return Exited();
}

int HeraldProcess::ExitCode(absl::Duration timeout) {
  std::optional<int> status = WaitForExit(timeout);
  if (!status) return -1;
  return WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
}

std::string HeraldProcess::out() const { return ReadFile(output_dir_ + "/stdout"); }

std::string HeraldProcess::err() const { return ReadFile(output_dir_ + "/stderr"); }

std::string HeraldProcess::Log() const { return out() + err(); }

bool HeraldProcess::WaitForOutput(absl::string_view text, absl::Duration timeout) {
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    if (absl::StrContains(Log(), text)) return true;
    if (Exited()) return absl::StrContains(Log(), text);
    absl::SleepFor(absl::Milliseconds(5));
  }
  return false;
}

int HeraldProcess::WaitForPort(absl::Duration timeout) {
  const std::string kMarker = "gRPC on port ";
  const absl::Time give_up = absl::Now() + timeout;
  while (absl::Now() < give_up) {
    const std::string out = this->out();
    const size_t at = out.find(kMarker);
    // Complete once something follows the digits (the line may be read
    // while it is being written).
    const size_t end = at == std::string::npos ? at : out.find_first_not_of("0123456789", at + kMarker.size());
    if (end != std::string::npos) {
      int port = 0;
      return absl::SimpleAtoi(out.substr(at + kMarker.size(), end - at - kMarker.size()), &port) ? port : 0;
    }
    if (!running()) return 0;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return 0;
}

std::vector<nlohmann::json> HeraldProcess::JsonLines() const {
  std::vector<nlohmann::json> lines;
  for (absl::string_view line : absl::StrSplit(err(), '\n', absl::SkipEmpty())) {
    nlohmann::json parsed = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(parsed.is_object()) << "not a JSON line: " << line;
    if (parsed.is_object()) lines.push_back(std::move(parsed));
  }
  return lines;
}

int64_t HeraldProcess::RssKiB() const {
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

CommandResult RunCommand(const std::string& command) {
  CommandResult result;
  FILE* pipe = popen(absl::StrCat(command, " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[4096];
  size_t read;
  while ((read = fread(buffer, 1, sizeof(buffer), pipe)) > 0) result.output.append(buffer, read);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandResult RunHeraldctl(const std::string& args, const std::string& environment) {
  return RunCommand(
      absl::StrCat(environment.empty() ? "" : "env " + environment + " ", BinaryPath("cli/heraldctl"), " ", args));
}

}  // namespace herald::testing
