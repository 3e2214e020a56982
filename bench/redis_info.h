// What one look at a bench's redis-server says (INFO cpu, memory and
// commandstats in one call): the CPU it used so far, its memory and the
// calls and time of every command. Shared by bench/loadgen, open_batches
// and object_fanout, which report deltas between two looks.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "redis/client.h"

namespace herald::bench {

struct CommandStat {
  double calls = 0;
  double usec = 0;
};
// By command name as INFO commandstats spells it ("evalsha", "client|setname").
using CommandStats = std::map<std::string, CommandStat>;

struct RedisInfo {
  double cpu_us = 0;  // used_cpu_sys + used_cpu_user
  int64_t used_memory = 0;
  int64_t used_memory_peak = 0;
  // used_memory without the clients' and the AOF's buffers: what the data
  // holds.
  int64_t data_bytes = 0;
  CommandStats commands;
};

// One INFO cpu memory commandstats. INTERNAL when a field is missing.
absl::StatusOr<RedisInfo> ReadRedisInfo(redis::RedisClient& redis);

// after - before, per command (commands absent before count from 0).
CommandStats Delta(const CommandStats& after, const CommandStats& before);

}  // namespace herald::bench
