// End-to-end load generator: by default starts its own redis-server and a
// Herald (all roles) on free loopback ports, identifies the recipients,
// drives Trigger over gRPC at a rate, waits until every feed item is in
// Redis, and prints one JSON line measured from Redis (not the client):
// triggers_per_s, notifications_per_s, p50_ms/p99_ms trigger -> feed item,
// lost, doubled, and the run's parameters. --addr/--redis target a running
// Herald instead. Before the triggers it drives the same number of bare
// unary calls (grpc.health.v1.Health/Check on the same server, same
// window) so the trigger rate is reported as a ratio measured in the same
// run, and while it runs a sleeping thread records how late the scheduler
// wakes it: on a shared machine those stalls set the latency tail.
//
// --webhook_sink / --smtp_sink add a webhook step (and/or an email step) to
// the bench workflow, start a local sink for it (bench/webhook_sink.js on
// Node, bench/smtp_sink.py on aiosmtpd) and give Herald a delivery config
// pointing at it. The run then also waits until every message reached its
// sink and reports, per channel, deliveries/s over the same window as the
// in-app rate (first trigger to last request the sink saw), the ratio to
// the in-app rate, lost and duplicated deliveries (counted by the sink per
// message id), Herald's delivery outcomes, and the delivery hop p50/p99
// (fan-out queued -> outcome recorded) from Herald's /metrics histogram.
#include <grpcpp/generic/generic_stub.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/ids.h"
#include "core/keys.h"
#include "herald/v1/herald.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"
#include "redis/embedded_server.h"
#include "tests/support/loopback.h"
#include "tests/support/scrape.h"

ABSL_FLAG(int, recipients_per_trigger, 1, "Recipients in each Trigger call");
ABSL_FLAG(int, triggers, 20000, "Trigger calls to send");
ABSL_FLAG(double, rate, 0, "Trigger calls per second; 0 = as fast as the window allows");
ABSL_FLAG(int, concurrency, 256, "Calls in flight at most");
ABSL_FLAG(std::string, addr, "", "Target a running Herald at HOST:PORT instead of starting one");
ABSL_FLAG(std::string, redis, "", "With --addr: that Herald's Redis (to count feed items)");
ABSL_FLAG(int, partitions, 4, "Partitions (must match the target Herald)");
ABSL_FLAG(std::string, herald_binary, "", "Path of the herald binary (default: next to this one)");
ABSL_FLAG(int, fanout_threads, 2, "Herald fan-out threads (own Herald only)");
ABSL_FLAG(int, timeout_s, 300, "Give up waiting for feed items after this long");
ABSL_FLAG(int, baseline_calls, 20000, "Bare unary calls (health check) to measure first; 0 = skip");
ABSL_FLAG(bool, webhook_sink, false,
          "Add a webhook step to the bench workflow and deliver it to a local HTTP sink (bench/webhook_sink.js)");
ABSL_FLAG(bool, smtp_sink, false,
          "Add an email step to the bench workflow and deliver it to a local SMTP server (bench/smtp_sink.py)");
ABSL_FLAG(int, channel_concurrency, 64, "With a sink: the channel's `concurrency` (exchanges in flight)");
ABSL_FLAG(int, dispatcher_threads, 0, "With a sink: Herald's --dispatcher_threads (0 = Herald's default)");

namespace {

using Clock = std::chrono::steady_clock;
using herald::testing::FreeLoopbackPort;
using herald::testing::HasLabels;
using herald::testing::HttpGet;
using herald::testing::ParseScrape;
using herald::testing::Sample;
using herald::testing::SumOf;

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A sink child process (bench/webhook_sink.js or bench/smtp_sink.py): it
// prints {"port": N[, "stats_port": M]} first and exits when its stdin
// closes, so it never outlives this process; the destructor also stops it.
struct Sink {
  pid_t pid = -1;
  int stdin_fd = -1;
  int port = 0;
  int stats_port = 0;  // GET /stats; the same as `port` for the HTTP sink
  Sink() = default;
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() {
    if (stdin_fd >= 0) close(stdin_fd);
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status;
      waitpid(pid, &status, 0);
    }
  }
};

