// End-to-end load generator: by default starts its own redis-server and a
// Herald (all roles) on free loopback ports, identifies the recipients,
// drives Trigger (or TriggerBatch) over gRPC at a rate, waits until every
// feed item is in Redis, and prints one JSON line measured from Redis (not
// the client): triggers_per_s, notifications_per_s, p50_ms/p99_ms trigger
// -> feed item, lost, doubled, Redis CPU, memory and commands per
// notification, and the run's parameters. --addr/--redis target a running
// Herald instead. Before the triggers it drives the same number of bare
// unary calls (grpc.health.v1.Health/Check on the same server, same
// window) so the trigger rate is reported as a ratio measured in the same
// run, and while it runs a sleeping thread records how late the scheduler
// wakes it: on a shared machine those stalls set the latency tail.
//
// --batch_window puts a batch step before the in-app step (feed items are
// then digests: activities are counted); --trigger_batch sends TriggerBatch
// calls; --noisy_rate adds a second tenant's load beside the main one and
// reports each tenant apart; --compare_peer runs the BullMQ peer pipeline
// afterwards, in the same sitting, and reports the ratio.
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
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <functional>
#include <iostream>
#include <limits>
#include <map>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "bench/loadgen_feeds.h"
#include "bench/loadgen_load.h"
#include "bench/loadgen_processes.h"
#include "bench/loadgen_redis_cost.h"
#include "core/ids.h"
#include "core/keys.h"
#include "herald/v1/herald.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"
#include "tests/support/loopback.h"
#include "tests/support/scrape.h"

ABSL_FLAG(int, recipients_per_trigger, 1, "Recipients in each trigger");
ABSL_FLAG(int, triggers, 20000, "Triggers to send");
ABSL_FLAG(double, rate, 0, "Triggers per second; 0 = as fast as the window allows");
ABSL_FLAG(int, concurrency, 256, "Calls in flight at most (per load)");
ABSL_FLAG(int, trigger_batch, 0, "Send TriggerBatch calls of this many triggers (1-1000); 0 = unary Trigger calls");
ABSL_FLAG(int, batch_window, 0,
          "Milliseconds: put a batch step (this window, no maximum) before the in-app step; 0 = none");
ABSL_FLAG(std::string, tenant, "", "Tenant of the main load's triggers (\"quiet\" when --noisy_rate is given)");
ABSL_FLAG(double, noisy_rate, 0,
          "Triggers per second of a second load, tenant \"noisy\", own recipient pool, while the main load runs");
ABSL_FLAG(std::vector<std::string>, herald_arg, {},
          "An extra flag for loadgen's own Herald, e.g. --herald_arg=--trigger_rate_per_tenant=5000 (repeatable)");
ABSL_FLAG(bool, compare_peer, false,
          "Afterwards run the BullMQ peer pipeline (Herald stopped first) and report the ratio");
ABSL_FLAG(std::string, peer_script, "", "The peer's runner (default: <repo>/../shared/anchors/run_bullmq_peer.sh)");
ABSL_FLAG(int64_t, peer_events, 0, "Events for the peer; 0 = the main load's notifications, within 50,000..100,000");
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

