// What landed in the feeds of bench/loadgen's recipients, read only through
// the tool commands of feed/feed_store.h (CountItemsCommand,
// ItemTimesCommand), never through the feed's keys, so the feed's layout can
// change under it. Every script call is sent as plain EVAL with the script's
// body: Herald calls its scripts with EVALSHA (redis::Script::Call), so
// `cmdstat_eval` in INFO commandstats is loadgen's alone and its cost can be
// left out of Herald's (see loadgen_redis_cost.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/loadgen_load.h"
#include "redis/client.h"

namespace herald::bench {

// `evalsha` (EVALSHA sha numkeys ...) as EVAL body numkeys ...; the sha must
// be a registered redis::Script.
redis::Command AsEval(redis::Command evalsha);

// What one load's recipients got since a point in time.
struct Landed {
  std::vector<int64_t> items;        // per pool index: new feed items
  std::vector<int64_t> activities;   // per pool index: the new items' activities, summed
  std::vector<double> latencies_ms;  // inserted - accepted (newest trigger) of each new item
  int64_t last_insert_us = 0;        // the newest item's inserted time; 0 = none
  int64_t items_total = 0, activities_total = 0;
};

// Not thread-safe (one Redis connection, one caller).
class FeedReader {
 public:
  FeedReader(redis::RedisClient& redis, int partitions);

  // Items in every feed of `loads`' pools: one CountItems call per
  // partition. Poll() sends exactly PollCommands().
  absl::StatusOr<int64_t> Poll(const std::vector<const LoadSpec*>& loads);
  std::vector<redis::Command> PollCommands(const std::vector<const LoadSpec*>& loads) const;

  // Items in each feed of `load`'s pool (one script call per user).
  absl::StatusOr<std::vector<int64_t>> ItemsPerUser(const LoadSpec& load);

  // The items each user of `load` got beyond `before` (ItemsPerUser taken
  // earlier), their activities and, for items of triggers accepted at or
  // after `since_us`, their latency.
  absl::StatusOr<Landed> ReadLanded(const LoadSpec& load, const std::vector<int64_t>& before, int64_t since_us);

 private:
  // Sends `commands` in pipelines of a few thousand; every reply or the
  // first error.
  absl::StatusOr<std::vector<redis::Reply>> Send(const std::vector<redis::Command>& commands);

  redis::RedisClient& redis_;
  const int partitions_;
};

}  // namespace herald::bench
