#include "bench/redis_info.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::bench {
namespace {

// "calls=2,usec=9,usec_per_call=4.50,..." -> {2, 9}.
CommandStat ParseCommandStat(absl::string_view value) {
  CommandStat stat;
  for (absl::string_view field : absl::StrSplit(value, ',')) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(field, absl::MaxSplits('=', 1));
    if (kv.first == "calls") (void)absl::SimpleAtod(kv.second, &stat.calls);
    if (kv.first == "usec") (void)absl::SimpleAtod(kv.second, &stat.usec);
  }
  return stat;
}

}  // namespace

absl::StatusOr<RedisInfo> ReadRedisInfo(redis::RedisClient& redis) {
  auto reply = redis.Execute({"INFO", "cpu", "memory", "commandstats"});
  if (!reply.ok()) return reply.status();
  RedisInfo info;
  double sys = -1, user = -1;
  int64_t clients = 0, aof_buffer = 0;
  for (absl::string_view line : absl::StrSplit(reply->str, '\n')) {
    line = absl::StripTrailingAsciiWhitespace(line);
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
    if (kv.first == "used_cpu_sys") (void)absl::SimpleAtod(kv.second, &sys);
    if (kv.first == "used_cpu_user") (void)absl::SimpleAtod(kv.second, &user);
    if (kv.first == "used_memory") (void)absl::SimpleAtoi(kv.second, &info.used_memory);
    if (kv.first == "used_memory_peak") (void)absl::SimpleAtoi(kv.second, &info.used_memory_peak);
    if (kv.first == "mem_clients_normal") (void)absl::SimpleAtoi(kv.second, &clients);
    if (kv.first == "mem_aof_buffer") (void)absl::SimpleAtoi(kv.second, &aof_buffer);
    if (absl::ConsumePrefix(&kv.first, "cmdstat_")) info.commands[std::string(kv.first)] = ParseCommandStat(kv.second);
  }
  if (sys < 0 || user < 0 || info.used_memory <= 0) {
    return absl::InternalError("INFO cpu memory: used_cpu_sys, used_cpu_user or used_memory missing");
  }
  info.cpu_us = (sys + user) * 1e6;
  info.data_bytes = info.used_memory - clients - aof_buffer;
  return info;
}

CommandStats Delta(const CommandStats& after, const CommandStats& before) {
  CommandStats delta;
  for (const auto& [name, stat] : after) {
    auto was = before.find(name);
    CommandStat d = stat;
    if (was != before.end()) {
      d.calls -= was->second.calls;
      d.usec -= was->second.usec;
    }
    if (d.calls > 0 || d.usec > 0) delta[name] = d;
  }
  return delta;
}

}  // namespace herald::bench