namespace herald::bench {
namespace {

using Clock = std::chrono::steady_clock;
using herald::testing::HasLabels;
using herald::testing::HttpGet;
using herald::testing::ParseScrape;
using herald::testing::Sample;
using herald::testing::SumOf;

// The peer's end-to-end time has fixed parts (a 200 ms digest delay, 1 s
// without progress before its final sweep): below ~50,000 events they, not
// the queue, set its rate.
constexpr int64_t kPeerEventsFloor = 50000;
constexpr int64_t kPeerEventsCap = 100000;
constexpr auto kPollEvery = std::chrono::milliseconds(200);
// Feeds that stop changing this long are as complete as they will get.
constexpr auto kStalledAfter = std::chrono::seconds(20);

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double Rounded(double value, int decimals = 2) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

// "--some-flag=v" -> "--some_flag=v": Herald's flags are spelt with
// underscores; only the name changes, never the value.
std::string Underscored(absl::string_view arg) {
  const size_t end = std::min(arg.find('='), arg.size());
  std::string name(arg.substr(0, end));
  for (size_t i = 2; i < name.size(); ++i) {
    if (name[i] == '-') name[i] = '_';
  }
  return absl::StrCat(name, arg.substr(end));
}

// absl keeps only the last of a repeated flag: takes every --herald_arg=X
// (or --herald_arg X) out of argv before absl parses the rest.
std::vector<std::string> TakeHeraldArgs(int& argc, char** argv) {
  std::vector<std::string> taken;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--herald_arg") || absl::ConsumePrefix(&arg, "-herald_arg")) {
      if (absl::ConsumePrefix(&arg, "=")) {
        taken.push_back(Underscored(arg));
        continue;
      }
      if (arg.empty() && i + 1 < argc) {
        taken.push_back(Underscored(argv[++i]));
        continue;
      }
    }
    argv[kept++] = argv[i];
  }
  argc = kept;
  return taken;
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

// p50/p99 (ms) of `latencies`, sorted here.
nlohmann::json Percentiles(std::vector<double> latencies) {
  std::sort(latencies.begin(), latencies.end());
  auto at = [&](double p) {
    if (latencies.empty()) return 0.0;
    return latencies[std::min(latencies.size() - 1, static_cast<size_t>(p * latencies.size()))];
  };
  return {{"p50_ms", Rounded(at(0.50))}, {"p99_ms", Rounded(at(0.99))}};
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

// One load of the run: what was sent, what Herald answered, what landed.
struct Run {
  explicit Run(LoadSpec load) : spec(std::move(load)), counters(std::make_unique<LoadCounters>(spec.pool)) {}

  LoadSpec spec;
  std::unique_ptr<LoadCounters> counters;
  std::vector<int64_t> before;  // items per user before the first trigger
  SendResult sent;
  Landed landed;

  // Runs owed to pool index i, and what counts as one in the feeds: an
  // activity when a batch step digests them, else an item.
  int64_t Got(int i, bool batch) const { return batch ? landed.activities[i] : landed.items[i]; }
  bool Complete(bool batch) const {
    for (int i = 0; i < spec.pool; ++i) {
      if (Got(i, batch) < counters->expected(i)) return false;
    }
    return true;
  }
  int64_t Lost(bool batch) const {
    int64_t lost = counters->failed() * spec.per_trigger;  // a failed call's recipients get nothing
    for (int i = 0; i < spec.pool; ++i) lost += std::max<int64_t>(0, counters->expected(i) - Got(i, batch));
    return lost;
  }
  int64_t Doubled(bool batch) const {
    int64_t doubled = 0;
    for (int i = 0; i < spec.pool; ++i) doubled += std::max<int64_t>(0, Got(i, batch) - counters->expected(i));
    return doubled;
  }
  int64_t Owed() const { return counters->accepted() * spec.per_trigger; }
};

std::vector<const LoadSpec*> Specs(const std::vector<Run>& runs) {
  std::vector<const LoadSpec*> specs;
  for (const Run& run : runs) specs.push_back(&run.spec);
  return specs;
}

// Users' names and emails straight into Redis (one pipeline), and the actor.
absl::Status Identify(redis::RedisClient& redis, const std::vector<Run>& runs, int partitions) {
  std::vector<redis::Command> identify;
  for (const Run& run : runs) {
    for (int i = 0; i < run.spec.pool; ++i) {
      const std::string id = run.spec.UserId(i);
      identify.push_back({"HSET", Keys(PartitionOf(id, partitions)).User(id), "name", absl::StrCat("User ", i), "email",
                          absl::StrCat(id, "@bench.test"), "created_at", "0", "updated_at", "0"});
    }
  }
  identify.push_back({"HSET", Keys(PartitionOf("bench-actor", partitions)).User("bench-actor"), "name", "Ana"});
  return redis::FirstError(redis.Pipeline(identify));
}

struct WaitSettings {
  bool batch = false;
  int batch_window_ms = 0;
  int64_t run_start_us = 0;
  Clock::time_point sending_ended, give_up;
  CommandStats poll_footprint;  // what one poll adds to commandstats
};

// Polls the feeds' item counts until they hold everything accepted (with a
// batch step: until they stop changing once the last window has closed and
// the activities add up), then reads what landed into `runs`. The Redis
// sample taken right before that final read is returned with what loadgen's
// own reads added in between. `on_ready` runs once, when the items are
// first complete, before any verifying read (the sinks are waited for
// there).
absl::StatusOr<std::pair<RedisInfo, Exclusions>> WaitForFeeds(redis::RedisClient& redis, FeedReader& reader,
                                                              std::vector<Run>& runs, const WaitSettings& settings,
                                                              const std::function<void(int64_t)>& on_ready) {
  const std::vector<const LoadSpec*> specs = Specs(runs);
  int64_t before_total = 0, owed = 0;
  for (const Run& run : runs) {
    for (int64_t items : run.before) before_total += items;
    owed += run.Owed();
  }
  const auto settle_at = settings.sending_ended + std::chrono::milliseconds(settings.batch_window_ms);
  Exclusions excluded;
  int64_t polls = 0, last_total = -1, verified_total = -1;
  bool ready_once = false;
  auto last_change = Clock::now();
  while (true) {
    auto counted = reader.Poll(specs);
    ++polls;
    if (!counted.ok()) std::cerr << "loadgen: counting feed items: " << counted.status() << std::endl;
    const int64_t total = counted.ok() ? *counted - before_total : last_total;
    const bool changed = total != last_total;
    if (changed) {
      last_total = total;
      last_change = Clock::now();
    }
    const bool stalled = Clock::now() > settings.give_up || Clock::now() - last_change > kStalledAfter;
    const bool ready =
        settings.batch ? !changed && total != verified_total && Clock::now() >= settle_at : total >= owed;
    if (ready || stalled) {
      if (!ready_once) on_ready(total);
      ready_once = true;
      auto sample = ReadRedisInfo(redis);
      if (!sample.ok()) return sample.status();
      bool complete = true;
      for (Run& run : runs) {
        auto landed = reader.ReadLanded(run.spec, run.before, settings.run_start_us);
        if (!landed.ok()) return landed.status();
        run.landed = std::move(*landed);
        complete = complete && run.Complete(settings.batch);
      }
      if (complete || stalled || !settings.batch) {
        excluded.Add(settings.poll_footprint, static_cast<double>(polls));
        return std::make_pair(std::move(*sample), std::move(excluded));
      }
      // Not every window has flushed yet: this read stays in the window,
      // so what it called is measured and taken out.
      auto after = ReadRedisInfo(redis);
      if (!after.ok()) return after.status();
      excluded.Add(Delta(after->commands, sample->commands), 1);
      verified_total = total;
    }
    std::this_thread::sleep_for(kPollEvery);
  }
}

struct SinkRun {
  std::string name;     // "webhook" / "smtp"
  std::string channel;  // its channel in the delivery config
  const Sink* sink;
  SinkStats stats;
};

// Waits until each sink holds `expected` messages (or stops changing).
void WaitForSinks(std::vector<SinkRun>& sinks, int64_t expected, Clock::time_point give_up) {
  for (SinkRun& run : sinks) {
    int64_t last_unique = -1;
    auto changed = Clock::now();
    while (true) {
      auto stats = ReadSinkStats(*run.sink);
      if (stats) run.stats = *stats;
      if (run.stats.unique != last_unique) {
        last_unique = run.stats.unique;
        changed = Clock::now();
      }
      if (run.stats.unique >= expected) break;
      if (Clock::now() > give_up || Clock::now() - changed > kStalledAfter) break;
      std::this_thread::sleep_for(kPollEvery);
    }
  }
}

// Per sink: deliveries/s over the in-app window and the rest (bench/README
// "Delivery"), plus `delivery_hop` from Herald's /metrics. Sets
// *deliveries_ok to false when a sink lost or doubled anything.
void ReportSinks(const std::vector<SinkRun>& sinks, int metrics_port, int64_t expected, int64_t run_start_us,
                 double in_app_per_s, nlohmann::json& result, bool* deliveries_ok) {
  if (sinks.empty()) return;
  // Deliveries are recorded right after the sink answers: give the last
  // outcomes a moment to land before reading the histogram.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::vector<Sample> metrics;
  auto response = HttpGet(metrics_port, "/metrics");
  if (response && response->status == 200) {
    metrics = ParseScrape(response->body);
  } else {
    std::cerr << "loadgen: could not read Herald's /metrics" << std::endl;
  }
  for (const SinkRun& run : sinks) {
    // Same window as the in-app rate: first trigger to the last request.
    const double seconds = std::max(1e-3, (run.stats.last_ms - run_start_us / 1000) / 1000.0);
    const double per_s = run.stats.unique / seconds;
    const int64_t sink_lost = std::max<int64_t>(0, expected - run.stats.unique);
    if (sink_lost > 0 || run.stats.duplicates > 0) *deliveries_ok = false;
    auto provider = HistogramQuantile(metrics, "herald_delivery_provider_seconds", {{"channel", run.channel}}, 0.5);
    auto provider99 = HistogramQuantile(metrics, "herald_delivery_provider_seconds", {{"channel", run.channel}}, 0.99);
    auto outcome = [&](const char* name) {
      // Summed over the provider label; none is 0 here.
      return std::max(0.0, SumOf(metrics, "herald_deliveries_total", {{"channel", run.channel}, {"outcome", name}}));
    };
    result[run.name] = {
        {"deliveries_per_s", std::round(per_s)},
        {"vs_in_app", in_app_per_s > 0 ? Rounded(per_s / in_app_per_s) : 0},
        {"expected", expected},
        {"delivered", run.stats.unique},
        {"lost", sink_lost},
        {"duplicates", run.stats.duplicates},
        {"requests", run.stats.count},
        {"seconds", Rounded(seconds)},
        {"sink_busy_per_s", run.stats.last_ms > run.stats.first_ms
                                ? std::round(run.stats.unique * 1000.0 / (run.stats.last_ms - run.stats.first_ms))
                                : 0},
        {"herald_outcomes",
         {{"delivered", outcome("delivered")},
          {"retry", outcome("retry")},
          {"failed", outcome("failed")},
          {"deferred", outcome("deferred")}}},
        {"provider_p50_ms", Rounded(provider.first * 1000)},
        {"provider_p99_ms", Rounded(provider99.first * 1000)},
    };
  }
  // One histogram for every channel: the hop covers all sinks' messages.
  auto p50 = HistogramQuantile(metrics, "herald_delivery_hop_seconds", {}, 0.5);
  auto p99 = HistogramQuantile(metrics, "herald_delivery_hop_seconds", {}, 0.99);
  result["delivery_hop"] = {
      {"p50_ms", Rounded(p50.first * 1000)}, {"p99_ms", Rounded(p99.first * 1000)}, {"count", p50.second}};
}

// One load's share of the result (tenants.<name>).
nlohmann::json LoadReport(const Run& run, bool batch) {
  nlohmann::json report = {
      {"tenant", run.spec.tenant},
      {"triggers", run.sent.triggers},
      {"accepted", run.counters->accepted()},
      {"refused", run.counters->refused()},
      {"failed", run.counters->failed()},
      {"notifications", run.landed.items_total},
      {"lost", run.Lost(batch)},
      {"doubled", run.Doubled(batch)},
      {"pool", run.spec.pool},
  };
  if (batch) report["activities"] = run.landed.activities_total;
  report.update(Percentiles(run.landed.latencies_ms));
  return report;
}

// The main load (--triggers, --rate, --tenant ...) and, with --noisy_rate,
// the noisy tenant's beside it.
std::vector<Run> MakeRuns() {
  const int per_trigger = absl::GetFlag(FLAGS_recipients_per_trigger);
  const int64_t triggers = absl::GetFlag(FLAGS_triggers);
  const double rate = absl::GetFlag(FLAGS_rate);
  const double noisy_rate = absl::GetFlag(FLAGS_noisy_rate);
  LoadSpec main_load;
  main_load.name = "quiet";
  main_load.tenant = absl::GetFlag(FLAGS_tenant);
  if (main_load.tenant.empty() && noisy_rate > 0) main_load.tenant = "quiet";
  main_load.user_prefix = "bench-user-";
  main_load.pool = PoolFor(per_trigger, triggers * per_trigger);
  main_load.per_trigger = per_trigger;
  main_load.trigger_batch = absl::GetFlag(FLAGS_trigger_batch);
  main_load.rate = rate;
  main_load.window = absl::GetFlag(FLAGS_concurrency);
  std::vector<Run> runs;
  runs.emplace_back(main_load);
  if (noisy_rate > 0) {
    LoadSpec noisy = main_load;
    noisy.name = noisy.tenant = "noisy";
    noisy.user_prefix = "bench-noisy-";
    noisy.rate = noisy_rate;
    // It sends for as long as the main load: about triggers / rate seconds.
    noisy.pool = PoolFor(per_trigger, static_cast<int64_t>(noisy_rate * triggers / rate) * per_trigger);
    runs.emplace_back(noisy);
  }
  return runs;
}

HeraldSettings OwnHeraldSettings(const std::vector<std::string>& herald_args) {
  HeraldSettings settings;
  settings.binary = absl::GetFlag(FLAGS_herald_binary);
  if (settings.binary.empty()) {
    settings.binary =
        (std::filesystem::canonical("/proc/self/exe").parent_path().parent_path() / "runtime/herald").string();
  }
  settings.partitions = absl::GetFlag(FLAGS_partitions);
  settings.fanout_threads = absl::GetFlag(FLAGS_fanout_threads);
  settings.webhook_sink = absl::GetFlag(FLAGS_webhook_sink);
  settings.smtp_sink = absl::GetFlag(FLAGS_smtp_sink);
  settings.channel_concurrency = absl::GetFlag(FLAGS_channel_concurrency);
  settings.dispatcher_threads = absl::GetFlag(FLAGS_dispatcher_threads);
  settings.batch_window_ms = absl::GetFlag(FLAGS_batch_window);
  settings.extra_args = herald_args;
  return settings;
}

// Sends the main load (runs[0], --triggers of them) over `channel`; the
// noisy one, if any, at the same time over its own connection (as another
// customer's would be) until the main load is done.
void SendLoads(std::vector<Run>& runs, const std::string& addr, const std::shared_ptr<grpc::Channel>& channel) {
  std::atomic<bool> main_done{false};
  std::thread noisy_thread;
  if (runs.size() > 1) {
    grpc::ChannelArguments own_connection;
    own_connection.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    auto noisy_channel = grpc::CreateCustomChannel(addr, grpc::InsecureChannelCredentials(), own_connection);
    noisy_thread = std::thread([&runs, &main_done, noisy_channel] {
      auto stub = v1::Herald::NewStub(noisy_channel);
      runs[1].sent =
          SendTriggers(*stub, runs[1].spec, std::numeric_limits<int64_t>::max() / 2, &main_done, *runs[1].counters);
    });
  }
  auto stub = v1::Herald::NewStub(channel);
  runs[0].sent = SendTriggers(*stub, runs[0].spec, absl::GetFlag(FLAGS_triggers), nullptr, *runs[0].counters);
  main_done = true;
  if (noisy_thread.joinable()) noisy_thread.join();
}

// Runs the BullMQ peer (--peer_script) with the main load's notifications
// (within kPeerEventsFloor..kPeerEventsCap) over its pool, and adds `peer`
// and `vs_peer` = `per_s` / the peer's end-to-end rate to `result`.
void ComparePeer(const Run& main_run, double per_s, nlohmann::json& result) {
  std::string script = absl::GetFlag(FLAGS_peer_script);
  if (script.empty()) {
    script = (std::filesystem::path(HERALD_BENCH_DIR) / "../../shared/anchors/run_bullmq_peer.sh")
                 .lexically_normal()
                 .string();
  }
  int64_t events = absl::GetFlag(FLAGS_peer_events);
  if (events <= 0) events = std::clamp(main_run.Owed(), kPeerEventsFloor, kPeerEventsCap);
  auto peer = RunPeer(script, events, main_run.spec.pool);
  if (!peer.ok()) {
    std::cerr << "loadgen: the peer: " << peer.status() << std::endl;
    result["peer"] = {{"error", std::string(peer.status().message())}};
    return;
  }
  const double peer_per_s = (*peer)["end_to_end_per_s"].get<double>();
  result["peer"] = *peer;
  result["vs_peer"] = peer_per_s > 0 ? Rounded(per_s / peer_per_s) : 0;
}

// Says why loadgen stops (`what` failed) and returns its exit status.
int Fail(absl::string_view what, const absl::Status& status) {
  std::cerr << "loadgen: " << what << (what.empty() ? "" : ": ") << status << std::endl;
  return 1;
}

int Main(int argc, char** argv) {
  std::vector<std::string> herald_args = TakeHeraldArgs(argc, argv);
  absl::ParseCommandLine(argc, argv);
  const int per_trigger = absl::GetFlag(FLAGS_recipients_per_trigger);
  const int triggers = absl::GetFlag(FLAGS_triggers);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const int trigger_batch = absl::GetFlag(FLAGS_trigger_batch);
  const int batch_window_ms = absl::GetFlag(FLAGS_batch_window);
  const double noisy_rate = absl::GetFlag(FLAGS_noisy_rate);
  const bool batch = batch_window_ms > 0;
  auto usage = [](const std::string& message) {
    std::cerr << "loadgen: " << message << std::endl;
    return 2;
  };
  if (per_trigger < 1 || per_trigger > 1000 || triggers < 1) {
    return usage("--recipients_per_trigger must be 1..1000 and --triggers >= 1");
  }
  if (trigger_batch < 0 || trigger_batch > 1000) return usage("--trigger_batch must be 0..1000");
  if (batch_window_ms < 0) return usage("--batch_window must be >= 0 (milliseconds)");
  if (noisy_rate < 0) return usage("--noisy_rate must be >= 0");
  if (noisy_rate > 0 && rate <= 0) {
    return usage("--noisy_rate needs --rate (the main tenant's pace; the noisy pool is sized from both)");
  }

  OwnHerald own;
  std::string addr = absl::GetFlag(FLAGS_addr);
  std::string redis_address = absl::GetFlag(FLAGS_redis);
  if (addr.empty()) {
    auto started = own.StartRedis();
    if (!started.ok()) return Fail("", started.status());
    redis_address = *started;
  } else if (redis_address.empty()) {
    return usage("--addr needs --redis to count feed items");
  } else if (absl::GetFlag(FLAGS_webhook_sink) || absl::GetFlag(FLAGS_smtp_sink) || batch || !herald_args.empty()) {
    return usage("--webhook_sink, --smtp_sink, --batch_window and --herald_arg need loadgen's own Herald (no --addr)");
  }
  auto endpoint = redis::ParseEndpoint(redis_address);
  if (!endpoint.ok()) return usage(endpoint.status().ToString());
  auto redis = redis::ConnectRedis(*endpoint);
  if (!redis.ok()) return Fail("", redis.status());

  const int window = absl::GetFlag(FLAGS_concurrency);
  std::vector<Run> runs = MakeRuns();
  if (absl::Status identified = Identify(**redis, runs, partitions); !identified.ok()) {
    return Fail("identifying the recipients", identified);
  }
  FeedReader reader(**redis, partitions);
  for (Run& run : runs) {
    auto before = reader.ItemsPerUser(run.spec);
    if (!before.ok()) return Fail("counting feed items", before.status());
    run.before = std::move(*before);
  }

  // What one counting poll adds to commandstats, measured before loadgen's
  // own Herald starts (nothing else runs then).
  WaitSettings wait;
  wait.batch = batch;
  wait.batch_window_ms = batch_window_ms;
  auto footprint = MeasureFootprint(**redis, reader.PollCommands(Specs(runs)), 3);
  if (!footprint.ok()) return Fail("measuring the counting poll", footprint.status());
  wait.poll_footprint = std::move(*footprint);

  if (addr.empty()) {
    auto started = own.StartHerald(OwnHeraldSettings(herald_args));
    if (!started.ok()) return Fail("", started.status());
    addr = *started;
  }
  auto channel = grpc::CreateChannel(addr, grpc::InsecureChannelCredentials());
  // Bare unary calls first: the same server, client and window, no work.
  const int baseline_calls = absl::GetFlag(FLAGS_baseline_calls);
  const double baseline_per_s = baseline_calls > 0 ? BareCallsPerSecond(channel, baseline_calls, window) : 0;

  // Redis right before the first trigger.
  auto redis_before = ReadRedisInfo(**redis);
  if (!redis_before.ok()) return Fail("INFO", redis_before.status());

  StallMonitor stalls;
  wait.run_start_us = NowMicros();
  SendLoads(runs, addr, channel);
  wait.sending_ended = Clock::now();
  wait.give_up = Clock::now() + std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s));

