// A million open batches, then their flush, measured against a private
// redis-server (unix socket, AOF everysec as deployed; --aof=false drops
// it). Opens --batches batches (one recipient each, --activities_per_batch
// runs each) with the real append command (runs::AppendCommand, built by
// runs::BuildWaitAppend from a parsed workflow, as the batcher builds it),
// pipelined over --connections connections: no gRPC, so a million take
// seconds. Every batch is due within --spread_ms, starting --lead_ms after
// the flusher starts. Then it runs the real flusher (batcher::Flusher) until
// every batch is flushed and prints one JSON line:
//   - Redis bytes per pending activity (used_memory delta after opening,
//     without client and AOF buffers, / activities) and the same beyond the
//     activity's payload (its serialized Activity, what the fan-out gets);
//   - Redis commands and CPU per append and per claimed activity (INFO
//     commandstats / cpu deltas; commands run inside the scripts count, the
//     EVALSHA calls themselves are reported apart);
//   - flush lateness p50/p99/max: the clock when a claim's reply came back
//     minus the batch's due time, for every batch; the flush rate; how long
//     a PING sent every millisecond by another client took meanwhile (what
//     the flusher's scripts cost everyone else);
//   - Redis used_memory when every batch is open and its peak;
//   - what the wait store leaves once everything is flushed (keys by kind,
//     bytes per activity: the run records until they expire);
//   - lost / doubled activities, read back from the batches streams.
// Exits 1 when an activity was lost or doubled or a wait key was left.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <thread>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/redis_info.h"
#include "absl/strings/str_split.h"
#include "batcher/batcher.h"
#include "core/clock.h"
#include "core/ids.h"
#include "core/keys.h"
#include "herald/v1/pipeline.pb.h"
#include "nlohmann/json.hpp"
#include "prometheus/registry.h"
#include "redis/client.h"
#include "redis/embedded_server.h"
#include "runs/step_runner.h"
#include "runs/wait_store.h"
#include "workflow/parser.h"