// Starts `args` and reads its first line. Returns nullptr (after saying why)
// when it does not start.
std::unique_ptr<Sink> StartSink(const std::vector<std::string>& args) {
  int in[2], out[2];
  if (pipe(in) != 0 || pipe(out) != 0) return nullptr;
  auto sink = std::make_unique<Sink>();
  sink->pid = fork();
  if (sink->pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(in[0], STDIN_FILENO);
    dup2(out[1], STDOUT_FILENO);
    close(in[1]);
    close(out[0]);
    std::vector<std::string> copy = args;
    std::vector<char*> argv;
    for (auto& arg : copy) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  close(in[0]);
  close(out[1]);
  sink->stdin_fd = in[1];
  FILE* stream = fdopen(out[0], "r");
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

struct SinkStats {
  int64_t count = 0, unique = 0, duplicates = 0, first_ms = 0, last_ms = 0;
};

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

// Quantile `q` of the histogram `name` (samples matching `labels`), linear
// within the bucket it falls in, as Prometheus' histogram_quantile does;
// in the +Inf bucket, the highest finite bound. Also returns the count.
std::pair<double, double> HistogramQuantile(const std::vector<Sample>& samples, const std::string& name,
                                            const std::map<std::string, std::string>& labels, double q) {
  std::vector<std::pair<double, double>> buckets;  // (upper bound, cumulative count)
  for (const Sample& sample : samples) {
    if (sample.name != name + "_bucket" || !HasLabels(sample, labels)) continue;
    auto le = sample.labels.find("le");
    if (le == sample.labels.end()) continue;
    double bound = le->second == "+Inf" ? std::numeric_limits<double>::infinity() : std::atof(le->second.c_str());
    buckets.emplace_back(bound, sample.value);
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().second <= 0) return {0, 0};
  const double total = buckets.back().second;
  const double rank = q * total;
  double lower = 0, below = 0;
  for (const auto& [bound, cumulative] : buckets) {
    if (cumulative >= rank) {
      if (std::isinf(bound)) return {lower, total};
      const double in_bucket = cumulative - below;
      return {in_bucket > 0 ? lower + (bound - lower) * (rank - below) / in_bucket : bound, total};
    }
    lower = bound;
    below = cumulative;
  }
  return {lower, total};
}

struct OwnHerald {
  std::unique_ptr<herald::redis::EmbeddedServer> redis;
  std::unique_ptr<Sink> webhook_sink, smtp_sink;
  pid_t pid = -1;
  std::string dir;
  int metrics_port = 0;
  ~OwnHerald() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      int status;
      waitpid(pid, &status, 0);
    }
    webhook_sink.reset();
    smtp_sink.reset();
    redis.reset();
    std::error_code ignored;
    if (!dir.empty()) std::filesystem::remove_all(dir, ignored);
  }
};

struct HeraldSettings {
  std::string binary;
  int partitions = 4;
  int fanout_threads = 2;
  bool webhook_sink = false;
  bool smtp_sink = false;
  int channel_concurrency = 64;
  int dispatcher_threads = 0;
};