  std::vector<SinkRun> sinks;
  if (own.webhook_sink() != nullptr) sinks.push_back({"webhook", "hooks", own.webhook_sink(), {}});
  if (own.smtp_sink() != nullptr) sinks.push_back({"smtp", "mail", own.smtp_sink(), {}});
  // One message per channel for each feed item (with a batch step the
  // items are what the poll counted).
  int64_t messages_owed = 0;
  auto waited = WaitForFeeds(**redis, reader, runs, wait, [&](int64_t items_counted) {
    messages_owed = items_counted;
    if (!batch) {
      messages_owed = 0;
      for (const Run& run : runs) messages_owed += run.Owed();
    }
    WaitForSinks(sinks, messages_owed, wait.give_up);
  });
  stalls.Stop();
  if (!waited.ok()) return Fail("reading the feeds", waited.status());
  const auto& [redis_after, excluded] = *waited;

  std::vector<double> latencies;
  int64_t items = 0, activities = 0, lost = 0, doubled = 0, refused = 0, failed = 0;
  int64_t last_insert_us = wait.run_start_us;
  for (const Run& run : runs) {
    latencies.insert(latencies.end(), run.landed.latencies_ms.begin(), run.landed.latencies_ms.end());
    items += run.landed.items_total;
    activities += run.landed.activities_total;
    lost += run.Lost(batch);
    doubled += run.Doubled(batch);
    refused += run.counters->refused();
    failed += run.counters->failed();
    last_insert_us = std::max(last_insert_us, run.landed.last_insert_us);
  }
  const double seconds = std::max(1e-6, (last_insert_us - wait.run_start_us) / 1e6);
  const Run& main_run = runs[0];
  const double triggers_per_s = main_run.sent.triggers / main_run.sent.seconds;
  const double notifications_per_s = items / seconds;
  // Workflow runs written to feeds: an activity each with a batch step,
  // else an item each.
  const double runs_per_s = (batch ? activities : items) / seconds;
  nlohmann::json result = {
      {"triggers_per_s", std::round(triggers_per_s)},
      {"notifications_per_s", std::round(notifications_per_s)},
  };
  if (trigger_batch > 0) result["runs_per_s"] = std::round(runs_per_s);
  if (batch) result["activities_per_s"] = std::round(runs_per_s);
  result.update(Percentiles(latencies));
  result.update({
      {"lost", lost},
      {"doubled", doubled},
      {"refused", refused},
      {"failed_calls", failed},
      {"notifications", items},
      {"seconds", Rounded(seconds)},
      {"triggers", triggers},
      {"recipients_per_trigger", per_trigger},
      {"trigger_batch", trigger_batch},
      {"batch_window_ms", batch_window_ms},
      {"tenant", main_run.spec.tenant},
      {"rate", rate},
      {"concurrency", window},
      {"target", absl::GetFlag(FLAGS_addr).empty() ? "own" : addr},
      {"bare_calls_per_s", std::round(baseline_per_s)},
      {"triggers_vs_bare_calls", baseline_per_s > 0 ? Rounded(triggers_per_s / baseline_per_s) : 0},
      {"scheduler", stalls.Report()},
  });
  if (batch) result["activities"] = activities;
  result.update(CostReport(*redis_before, redis_after, excluded, items, batch ? activities : 0));
  if (runs.size() > 1) {
    for (const Run& run : runs) result["tenants"][run.spec.name] = LoadReport(run, batch);
  }
  bool deliveries_ok = true;
  ReportSinks(sinks, own.metrics_port(), messages_owed, wait.run_start_us, notifications_per_s, result, &deliveries_ok);

  if (absl::GetFlag(FLAGS_compare_peer)) {
    own.Stop();  // the peer gets the machine alone
    // The peer digests every event: compare activities with a batch step.
    ComparePeer(main_run, batch ? runs_per_s : notifications_per_s, result);
  }
  std::cout << result.dump() << std::endl;
  return lost == 0 && doubled == 0 && deliveries_ok ? 0 : 3;
}

}  // namespace
}  // namespace herald::bench

int main(int argc, char** argv) { return herald::bench::Main(argc, argv); }