ABSL_FLAG(int, batches, 1'000'000, "Open batches (one recipient each)");
ABSL_FLAG(int, activities_per_batch, 1, "Runs appended to each batch");
ABSL_FLAG(int, payload_bytes, 100, "Bytes of each activity's data JSON");
ABSL_FLAG(int, spread_ms, 10'000, "Due times spread evenly over this long (0: all due at once)");
ABSL_FLAG(int, lead_ms, 1'000, "The first batch is due this long after the flusher starts");
ABSL_FLAG(int, partitions, 4, "Herald partitions");
ABSL_FLAG(int, connections, 2, "Connections sending the appends");
ABSL_FLAG(int, pipeline, 1'000, "Appends per round trip");
ABSL_FLAG(bool, cancellation_key, false, "Give every run a cancellation key (adds the cancellation index)");
ABSL_FLAG(int, flush_tick_ms, herald::batcher::BatcherOptions().flush_tick_ms, "The flusher's tick (herald --flush_tick_ms)");
ABSL_FLAG(int, claim_limit, herald::batcher::BatcherOptions().claim_limit,
          "Waits one claim call takes per partition");
ABSL_FLAG(bool, aof, true, "Redis appendonly (everysec), as deployed");
ABSL_FLAG(bool, verify, true, "Read every flushed batch back (lost / doubled)");
ABSL_FLAG(int, timeout_s, 900, "Give up flushing after this long");
ABSL_FLAG(bool, memory_stats, false, "Print Redis MEMORY STATS and INFO memory to stderr once every batch is open");

namespace {

using herald::redis::Command;
using herald::bench::Delta;
using herald::bench::ReadRedisInfo;
using herald::bench::RedisInfo;
using herald::redis::RedisClient;
using SteadyClock = std::chrono::steady_clock;

#define OPEN_BATCHES_RETURN_IF_ERROR(expr) \
  do {                                     \
    absl::Status status_ = (expr);         \
    if (!status_.ok()) return status_;     \
  } while (false)

constexpr char kWorkflow[] = R"(key: digest
steps:
  - {ref: batch, type: batch, window: 10s, batch_key: "{{ data.post_id }}"}
  - ref: feed
    type: channel
    channel_type: in_app_feed
    template: {markdown: "{{ total_activities }} new comments on {{ data.post_id }}"}
)";

// Herald's clock moved back so that it reads `base_ms` when Start() is
// called: the batches were opened "at" base_ms, however long opening took.
class ShiftedClock final : public herald::Clock {
 public:
  explicit ShiftedClock(int64_t base_ms) : base_us_(base_ms * 1000) {}
  void Start() { offset_us_ = herald::SystemClock::Get().NowMicros() - base_us_; }
  int64_t NowMicros() const override { return herald::SystemClock::Get().NowMicros() - offset_us_.load(); }

 private:
  const int64_t base_us_;
  std::atomic<int64_t> offset_us_{0};
};

double Seconds(SteadyClock::duration elapsed) { return std::chrono::duration<double>(elapsed).count(); }

// What one look at Redis says (bench/redis_info.h) and how many keys it holds.
struct Snapshot {
  RedisInfo info;
  int64_t keys = 0;
};

absl::StatusOr<Snapshot> Look(RedisClient& redis) {
  Snapshot snapshot;
  auto info = ReadRedisInfo(redis);
  if (!info.ok()) return info.status();
  snapshot.info = *std::move(info);
  auto keys = redis.Execute({"DBSIZE"});
  if (!keys.ok()) return keys.status();
  snapshot.keys = keys->integer;
  return snapshot;
}

double Round(double value, int digits) { return std::stod(absl::StrFormat("%.*f", digits, value)); }

// Commands run between two snapshots, per `per` (a unit: appends, claimed
// activities), without the bench's own INFO/DBSIZE; the script calls
// themselves (EVALSHA) are counted apart.
struct CommandCounts {
  double per_unit = 0;
  double scripts_per_unit = 0;
  double script_us_per_unit = 0;  // time inside the scripts (their commands included)
  nlohmann::ordered_json by_command;
};

CommandCounts CountCommands(const Snapshot& before, const Snapshot& after, double per) {
  // The bench's own looks, and the connections' script loading.
  static const std::set<std::string> kNotWork = {"info", "dbsize", "script", "ping", "hello", "client", "command"};
  std::vector<std::pair<double, std::string>> counted;
  CommandCounts counts;
  for (const auto& [name, delta] : Delta(after.info.commands, before.info.commands)) {
    if (delta.calls <= 0 || kNotWork.count(name.substr(0, name.find('|')))) continue;
    if (name == "evalsha" || name == "eval") {
      counts.scripts_per_unit += delta.calls / per;
      counts.script_us_per_unit += delta.usec / per;
      continue;
    }
    counted.emplace_back(delta.calls, name);
    counts.per_unit += delta.calls / per;
  }
  std::sort(counted.rbegin(), counted.rend());
  counts.by_command = nlohmann::ordered_json::object();
  for (const auto& [delta, name] : counted) counts.by_command[name] = Round(delta / per, 3);
  return counts;
}

// The q-quantile of `sorted` (nearest rank); 0 when empty.
template <typename T>
double PercentileOf(const std::vector<T>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t at = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  return static_cast<double>(sorted[std::min(at == 0 ? 0 : at - 1, sorted.size() - 1)]);
}

// The key's kind: the part after "herald:{p}:" up to the next ':'.
std::string KindOf(const std::string& key) {
  size_t close = key.find("}:");
  if (close == std::string::npos) return key;
  size_t start = close + 2;
  size_t end = key.find(':', start);
  return key.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

absl::StatusOr<std::map<std::string, int64_t>> KeysByKind(RedisClient& redis) {
  std::map<std::string, int64_t> kinds;
  std::string cursor = "0";
  do {
    auto reply = redis.Execute({"SCAN", cursor, "COUNT", "10000"});
    if (!reply.ok()) return reply.status();
    cursor = reply->elements[0].str;
    for (const auto& key : reply->elements[1].elements) ++kinds[KindOf(key.str)];
  } while (cursor != "0");
  return kinds;
}

// A data JSON of about `bytes` bytes for batch `batch`.
std::string Payload(int batch, int activity, int bytes) {
  std::string json = absl::StrCat(R"({"post_id":"post-)", batch, R"(","comment_id":"c-)", activity, R"(","text":")");
  const std::string tail = R"("})";
  size_t fill = bytes > static_cast<int>(json.size() + tail.size()) ? bytes - json.size() - tail.size() : 0;
  static const char kWords[] = "Looks great, shipping this on Monday after the review. ";
  for (size_t i = 0; i < fill; ++i) json.push_back(kWords[i % (sizeof(kWords) - 1)]);
  return json + tail;
}

struct OpenResult {
  int64_t opened = 0;
  int64_t joined = 0;
  double payload_bytes = 0;
};

// Sends the appends of every batch b with b % connections == connection.
absl::StatusOr<OpenResult> OpenBatches(const herald::redis::Endpoint& endpoint, const herald::workflow::Workflow& workflow,
                                       int connection, int64_t base_ms) {
  const int batches = absl::GetFlag(FLAGS_batches);
  const int per_batch = absl::GetFlag(FLAGS_activities_per_batch);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const size_t pipeline = static_cast<size_t>(absl::GetFlag(FLAGS_pipeline));
  const int spread_ms = absl::GetFlag(FLAGS_spread_ms);
  const int lead_ms = absl::GetFlag(FLAGS_lead_ms);
  const bool cancellation = absl::GetFlag(FLAGS_cancellation_key);
  herald::redis::ClientOptions client_options;
  client_options.command_timeout = absl::Seconds(60);
  auto redis = herald::redis::ConnectRedis(endpoint, client_options);
  if (!redis.ok()) return redis.status();
  OpenResult result;
  std::vector<Command> commands;
  auto send = [&]() -> absl::Status {
    for (auto& reply : (*redis)->Pipeline(commands)) {
      if (!reply.ok()) return reply.status();
      auto outcome = herald::runs::ParseAppendReply(*reply);
      if (!outcome.ok()) return outcome.status();
      if (*outcome == herald::runs::AppendOutcome::kOpened) {
        ++result.opened;
      } else if (*outcome == herald::runs::AppendOutcome::kJoined) {
        ++result.joined;
      } else {
        return absl::InternalError(absl::StrCat("append answered '", reply->str, "', expected opened or joined"));
      }
    }
    commands.clear();
    return absl::OkStatus();
  };
  const nlohmann::json tenant = nullptr;
  for (int b = connection; b < batches; b += absl::GetFlag(FLAGS_connections)) {
    const std::string recipient = absl::StrCat("user-", b);
    const herald::Keys keys(herald::PartitionOf(recipient, partitions));
    // Evenly spread, in no particular order (the golden ratio's multiples).
    const double fraction = std::fmod(static_cast<double>(b) * 0.6180339887498949, 1.0);
    const int64_t due_in_ms = lead_ms + static_cast<int64_t>(fraction * spread_ms);
    const nlohmann::json recipient_json = {{"id", recipient}};
    for (int j = 0; j < per_batch; ++j) {
      const std::string run_id = herald::DeterministicId({"open_batches", std::to_string(b), std::to_string(j)});
      herald::v1::internal::Activity activity;
      activity.set_actor(absl::StrCat("actor-", j));
      activity.set_data_json(Payload(b, j, absl::GetFlag(FLAGS_payload_bytes)));
      activity.set_accepted_at_us(base_ms * 1000);
      activity.set_run_id(run_id);
      activity.set_workflow_run_id(run_id);
      const nlohmann::json data = nlohmann::json::parse(activity.data_json());
      const nlohmann::json actor = {{"id", activity.actor()}};
      herald::templates::Context context;
      context.Set("data", &data);
      context.Set("recipient", &recipient_json);
      context.Set("actor", &actor);
      context.Set("tenant", &tenant);
      herald::runs::RunRef run{recipient, "", cancellation ? absl::StrCat("order-", b) : "", run_id};
      herald::runs::WaitAppend append = herald::runs::BuildWaitAppend(workflow, 0, run, activity, context, base_ms,
                                                                      herald::runs::kDefaultRunTtlSeconds);
      // Opened "at" base_ms, due at base_ms + due_in_ms.
      append.window_ms = due_in_ms;
      append.max_window_ms = due_in_ms;
      result.payload_bytes += static_cast<double>(append.activity_blob.size());
      commands.push_back(herald::runs::AppendCommand(keys, append));
      if (commands.size() >= pipeline) OPEN_BATCHES_RETURN_IF_ERROR(send());
    }
  }
  if (!commands.empty()) OPEN_BATCHES_RETURN_IF_ERROR(send());
  return result;
}

// Every flushed batch read back: lost and doubled activities.
struct Verified {
  int64_t entries = 0;
  int64_t lost = 0;
  int64_t doubled = 0;
  int64_t batches_not_full = 0;
};

absl::StatusOr<Verified> ReadBack(RedisClient& redis, int partitions, int64_t expected_activities, int per_batch) {
  Verified verified;
  std::vector<std::string> runs;
  runs.reserve(static_cast<size_t>(expected_activities));
  std::set<std::string> batch_ids;
  for (int p = 0; p < partitions; ++p) {
    const std::string stream = herald::Keys(p).Batches();
    std::string from = "-";
    while (true) {
      auto reply = redis.Execute({"XRANGE", stream, from, "+", "COUNT", "10000"});
      if (!reply.ok()) return reply.status();
      if (reply->elements.empty()) break;
      for (const auto& entry : reply->elements) {
        herald::v1::internal::BatchEnvelope envelope;
        if (entry.elements.size() < 2 || entry.elements[1].elements.size() < 2 ||
            !envelope.ParseFromString(entry.elements[1].elements[1].str)) {
          return absl::InternalError(absl::StrCat("unreadable batch entry ", entry.elements[0].str));
        }
        ++verified.entries;
        if (envelope.targets_size() != 1 || !batch_ids.insert(envelope.targets(0).batch_id()).second) {
          ++verified.doubled;
        }
        verified.batches_not_full += envelope.activities_size() != per_batch;
        for (const auto& activity : envelope.activities()) runs.push_back(activity.run_id());
      }
      from = absl::StrCat("(", reply->elements.back().elements[0].str);
    }
  }
  std::sort(runs.begin(), runs.end());
  const int64_t unique = std::unique(runs.begin(), runs.end()) - runs.begin();
  verified.doubled += static_cast<int64_t>(runs.size()) - unique;
  verified.lost = expected_activities - unique;
  return verified;
}

absl::StatusOr<nlohmann::ordered_json> Run() {
  const int batches = absl::GetFlag(FLAGS_batches);
  const int per_batch = absl::GetFlag(FLAGS_activities_per_batch);
  const int partitions = absl::GetFlag(FLAGS_partitions);
  const int connections = absl::GetFlag(FLAGS_connections);
  if (batches < 1) return absl::InvalidArgumentError("--batches must be positive");
  if (per_batch < 1) return absl::InvalidArgumentError("--activities_per_batch must be positive");
  if (partitions < 1) return absl::InvalidArgumentError("--partitions must be positive");
  if (connections < 1) return absl::InvalidArgumentError("--connections must be positive");
  if (absl::GetFlag(FLAGS_pipeline) < 1) return absl::InvalidArgumentError("--pipeline must be positive");
  if (absl::GetFlag(FLAGS_spread_ms) < 0 || absl::GetFlag(FLAGS_lead_ms) < 0) {
    return absl::InvalidArgumentError("--spread_ms and --lead_ms must not be negative");
  }
  if (absl::GetFlag(FLAGS_claim_limit) < 1 || absl::GetFlag(FLAGS_flush_tick_ms) < 1) {
    return absl::InvalidArgumentError("--claim_limit and --flush_tick_ms must be positive");
  }
  if (absl::GetFlag(FLAGS_payload_bytes) < 0) return absl::InvalidArgumentError("--payload_bytes must not be negative");
  const int64_t activities = static_cast<int64_t>(batches) * per_batch;

  auto workflow = herald::workflow::ParseWorkflow(kWorkflow, "open_batches.yaml");
  if (!workflow.ok()) return workflow.status();

  std::string dir =
      (std::filesystem::temp_directory_path() / ("herald-open-batches-" + std::to_string(getpid()))).string();
  struct RemoveDir {
    std::string dir;
    ~RemoveDir() {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  } remove_dir{dir};
  herald::redis::EmbeddedServerOptions server_options;
  server_options.data_dir = dir;
  server_options.append_only = absl::GetFlag(FLAGS_aof);
  auto server = herald::redis::EmbeddedServer::Start(server_options);
  if (!server.ok()) return server.status();
  herald::redis::ClientOptions client_options;
  client_options.command_timeout = absl::Seconds(60);
  auto redis = herald::redis::ConnectRedis((*server)->endpoint(), client_options);
  if (!redis.ok()) return redis.status();

  // Open every batch "at" base_ms, however long it takes.
  const int64_t base_ms = herald::SystemClock::Get().NowMillis();
  auto empty = Look(**redis);
  if (!empty.ok()) return empty.status();
  const auto opening = SteadyClock::now();
  std::vector<absl::StatusOr<OpenResult>> opened(connections, OpenResult{});
  {
    std::vector<std::thread> threads;
    for (int c = 0; c < connections; ++c) {
      threads.emplace_back([&, c] { opened[c] = OpenBatches((*server)->endpoint(), *workflow, c, base_ms); });
    }
    for (auto& thread : threads) thread.join();
  }
  const double open_seconds = Seconds(SteadyClock::now() - opening);
  OpenResult total;
  for (auto& result : opened) {
    if (!result.ok()) return result.status();
    total.opened += result->opened;
    total.joined += result->joined;
    total.payload_bytes += result->payload_bytes;
  }
  if (total.opened != batches) {
    return absl::InternalError(absl::StrCat(total.opened, " appends opened a batch, expected ", batches));
  }
  auto open = Look(**redis);
  if (!open.ok()) return open.status();
  const double payload_per_activity = total.payload_bytes / static_cast<double>(activities);
  const double bytes_per_activity = (open->info.data_bytes - empty->info.data_bytes) / static_cast<double>(activities);
  CommandCounts append_commands = CountCommands(*empty, *open, static_cast<double>(activities));
  if (absl::GetFlag(FLAGS_memory_stats)) {
    for (auto& reply : (*redis)->Pipeline({{"MEMORY", "STATS"}, {"INFO", "memory"}})) {
      if (!reply.ok()) return reply.status();
      for (size_t i = 0; i + 1 < reply->elements.size(); i += 2) {
        const auto& value = reply->elements[i + 1];
        std::cerr << reply->elements[i].str << "=" << (value.str.empty() ? std::to_string(value.integer) : value.str)
                  << " ";
      }
      std::cerr << reply->str << std::endl;
    }
  }
  std::cerr << "open_batches: " << batches << " batches (" << activities << " activities) opened in " << open_seconds
            << " s, " << bytes_per_activity << " bytes per pending activity" << std::endl;

  // Flush with the real flusher; lateness from its claim replies.
  ShiftedClock clock(base_ms);
  herald::batcher::BatcherOptions options;
  options.partitions = partitions;
  options.flush_tick_ms = absl::GetFlag(FLAGS_flush_tick_ms);
  options.claim_limit = absl::GetFlag(FLAGS_claim_limit);
  prometheus::Registry registry;
  herald::batcher::BatcherMetrics metrics(registry);
  std::vector<int64_t> lateness_ms;
  lateness_ms.reserve(static_cast<size_t>(batches));
  std::atomic<int64_t> flushed_batches{0};
  int64_t flushed_activities = 0, claims = 0, last_flush_ms = 0, largest_claim = 0;
  herald::batcher::Flusher flusher(
      (*server)->endpoint(), clock, options, metrics,
      [&](const herald::runs::ClaimResult& result, int64_t replied_at_ms) {
        for (const auto& wait : result.flushed) {
          lateness_ms.push_back(replied_at_ms - wait.due_ms);
          flushed_activities += wait.activities;
        }
        const int64_t flushed = static_cast<int64_t>(result.flushed.size());
        ++claims;
        largest_claim = std::max(largest_claim, flushed);
        if (flushed > 0) last_flush_ms = replied_at_ms;
        flushed_batches += flushed;
      });
  // Another client's view of Redis meanwhile: a PING every millisecond,
  // timed (how long the flusher's scripts hold everyone else up).
  std::atomic<bool> probing{true};
  std::vector<double> ping_ms;
  absl::Status probe_status;
  std::thread probe([&] {
    auto client = herald::redis::ConnectRedis((*server)->endpoint());
    if (!client.ok()) {
      probe_status = client.status();
      return;
    }
    while (probing.load()) {
      const auto sent = SteadyClock::now();
      auto pong = (*client)->Execute({"PING"});
      if (!pong.ok()) {
        probe_status = pong.status();
        return;
      }
      ping_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - sent).count());
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  const auto flushing = SteadyClock::now();
  clock.Start();
  flusher.Start();
  const auto give_up = flushing + std::chrono::seconds(absl::GetFlag(FLAGS_timeout_s));
  while (flushed_batches.load() < batches && SteadyClock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  flusher.Stop();  // joins the flusher's thread: its figures are ours now
  probing = false;
  probe.join();
  if (!probe_status.ok()) return probe_status;
  std::sort(ping_ms.begin(), ping_ms.end());
  if (flushed_batches.load() < batches) {
    return absl::DeadlineExceededError(
        absl::StrCat("only ", flushed_batches.load(), " of ", batches, " batches flushed in --timeout_s"));
  }
  auto flushed = Look(**redis);
  if (!flushed.ok()) return flushed.status();
  CommandCounts claim_commands = CountCommands(*open, *flushed, static_cast<double>(flushed_activities));
  std::sort(lateness_ms.begin(), lateness_ms.end());
  const int64_t first_due_ms = base_ms + absl::GetFlag(FLAGS_lead_ms);
  const double flush_window_s = std::max<int64_t>(last_flush_ms - first_due_ms, 1) / 1000.0;

  nlohmann::ordered_json verified_json = nullptr;
  bool ok = true;
  if (absl::GetFlag(FLAGS_verify)) {
    auto verified = ReadBack(**redis, partitions, activities, per_batch);
    if (!verified.ok()) return verified.status();
    verified_json = {{"batch_entries", verified->entries},
                     {"batches_not_full", verified->batches_not_full},
                     {"lost", verified->lost},
                     {"doubled", verified->doubled}};
    ok = verified->lost == 0 && verified->doubled == 0 && verified->entries == batches;
  }
  // What stays once every batch is out and the fan-out took the entries:
  // the run records (and cancellation indexes), until they expire.
  std::vector<Command> drop_streams;
  for (int p = 0; p < partitions; ++p) drop_streams.push_back({"DEL", herald::Keys(p).Batches()});
  for (auto& reply : (*redis)->Pipeline(drop_streams)) {
    if (!reply.ok()) return reply.status();
  }
  auto left = Look(**redis);
  if (!left.ok()) return left.status();
  auto kinds = KeysByKind(**redis);
  if (!kinds.ok()) return kinds.status();
  nlohmann::ordered_json kinds_json = nlohmann::ordered_json::object();
  for (const auto& [kind, count] : *kinds) {
    kinds_json[kind] = count;
    // Nothing of a wait may stay behind (every layout's names).
    static const std::set<std::string> kWaitKinds = {"timer", "waits", "delays", "wh", "due", "wa", "wo"};
    if (kWaitKinds.count(kind) != 0) ok = false;
  }

  return nlohmann::ordered_json{
      {"batches", batches},
      {"activities_per_batch", per_batch},
      {"partitions", partitions},
      {"cancellation_key", absl::GetFlag(FLAGS_cancellation_key)},
      {"aof", absl::GetFlag(FLAGS_aof)},
      {"activity_payload_bytes", Round(payload_per_activity, 1)},
      {"seconds_to_open", Round(open_seconds, 2)},
      {"appends_per_s", static_cast<int64_t>(std::round(static_cast<double>(activities) / open_seconds))},
      {"redis_bytes_per_pending_activity", Round(bytes_per_activity, 1)},
      {"redis_bytes_per_pending_activity_beyond_payload", Round(bytes_per_activity - payload_per_activity, 1)},
      {"redis_keys_per_batch", Round(static_cast<double>(open->keys - empty->keys) / batches, 2)},
      {"redis_used_memory_open_mib", Round(open->info.used_memory / (1024.0 * 1024.0), 1)},
      {"redis_commands_per_append", Round(append_commands.per_unit, 2)},
      {"redis_cpu_us_per_append", Round((open->info.cpu_us - empty->info.cpu_us) / activities, 2)},
      {"redis_script_us_per_append", Round(append_commands.script_us_per_unit, 2)},
      {"append_commands", append_commands.by_command},
      {"spread_ms", absl::GetFlag(FLAGS_spread_ms)},
      {"flush_tick_ms", options.flush_tick_ms},
      {"claim_limit", options.claim_limit},
      {"flush_lateness_ms",
       {{"p50", PercentileOf(lateness_ms, 0.50)},
        {"p99", PercentileOf(lateness_ms, 0.99)},
        {"p999", PercentileOf(lateness_ms, 0.999)},
        {"max", lateness_ms.empty() ? 0 : lateness_ms.back()}}},
      {"flush_rate_per_s", static_cast<int64_t>(std::round(batches / flush_window_s))},
      {"ping_during_flush_ms",
       {{"p50", Round(PercentileOf(ping_ms, 0.50), 2)},
        {"p99", Round(PercentileOf(ping_ms, 0.99), 2)},
        {"max", Round(ping_ms.empty() ? 0 : ping_ms.back(), 2)}}},
      {"claim_calls", claims},
      {"largest_claim", largest_claim},
      {"redis_commands_per_claimed_activity", Round(claim_commands.per_unit, 2)},
      {"redis_claim_calls_per_claimed_activity", Round(claim_commands.scripts_per_unit, 4)},
      {"redis_cpu_us_per_claimed_activity",
       Round((flushed->info.cpu_us - open->info.cpu_us) / static_cast<double>(flushed_activities), 2)},
      {"redis_script_us_per_claimed_activity", Round(claim_commands.script_us_per_unit, 2)},
      {"claim_commands", claim_commands.by_command},
      {"redis_used_memory_peak_mib", Round(flushed->info.used_memory_peak / (1024.0 * 1024.0), 1)},
      {"redis_bytes_left_per_activity_after_flush",
       Round((left->info.data_bytes - empty->info.data_bytes) / static_cast<double>(activities), 1)},
      {"keys_left_after_flush", kinds_json},
      {"verified", verified_json},
      {"ok", ok}};
}

}  // namespace

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  auto result = Run();
  if (!result.ok()) {
    std::cerr << "open_batches: " << result.status() << std::endl;
    return 1;
  }
  std::cout << result->dump() << std::endl;
  return (*result)["ok"].get<bool>() ? 0 : 1;
}
