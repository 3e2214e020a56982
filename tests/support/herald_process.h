// A program a test runs as a child process — the herald binary unless told
// otherwise — with what the multi-process tests do to it in one place:
// start it (extra environment, an open-file limit), collect its stdout and
// stderr, wait for its "gRPC on port N" ready line, signal or freeze it,
// wait for its exit with a timeout, read its JSON log lines, and stop and
// reap it when the test is done with it. Also: where the build put the
// binaries, and shell commands (heraldctl, promtool) run to completion.
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace herald::testing {

// $HERALD_BINARY_DIR/<relative> (ctest sets the variable; "." without it),
// e.g. BinaryPath("runtime/herald").
std::string BinaryPath(absl::string_view relative);
// $HERALD_SOURCE_DIR/<relative> ("." without it).
std::string SourcePath(absl::string_view relative);

struct HeraldProcessOptions {
  // What to run: a path, or a name looked up on PATH. Empty: the herald
  // binary (BinaryPath("runtime/herald")).
  std::string program;
  // Set in the child's environment, over the test's own.
  std::map<std::string, std::string> env;
  // Leaves every HERALD_* variable of the test's environment out (ctest
  // sets HERALD_BINARY_DIR and HERALD_SOURCE_DIR, which herald would warn
  // about as unknown settings); `env` still applies.
  bool drop_herald_env = false;
  // RLIMIT_NOFILE, soft and hard (so raising the soft limit to the hard one
  // cannot escape it); 0 leaves the test's limit.
  rlim_t open_file_limit = 0;
  // How the destructor stops a process that still runs: SIGTERM, then
  // SIGKILL once this much time has passed (zero: SIGKILL at once).
  absl::Duration stop_grace = absl::ZeroDuration();
};

// Not thread-safe: one test thread drives it. The child gets stdin from
// /dev/null, none of the test's other file descriptors, and SIGKILL should
// the thread that started it die first (PR_SET_PDEATHSIG).
class HeraldProcess {
 public:
  // Starts `program args...`; started() says whether it could be forked.
  explicit HeraldProcess(std::vector<std::string> args, HeraldProcessOptions options = {});
  // Stops a process that still runs (see stop_grace), reaps it, and
  // removes the captured output.
  ~HeraldProcess();
  HeraldProcess(const HeraldProcess&) = delete;
  HeraldProcess& operator=(const HeraldProcess&) = delete;

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  // kill(2): true when the signal was sent.
  bool Signal(int signal);
  // SIGSTOP, then waits until the process has stopped: false when it
  // exited instead. Signal(SIGCONT) resumes it.
  bool Freeze();

  // The wait status (as waitpid(2) gives it: WIFEXITED, WEXITSTATUS, ...)
  // once the process has exited; nullopt while it runs.
  std::optional<int> Exited();
  bool running() { return started() && !Exited().has_value(); }
  // Polls until the process exits; nullopt when it still runs at `timeout`.
  std::optional<int> WaitForExit(absl::Duration timeout);
  // The exit code once it exits (128 + the signal when a signal ended it),
  // or -1 when it still runs at `timeout`.
  int ExitCode(absl::Duration timeout = absl::Seconds(20));

  // What it wrote so far to stdout, to stderr, and both (stdout first).
  std::string out() const;
  std::string err() const;
  std::string Log() const;
  // Polls stdout and stderr for `text`: false at `timeout`, or when the
  // process exited without writing it.
  bool WaitForOutput(absl::string_view text, absl::Duration timeout);
  // The port of the ready line "... gRPC on port N ..." on stdout (herald
  // prints it once every role runs), or 0 when it did not come within
  // `timeout`.
  int WaitForPort(absl::Duration timeout);
  // Every stderr line parsed as JSON; a line that is not JSON fails the
  // test (and is left out).
  std::vector<nlohmann::json> JsonLines() const;
  // Resident memory in KiB (VmRSS), -1 when unknown.
  int64_t RssKiB() const;

 private:
  // Constant after construction.
  const HeraldProcessOptions options_;
  std::string output_dir_;  // holds the files "stdout" and "stderr"
  pid_t pid_ = -1;

  std::optional<int> wait_status_;
};

// What a command wrote (stdout and stderr together) and its exit code (-1
// when it did not exit normally or could not run).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

// Runs `command` with /bin/sh, stderr into stdout, to completion.
CommandResult RunCommand(const std::string& command);

// heraldctl with `args` (shell words, so quoting applies). `environment`:
// arguments of env(1) before heraldctl, e.g. "HERALD_TLS_CA_FILE=/x" or
// "-u HERALD_API_KEY".
CommandResult RunHeraldctl(const std::string& args, const std::string& environment = "");

}  // namespace herald::testing