// Starts the sinks asked for, then Herald on port 0, and reads the bound
// port from its first line.
bool StartHerald(OwnHerald& own, const HeraldSettings& settings, std::string* addr) {
  char pattern[] = "/tmp/herald-bench-XXXXXX";
  own.dir = mkdtemp(pattern);
  herald::redis::EmbeddedServerOptions options;
  options.data_dir = own.dir + "/redis";
  options.append_only = true;  // as deployed: AOF everysec
  auto redis = herald::redis::EmbeddedServer::Start(options);
  if (!redis.ok()) {
    std::cerr << "loadgen: " << redis.status() << std::endl;
    return false;
  }
  own.redis = std::move(*redis);
  const std::filesystem::path bench_dir = HERALD_BENCH_DIR;  // where the sinks' scripts are
  std::string steps = R"(
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template:
      markdown: "{{ actor.name }} updated **{{ data.title }}** (#{{ data.n }}) for {{ recipient.name }}"
      action_url: "/items/{{ data.n }}"
)";
  std::string channels;
  if (settings.webhook_sink) {
    own.webhook_sink = StartSink({"node", (bench_dir / "webhook_sink.js").string()});
    if (!own.webhook_sink) return false;
    absl::StrAppend(&steps, R"(  - ref: hook
    type: channel
    channel_type: webhook
    channel: hooks
)");
    absl::StrAppend(&channels, "  hooks:\n    type: webhook\n    provider: webhook\n",
                    "    options: {url: \"http://127.0.0.1:", own.webhook_sink->port, "/hook\"}\n",
                    "    secrets: {signing_secret: {env: HERALD_BENCH_SECRET}}\n",
                    "    concurrency: ", settings.channel_concurrency, "\n");
    setenv("HERALD_BENCH_SECRET", "bench-signing-secret", 1);
  }
  if (settings.smtp_sink) {
    own.smtp_sink = StartSink({"/usr/bin/python3", (bench_dir / "smtp_sink.py").string()});
    if (!own.smtp_sink) return false;
    absl::StrAppend(&steps, R"(  - ref: mail
    type: channel
    channel_type: email
    channel: mail
    template:
      subject: "{{ actor.name }} updated {{ data.title }}"
      markdown: "{{ actor.name }} updated **{{ data.title }}** (#{{ data.n }}) for {{ recipient.name }}"
)");
    absl::StrAppend(&channels, "  mail:\n    type: email\n    provider: smtp\n",
                    "    options: {host: 127.0.0.1, port: ", own.smtp_sink->port,
                    ", tls: none, from: \"Bench <bench@herald.test>\"}\n",
                    "    concurrency: ", settings.channel_concurrency, "\n");
  }
  std::filesystem::create_directories(own.dir + "/workflows");
  std::ofstream(own.dir + "/workflows/bench.yaml") << "key: bench\nsteps:" << steps;
  const bool delivery = !channels.empty();
  if (delivery) {
    std::ofstream(own.dir + "/delivery.yaml") << "channels:\n" << channels;
    own.metrics_port = FreeLoopbackPort();
  }
  int out[2];
  if (pipe(out) != 0) return false;
  own.pid = fork();
  if (own.pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed load generator
    dup2(out[1], STDOUT_FILENO);
    close(out[0]);
    std::vector<std::string> args = {settings.binary,
                                     "all",
                                     "--redis=" + own.redis->endpoint().ToString(),
                                     "--workflows=" + own.dir + "/workflows",
                                     "--grpc_address=127.0.0.1:0",
                                     absl::StrCat("--partitions=", settings.partitions),
                                     absl::StrCat("--fanout_threads=", settings.fanout_threads)};
    if (delivery) {
      args.push_back("--delivery_config=" + own.dir + "/delivery.yaml");
      args.push_back(absl::StrCat("--metrics_address=127.0.0.1:", own.metrics_port));
      if (settings.dispatcher_threads > 0) {
        args.push_back(absl::StrCat("--dispatcher_threads=", settings.dispatcher_threads));
      }
    } else {
      args.push_back("--metrics_address=");
    }
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  FILE* stream = fdopen(out[0], "r");
  char line[1024];
  if (fgets(line, sizeof(line), stream) == nullptr) {
    std::cerr << "loadgen: herald did not start" << std::endl;
    return false;
  }
  std::string text = line;
  size_t at = text.find("gRPC on port ");
  if (at == std::string::npos) return false;
  *addr = absl::StrCat("127.0.0.1:", std::atoi(text.c_str() + at + 13));
  return true;
}

std::string UserId(int index) { return absl::StrCat("bench-user-", index); }

