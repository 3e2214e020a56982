// What Redis spent on a run of bench/loadgen: CPU (INFO cpu), memory (INFO
// memory) and commands (INFO commandstats) sampled before the first trigger
// and after the last item landed, with loadgen's own reads taken out.
//
// Loadgen's reads are recognisable: every script it runs goes out as plain
// EVAL (loadgen_feeds.h) while Herald sends EVALSHA, and it sends INFO,
// which Herald does not. So `eval` and `info` are loadgen's whole: their
// usec leave the CPU figure and they leave the command list. The commands
// its scripts call inside Redis are counted under their own names too
// (ZCARD, ...), mixed with Herald's; those are taken out by measuring what
// one round of the counting poll adds to commandstats (MeasureFootprint,
// before Herald starts) and subtracting that once per poll sent during the run,
// plus the measured bracket of any verification that had to be repeated.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/redis_info.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"

namespace herald::bench {

// Commands only loadgen sends; wholly excluded.
bool IsLoadgenCommand(const std::string& name);

// What sending `commands` once adds to commandstats, other than
// IsLoadgenCommand ones (those are excluded whole). Measured over `rounds`
// rounds, each between two INFO samples, keeping per command the fewest
// calls of any round, so that what a running Herald does meanwhile mostly
// stays out (loadgen measures before its own Herald starts: nothing else
// runs then).
absl::StatusOr<CommandStats> MeasureFootprint(redis::RedisClient& redis, const std::vector<redis::Command>& commands,
                                              int rounds);

// Loadgen's commands between two samples that are not IsLoadgenCommand:
// what its scripts called. Accumulated, then subtracted from the delta.
class Exclusions {
 public:
  // `footprint` once per `times`.
  void Add(const CommandStats& footprint, double times);
  const CommandStats& commands() const { return commands_; }

 private:
  CommandStats commands_;
};

// The JSON fields of the run's Redis cost, per notification (feed item
// written) and, when `activities` > 0 (a batch step), per activity:
// redis_cpu_us_per_notification, redis_bytes_per_notification,
// redis_used_memory_after, redis_top_commands (the `top` commands by usec,
// each with calls and µs per notification), redis_loadgen_us_excluded.
nlohmann::json CostReport(const RedisInfo& before, const RedisInfo& after, const Exclusions& excluded,
                          int64_t notifications, int64_t activities, size_t top = 8);

}  // namespace herald::bench
