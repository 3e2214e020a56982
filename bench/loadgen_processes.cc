#include "bench/loadgen_processes.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "tests/support/loopback.h"

namespace herald::bench {
namespace {

using herald::testing::FreeLoopbackPort;
using herald::testing::HttpGet;

// Forks `args` with its stdout on a pipe (and `stdin_fd`, when given, its
// stdin on another whose write end is returned there). The child dies with
// loadgen. Returns the pid and the read end of stdout, or -1 pids.
std::pair<pid_t, int> Spawn(const std::vector<std::string>& args, int* stdin_fd = nullptr) {
  int in[2] = {-1, -1}, out[2];
  if (pipe(out) != 0 || (stdin_fd != nullptr && pipe(in) != 0)) return {-1, -1};
  const pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed load generator
    if (stdin_fd != nullptr) {
      dup2(in[0], STDIN_FILENO);
      close(in[1]);
    }
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& arg : copy) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  if (stdin_fd != nullptr) {
    close(in[0]);
    *stdin_fd = in[1];
  }
  return {pid, out[0]};
}

void Terminate(pid_t& pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  int status;
  waitpid(pid, &status, 0);
  pid = -1;
}

// Starts `args` and reads its first line. Returns nullptr (after saying why)
// when it does not start.
std::unique_ptr<Sink> StartSink(const std::vector<std::string>& args) {
  auto sink = std::make_unique<Sink>();
  auto [pid, out] = Spawn(args, &sink->stdin_fd);
  sink->pid = pid;
  FILE* stream = out >= 0 ? fdopen(out, "r") : nullptr;
  char line[512];
  if (stream == nullptr || fgets(line, sizeof(line), stream) == nullptr) {
    std::cerr << "loadgen: " << args[0] << " " << args[1] << " did not start" << std::endl;
    return nullptr;
  }
  fclose(stream);  // the sink writes nothing more
  auto first = nlohmann::json::parse(line, nullptr, false);
  if (!first.is_object() || !first.contains("port")) {
    std::cerr << "loadgen: unexpected first line from " << args[1] << ": " << line << std::endl;
    return nullptr;
  }
  sink->port = first["port"].get<int>();
  sink->stats_port = first.value("stats_port", sink->port);
  return sink;
}

// The bench workflow's steps: [batch,] in-app feed[, webhook][, email].
std::string WorkflowSteps(const HeraldSettings& settings) {
  std::string steps;
  if (settings.batch_window_ms > 0) {
    // One batch per recipient (no batch_key), no max_activities: a digest.
    absl::StrAppend(&steps, "  - ref: digest\n    type: batch\n    window: ", settings.batch_window_ms, "ms\n");
  }
  absl::StrAppend(&steps, R"(  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "{{ actor.name }} updated **{{ data.title }}** (#{{ data.n }}) for {{ recipient.name }}"
      action_url: "/items/{{ data.n }}"
)");
  if (settings.webhook_sink) {
    absl::StrAppend(&steps, "  - ref: hook\n    type: channel\n    channel_type: webhook\n    channel: hooks\n");
  }
  if (settings.smtp_sink) {
    absl::StrAppend(&steps, R"(  - ref: mail
    type: channel
    channel_type: email
    channel: mail
    template:
      subject: "{{ actor.name }} updated {{ data.title }}"
      markdown: "{{ actor.name }} updated **{{ data.title }}** (#{{ data.n }}) for {{ recipient.name }}"
)");
  }
  return steps;
}

}  // namespace

Sink::~Sink() {
  if (stdin_fd >= 0) close(stdin_fd);
  Terminate(pid);
}

std::optional<SinkStats> ReadSinkStats(const Sink& sink) {
  auto response = HttpGet(sink.stats_port, "/stats");
  if (!response || response->status != 200) return std::nullopt;
  auto json = nlohmann::json::parse(response->body, nullptr, false);
  if (!json.is_object()) return std::nullopt;
  SinkStats stats;
  stats.count = json.value("count", int64_t{0});
  stats.unique = json.value("unique", int64_t{0});
  stats.duplicates = json.value("duplicates", int64_t{0});
  stats.first_ms = json.value("first_ms", int64_t{0});
  stats.last_ms = json.value("last_ms", int64_t{0});
  return stats;
}

absl::StatusOr<std::string> OwnHerald::StartRedis() {
  char pattern[] = "/tmp/herald-bench-XXXXXX";
  if (mkdtemp(pattern) == nullptr) return absl::UnavailableError("mkdtemp /tmp/herald-bench-XXXXXX failed");
  dir_ = pattern;
  redis::EmbeddedServerOptions options;
  options.data_dir = dir_ + "/redis";
  options.append_only = true;  // as deployed: AOF everysec
  auto redis = redis::EmbeddedServer::Start(options);
  if (!redis.ok()) return redis.status();
  redis_ = std::move(*redis);
  return redis_->endpoint().ToString();
}

absl::StatusOr<std::string> OwnHerald::StartHerald(const HeraldSettings& settings) {
  const std::filesystem::path bench_dir = HERALD_BENCH_DIR;  // where the sinks' scripts are
  std::string channels;
  if (settings.webhook_sink) {
    webhook_sink_ = StartSink({"node", (bench_dir / "webhook_sink.js").string()});
    if (!webhook_sink_) return absl::UnavailableError("bench/webhook_sink.js did not start");
    absl::StrAppend(&channels, "  hooks:\n    type: webhook\n    provider: webhook\n",
                    "    options: {url: \"http://127.0.0.1:", webhook_sink_->port, "/hook\"}\n",
                    "    secrets: {signing_secret: {env: HERALD_BENCH_SECRET}}\n",
                    "    concurrency: ", settings.channel_concurrency, "\n");
    setenv("HERALD_BENCH_SECRET", "bench-signing-secret", 1);
  }
  if (settings.smtp_sink) {
    smtp_sink_ = StartSink({"/usr/bin/python3", (bench_dir / "smtp_sink.py").string()});
    if (!smtp_sink_) return absl::UnavailableError("bench/smtp_sink.py did not start");
    absl::StrAppend(&channels, "  mail:\n    type: email\n    provider: smtp\n",
                    "    options: {host: 127.0.0.1, port: ", smtp_sink_->port,
                    ", tls: none, from: \"Bench <bench@herald.test>\"}\n",
                    "    concurrency: ", settings.channel_concurrency, "\n");
  }
  std::filesystem::create_directories(dir_ + "/workflows");
  std::ofstream(dir_ + "/workflows/bench.yaml") << "key: bench\nsteps:\n" << WorkflowSteps(settings);
  std::vector<std::string> args = {settings.binary,
                                   "all",
                                   "--redis=" + redis_->endpoint().ToString(),
                                   "--workflows=" + dir_ + "/workflows",
                                   "--grpc_address=127.0.0.1:0",
                                   absl::StrCat("--partitions=", settings.partitions),
                                   absl::StrCat("--fanout_threads=", settings.fanout_threads)};
  if (!channels.empty()) {
    std::ofstream(dir_ + "/delivery.yaml") << "channels:\n" << channels;
    metrics_port_ = FreeLoopbackPort();
    args.push_back("--delivery_config=" + dir_ + "/delivery.yaml");
    args.push_back(absl::StrCat("--metrics_address=127.0.0.1:", metrics_port_));
    if (settings.dispatcher_threads > 0) {
      args.push_back(absl::StrCat("--dispatcher_threads=", settings.dispatcher_threads));
    }
  } else {
    args.push_back("--metrics_address=");
  }
  args.insert(args.end(), settings.extra_args.begin(), settings.extra_args.end());
  auto [pid, out] = Spawn(args);
  pid_ = pid;
  // Herald's first line names the bound port. The pipe stays open (and
  // unread) for the rest of the run.
  FILE* stream = out >= 0 ? fdopen(out, "r") : nullptr;
  char line[1024];
  if (stream == nullptr || fgets(line, sizeof(line), stream) == nullptr) {
    return absl::UnavailableError("herald did not start (see its errors above)");
  }
  const std::string text = line;
  const size_t at = text.find("gRPC on port ");
  if (at == std::string::npos) return absl::UnavailableError(absl::StrCat("unexpected first line of herald: ", text));
  return absl::StrCat("127.0.0.1:", std::atoi(text.c_str() + at + 13));
}

void OwnHerald::Stop() {
  Terminate(pid_);
  webhook_sink_.reset();
  smtp_sink_.reset();
  redis_.reset();
  std::error_code ignored;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  dir_.clear();
}

absl::StatusOr<nlohmann::json> RunPeer(const std::string& script, int64_t events, int recipients) {
  auto [pid, out] = Spawn({script, std::to_string(events), std::to_string(recipients)});
  if (pid < 0) return absl::InternalError(absl::StrCat("could not start ", script));
  std::string output;
  char buffer[4096];
  ssize_t n;
  while ((n = read(out, buffer, sizeof(buffer))) > 0) output.append(buffer, n);
  close(out);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::InternalError(absl::StrCat(script, " failed (status ", status, "): ", output));
  }
  std::optional<nlohmann::json> last;
  for (absl::string_view line : absl::StrSplit(output, '\n', absl::SkipWhitespace())) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object()) last = std::move(json);
  }
  if (!last || !last->contains("end_to_end_per_s")) {
    return absl::InternalError(absl::StrCat(script, " printed no JSON line with end_to_end_per_s: ", output));
  }
  return *last;
}

}  // namespace herald::bench
