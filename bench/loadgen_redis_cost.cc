#include "bench/loadgen_redis_cost.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::bench {
namespace {

double Rounded(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}

}  // namespace

bool IsLoadgenCommand(const std::string& name) { return name == "eval" || name == "info"; }

absl::StatusOr<CommandStats> MeasureFootprint(redis::RedisClient& redis, const std::vector<redis::Command>& commands,
                                              int rounds) {
  // Per command: the fewest calls any round made (what Herald did
  // meanwhile comes and goes), at the mean µs per call over every round.
  std::map<std::string, double> fewest, calls, usec;
  for (int round = 0; round < rounds; ++round) {
    auto before = ReadRedisInfo(redis);
    if (!before.ok()) return before.status();
    if (absl::Status sent = redis::FirstError(redis.Pipeline(commands)); !sent.ok()) return sent;
    auto after = ReadRedisInfo(redis);
    if (!after.ok()) return after.status();
    CommandStats delta = Delta(after->commands, before->commands);
    for (const auto& [name, stat] : delta) {
      calls[name] += stat.calls;
      usec[name] += stat.usec;
      if (round == 0) fewest[name] = stat.calls;
    }
    for (auto& [name, least] : fewest) {
      auto it = delta.find(name);
      least = std::min(least, it == delta.end() ? 0.0 : it->second.calls);
    }
  }
  CommandStats footprint;
  for (const auto& [name, least] : fewest) {
    if (IsLoadgenCommand(name) || least <= 0) continue;
    footprint[name] = {least, least * usec[name] / calls[name]};
  }
  return footprint;
}

void Exclusions::Add(const CommandStats& footprint, double times) {
  for (const auto& [name, stat] : footprint) {
    if (IsLoadgenCommand(name)) continue;
    commands_[name].calls += stat.calls * times;
    commands_[name].usec += stat.usec * times;
  }
}

nlohmann::json CostReport(const RedisInfo& before, const RedisInfo& after, const Exclusions& excluded,
                          int64_t notifications, int64_t activities, size_t top) {
  CommandStats delta = Delta(after.commands, before.commands);
  // Loadgen's own: EVAL (its scripts, with what they call) and INFO.
  double loadgen_us = 0;
  for (const auto& [name, stat] : delta) {
    if (IsLoadgenCommand(name)) loadgen_us += stat.usec;
  }
  std::vector<std::pair<std::string, CommandStat>> herald;
  for (const auto& [name, stat] : delta) {
    if (IsLoadgenCommand(name)) continue;
    CommandStat own = stat;
    auto mine = excluded.commands().find(name);
    if (mine != excluded.commands().end()) {
      own.calls = std::max(0.0, own.calls - mine->second.calls);
      own.usec = std::max(0.0, own.usec - mine->second.usec);
    }
    if (own.calls > 0) herald.emplace_back(name, own);
  }
  std::sort(herald.begin(), herald.end(), [](const auto& a, const auto& b) { return a.second.usec > b.second.usec; });
  if (herald.size() > top) herald.resize(top);

  const double cpu_us = after.cpu_us - before.cpu_us - loadgen_us;
  const double bytes = static_cast<double>(after.used_memory - before.used_memory);
  const double per = 1.0 / std::max<int64_t>(1, notifications);
  nlohmann::json commands = nlohmann::json::array();
  for (const auto& [name, stat] : herald) {
    commands.push_back({{"command", name},
                        {"calls_per_notification", Rounded(stat.calls * per, 3)},
                        {"us_per_notification", Rounded(stat.usec * per, 3)}});
  }
  nlohmann::json report = {
      {"redis_cpu_us_per_notification", Rounded(cpu_us * per, 2)},
      {"redis_bytes_per_notification", std::round(bytes * per)},
      {"redis_used_memory_after", after.used_memory},
      {"redis_top_commands", commands},
      {"redis_loadgen_us_excluded", std::round(loadgen_us)},
  };
  if (activities > 0) {
    report["redis_cpu_us_per_activity"] = Rounded(cpu_us / activities, 2);
    report["redis_bytes_per_activity"] = std::round(bytes / activities);
  }
  return report;
}

}  // namespace herald::bench