// Issues `count` calls with at most `window` in flight, paced at `rate` per
// second when > 0. `issue(t, done)` starts call t and must run `done(ok)`
// once it finishes. Returns the seconds from the first call to the last
// answer.
double DriveCalls(int count, double rate, int window,
                  const std::function<void(int, std::function<void(bool)>)>& issue) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  auto start = Clock::now();
  auto done = [&](bool) {
    std::lock_guard<std::mutex> lock(mu);
    --in_flight;
    cv.notify_all();
  };
  for (int t = 0; t < count; ++t) {
    if (rate > 0) std::this_thread::sleep_until(start + std::chrono::microseconds(static_cast<int64_t>(t * 1e6 / rate)));
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return in_flight < window; });
      ++in_flight;
    }
    issue(t, done);
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// A thread that sleeps 1 ms at a time and records how much later than asked
// it wakes: what any request waiting on this machine's scheduler suffers.
class StallMonitor {
 public:
  StallMonitor()
      : start_(Clock::now()), thread_([this] {
          while (!stop_) {
            auto before = Clock::now();
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            double late_ms = std::chrono::duration<double, std::milli>(Clock::now() - before).count() - 1;
            if (late_ms > 20) ++over_20ms_;
            if (late_ms > 100) ++over_100ms_;
            if (late_ms > 5) stalled_ms_ += late_ms;
            max_ms_ = std::max(max_ms_.load(), late_ms);
          }
        }) {}
  ~StallMonitor() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    seconds_ = std::chrono::duration<double>(Clock::now() - start_).count();
  }
  // Call after Stop(). late_share: the part of the run spent waking late.
  nlohmann::json Report() const {
    return {{"wakeups_late_over_20ms", over_20ms_.load()},
            {"wakeups_late_over_100ms", over_100ms_.load()},
            {"max_late_ms", std::round(max_ms_.load())},
            {"late_share", std::round(stalled_ms_.load() / (seconds_ * 10)) / 100}};
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> over_20ms_{0}, over_100ms_{0};
  std::atomic<double> max_ms_{0}, stalled_ms_{0};
  Clock::time_point start_;
  double seconds_ = 1;
  std::thread thread_;
};

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const int per_trigger = absl::GetFlag(FLAGS_recipients_per_trigger);
  const int triggers = absl::GetFlag(FLAGS_triggers);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  if (per_trigger < 1 || per_trigger > 1000 || triggers < 1) {
    std::cerr << "loadgen: --recipients_per_trigger must be 1..1000 and --triggers >= 1" << std::endl;
    return 2;
  }
  OwnHerald own;
  std::string addr = absl::GetFlag(FLAGS_addr);
  std::string redis_address = absl::GetFlag(FLAGS_redis);
  if (addr.empty()) {
    std::string binary = absl::GetFlag(FLAGS_herald_binary);
    if (binary.empty()) {
      binary = (std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "runtime/herald")
                   .string();
    }
    HeraldSettings settings;
    settings.binary = binary;
    settings.partitions = partitions;
    settings.fanout_threads = absl::GetFlag(FLAGS_fanout_threads);
    settings.webhook_sink = absl::GetFlag(FLAGS_webhook_sink);
    settings.smtp_sink = absl::GetFlag(FLAGS_smtp_sink);
    settings.channel_concurrency = absl::GetFlag(FLAGS_channel_concurrency);
    settings.dispatcher_threads = absl::GetFlag(FLAGS_dispatcher_threads);
    if (!StartHerald(own, settings, &addr)) return 1;
    redis_address = own.redis->endpoint().ToString();
  } else if (redis_address.empty()) {
    std::cerr << "loadgen: --addr needs --redis to count feed items" << std::endl;
    return 2;
  } else if (absl::GetFlag(FLAGS_webhook_sink) || absl::GetFlag(FLAGS_smtp_sink)) {
    std::cerr << "loadgen: --webhook_sink and --smtp_sink need loadgen's own Herald (no --addr)" << std::endl;
    return 2;
  }
  auto endpoint = herald::redis::ParseEndpoint(redis_address);
  if (!endpoint.ok()) return 2;
  auto redis = herald::redis::ConnectRedis(*endpoint);
  if (!redis.ok()) {
    std::cerr << "loadgen: " << redis.status() << std::endl;
    return 1;
  }

  // Recipients: a pool large enough that feeds stay realistic in size.
  const int pool = std::max(per_trigger * 10, 1000);
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  auto stub = herald::v1::Herald::NewStub(channel);
  {
    std::vector<herald::redis::Command> identify;
    for (int i = 0; i < pool; ++i) {
      std::string id = UserId(i);
      identify.push_back({"HSET", herald::Keys(herald::PartitionOf(id, partitions)).User(id), "name",
                          absl::StrCat("User ", i), "email", absl::StrCat(id, "@bench.test"), "created_at", "0",
                          "updated_at", "0"});
    }
    identify.push_back({"HSET", herald::Keys(herald::PartitionOf("bench-actor", partitions)).User("bench-actor"),
                        "name", "Ana"});
    for (auto& reply : (*redis)->Pipeline(identify)) {
      if (!reply.ok()) return 1;
    }
  }
  std::vector<int64_t> before(pool, 0);
  {
    std::vector<herald::redis::Command> counts;
    for (int i = 0; i < pool; ++i) {
      std::string id = UserId(i);
      counts.push_back({"ZCARD", herald::Keys(herald::PartitionOf(id, partitions)).FeedSet(id, "active")});
    }
    auto replies = (*redis)->Pipeline(counts);
    for (int i = 0; i < pool; ++i) before[i] = replies[i].ok() ? replies[i]->integer : 0;
  }

  const int window = absl::GetFlag(FLAGS_concurrency);
  // Bare unary calls first: the same server, client and window, no work.
  double baseline_per_s = 0;
  const int baseline_calls = absl::GetFlag(FLAGS_baseline_calls);
  if (baseline_calls > 0) {
    grpc::GenericStub generic(channel);
    std::atomic<int> baseline_failed{0};
    double seconds = DriveCalls(baseline_calls, 0, window, [&](int, std::function<void(bool)> done) {
      struct Call {
        grpc::ClientContext context;
        grpc::ByteBuffer request, response;
      };
      auto* call = new Call();
      grpc::Slice empty("");  // a zero-length message is an empty HealthCheckRequest
      call->request = grpc::ByteBuffer(&empty, 1);
      generic.UnaryCall(&call->context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &call->request,
                        &call->response, [call, done, &baseline_failed](grpc::Status status) {
                          if (!status.ok()) ++baseline_failed;
                          delete call;
                          done(status.ok());
                        });
    });
    if (baseline_failed.load() == 0) baseline_per_s = baseline_calls / seconds;
  }

  std::vector<int64_t> expected(pool, 0);
  std::atomic<int> failed{0};
  StallMonitor stalls;
  const int64_t run_start_us = NowMicros();
  double send_seconds = DriveCalls(triggers, rate, window, [&](int t, std::function<void(bool)> done) {
    struct CallState {
      grpc::ClientContext context;
      herald::v1::TriggerRequest request;
      herald::v1::TriggerResponse response;
    };
    auto* call = new CallState();
    call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    call->request.set_workflow("bench");
    call->request.set_actor("bench-actor");
    call->request.set_data_json(absl::StrCat(R"({"title": "Quarterly plan", "n": )", t, "}"));
    int first = static_cast<int>((static_cast<int64_t>(t) * per_trigger) % pool);
    for (int r = 0; r < per_trigger; ++r) {
      int index = (first + r) % pool;
      call->request.add_recipients()->set_id(UserId(index));
      ++expected[index];
    }
    stub->async()->Trigger(&call->context, &call->request, &call->response, [&failed, call, done](grpc::Status status) {
      if (!status.ok()) {
        if (failed.fetch_add(1) < 3) std::cerr << "loadgen: trigger failed: " << status.error_message() << std::endl;
      }
      delete call;
      done(status.ok());
    });
  });

  // Wait until the feeds hold every expected item (or stop changing).
  const int64_t total_expected = static_cast<int64_t>(triggers - failed.load()) * per_trigger;
  std::vector<int64_t> found(pool, 0);
  auto give_up = Clock::now() + std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s));
  int64_t last_total = -1;
  auto last_change = Clock::now();
  // Counting runs inside Redis (one script call) and only every 200 ms, so
  // the measurement does not compete with the pipeline it measures; the
  // end time comes from the items' own timestamps, not from this loop.
  std::vector<std::string> feed_keys;
  // One counting script per partition: a script touches one slot.
  std::map<int, herald::redis::Command> sums;
  for (int i = 0; i < pool; ++i) {
    std::string id = UserId(i);
    const int partition = herald::PartitionOf(id, partitions);
    feed_keys.push_back(herald::Keys(partition).FeedSet(id, "active"));
    herald::redis::Command& sum = sums[partition];
    if (sum.empty()) {
      sum = {"EVAL", "local n = 0 for _, k in ipairs(KEYS) do n = n + redis.call('ZCARD', k) end return n", "0"};
    }
    sum.push_back(feed_keys.back());
  }
  std::vector<herald::redis::Command> sum_commands;
  for (auto& [partition, sum] : sums) {
    sum[2] = std::to_string(sum.size() - 3);
    sum_commands.push_back(std::move(sum));
  }
  int64_t before_total = 0;
  for (int64_t b : before) before_total += b;
  while (true) {
    int64_t counted = 0;
    bool ok = true;
    for (const auto& reply : (*redis)->Pipeline(sum_commands)) {
      if (!reply.ok()) {
        std::cerr << "loadgen: counting feed items: " << reply.status() << std::endl;
        ok = false;
        break;
      }
      counted += reply->integer;
    }
    int64_t total = ok ? counted - before_total : last_total;
    if (total != last_total) {
      last_total = total;
      last_change = Clock::now();
    }
    if (total >= total_expected) break;
    if (Clock::now() > give_up || Clock::now() - last_change > std::chrono::seconds(20)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  {
    std::vector<herald::redis::Command> counts;
    for (const std::string& key : feed_keys) counts.push_back({"ZCARD", key});
    auto replies = (*redis)->Pipeline(counts);
    for (int i = 0; i < pool; ++i) found[i] = (replies[i].ok() ? replies[i]->integer : 0) - before[i];
  }

  // With sinks: wait until each holds every expected message (or stops
  // changing), before the latency scan below loads Redis.
  struct SinkRun {
    std::string name;  // "webhook" / "smtp"
    std::string channel;
    const Sink* sink;
    SinkStats stats;
  };
  std::vector<SinkRun> sink_runs;
  if (own.webhook_sink) sink_runs.push_back({"webhook", "hooks", own.webhook_sink.get(), {}});
  if (own.smtp_sink) sink_runs.push_back({"smtp", "mail", own.smtp_sink.get(), {}});
  for (SinkRun& run : sink_runs) {
    int64_t last_unique = -1;
    auto changed = Clock::now();
    while (true) {
      auto stats = ReadSinkStats(*run.sink);
      if (stats) run.stats = *stats;
      if (run.stats.unique != last_unique) {
        last_unique = run.stats.unique;
        changed = Clock::now();
      }
      if (run.stats.unique >= total_expected) break;
      if (Clock::now() > give_up || Clock::now() - changed > std::chrono::seconds(20)) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  std::vector<Sample> metrics;
  if (!sink_runs.empty()) {
    // Deliveries are recorded right after the sink answers: give the last
    // outcomes a moment to land before reading the histogram.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto response = HttpGet(own.metrics_port, "/metrics");
    if (response && response->status == 200) metrics = ParseScrape(response->body);
    else std::cerr << "loadgen: could not read Herald's /metrics" << std::endl;
  }

  // Latency and end time from the message records themselves.
  std::vector<double> latencies_ms;
  int64_t last_insert_us = run_start_us;
  for (int i = 0; i < pool; ++i) {
    if (found[i] <= 0) continue;
    std::string id = UserId(i);
    herald::Keys keys(herald::PartitionOf(id, partitions));
    auto ids = (*redis)->Execute({"ZREVRANGE", keys.FeedSet(id, "active"), "0", std::to_string(found[i] - 1)});
    if (!ids.ok()) continue;
    std::vector<herald::redis::Command> reads;
    for (const auto& message : ids->elements) {
      reads.push_back({"HMGET", keys.Message(message.str), "accepted_at_us", "inserted_at_us"});
    }
    for (auto& reply : (*redis)->Pipeline(reads)) {
      if (!reply.ok() || reply->elements.size() != 2) continue;
      int64_t accepted = std::atoll(reply->elements[0].str.c_str());
      int64_t inserted = std::atoll(reply->elements[1].str.c_str());
      if (accepted < run_start_us) continue;
      latencies_ms.push_back((inserted - accepted) / 1000.0);
      last_insert_us = std::max(last_insert_us, inserted);
    }
  }
  stalls.Stop();
  std::sort(latencies_ms.begin(), latencies_ms.end());
  auto percentile = [&](double p) {
    if (latencies_ms.empty()) return 0.0;
    return latencies_ms[std::min(latencies_ms.size() - 1, static_cast<size_t>(p * latencies_ms.size()))];
  };
  int64_t lost = 0, doubled = 0, delivered = 0;
  for (int i = 0; i < pool; ++i) {
    delivered += found[i];
    if (found[i] < expected[i]) lost += expected[i] - found[i];
    if (found[i] > expected[i]) doubled += found[i] - expected[i];
  }
  double end_to_end_seconds = std::max(1e-6, (last_insert_us - run_start_us) / 1e6);
  nlohmann::json result = {
      {"triggers_per_s", std::round(triggers / send_seconds)},
      {"notifications_per_s", std::round(delivered / end_to_end_seconds)},
      {"p50_ms", std::round(percentile(0.50) * 100) / 100},
      {"p99_ms", std::round(percentile(0.99) * 100) / 100},
      {"lost", lost + static_cast<int64_t>(failed.load()) * per_trigger},
      {"doubled", doubled},
      {"failed_calls", failed.load()},
      {"notifications", delivered},
      {"seconds", std::round(end_to_end_seconds * 100) / 100},
      {"triggers", triggers},
      {"recipients_per_trigger", per_trigger},
      {"rate", rate},
      {"concurrency", window},
      {"target", absl::GetFlag(FLAGS_addr).empty() ? "own" : addr},
      {"bare_calls_per_s", std::round(baseline_per_s)},
      {"triggers_vs_bare_calls", baseline_per_s > 0 ? std::round(triggers / send_seconds / baseline_per_s * 100) / 100 : 0},
      {"scheduler", stalls.Report()},
  };
  const double in_app_per_s = delivered / end_to_end_seconds;
  bool deliveries_ok = true;
  for (const SinkRun& run : sink_runs) {
    // Same window as the in-app rate: first trigger to the last request.
    const double seconds = std::max(1e-3, (run.stats.last_ms - run_start_us / 1000) / 1000.0);
    const double per_s = run.stats.unique / seconds;
    const int64_t sink_lost = std::max<int64_t>(0, total_expected - run.stats.unique);
    if (sink_lost > 0 || run.stats.duplicates > 0) deliveries_ok = false;
    auto provider = HistogramQuantile(metrics, "herald_delivery_provider_seconds", {{"channel", run.channel}}, 0.5);
    auto provider99 = HistogramQuantile(metrics, "herald_delivery_provider_seconds", {{"channel", run.channel}}, 0.99);
    auto outcome = [&](const char* name) {
      // Summed over the provider label; none is 0 here.
      return std::max(0.0, SumOf(metrics, "herald_deliveries_total", {{"channel", run.channel}, {"outcome", name}}));
    };
    result[run.name] = {
        {"deliveries_per_s", std::round(per_s)},
        {"vs_in_app", in_app_per_s > 0 ? std::round(per_s / in_app_per_s * 100) / 100 : 0},
        {"expected", total_expected},
        {"delivered", run.stats.unique},
        {"lost", sink_lost},
        {"duplicates", run.stats.duplicates},
        {"requests", run.stats.count},
        {"seconds", std::round(seconds * 100) / 100},
        {"sink_busy_per_s", run.stats.last_ms > run.stats.first_ms
                                ? std::round(run.stats.unique * 1000.0 / (run.stats.last_ms - run.stats.first_ms))
                                : 0},
        {"herald_outcomes",
         {{"delivered", outcome("delivered")},
          {"retry", outcome("retry")},
          {"failed", outcome("failed")},
          {"deferred", outcome("deferred")}}},
        {"provider_p50_ms", std::round(provider.first * 1e5) / 100},
        {"provider_p99_ms", std::round(provider99.first * 1e5) / 100},
    };
  }
  if (!sink_runs.empty()) {
    // One histogram for every channel: the hop covers all sinks' messages.
    auto p50 = HistogramQuantile(metrics, "herald_delivery_hop_seconds", {}, 0.5);
    auto p99 = HistogramQuantile(metrics, "herald_delivery_hop_seconds", {}, 0.99);
    result["delivery_hop"] = {{"p50_ms", std::round(p50.first * 1e5) / 100},
                              {"p99_ms", std::round(p99.first * 1e5) / 100},
                              {"count", p50.second}};
  }
  std::cout << result.dump() << std::endl;
  return lost == 0 && doubled == 0 && deliveries_ok ? 0 : 3;
}
