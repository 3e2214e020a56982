#include "bench/loadgen_feeds.h"

#include <algorithm>
#include <map>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "feed/feed_store.h"
#include "redis/script.h"

namespace herald::bench {
namespace {

constexpr size_t kPerPipeline = 5000;

}  // namespace

redis::Command AsEval(redis::Command evalsha) {
  const redis::Script* script = redis::Script::Find(evalsha.at(1));
  evalsha[0] = "EVAL";
  evalsha[1] = script->body();
  return evalsha;
}

FeedReader::FeedReader(redis::RedisClient& redis, int partitions) : redis_(redis), partitions_(partitions) {}

absl::StatusOr<std::vector<redis::Reply>> FeedReader::Send(const std::vector<redis::Command>& commands) {
  std::vector<redis::Reply> replies;
  replies.reserve(commands.size());
  for (size_t first = 0; first < commands.size(); first += kPerPipeline) {
    std::vector<redis::Command> part(commands.begin() + first,
                                     commands.begin() + std::min(commands.size(), first + kPerPipeline));
    for (auto& reply : redis_.Pipeline(part)) {
      if (!reply.ok()) return reply.status();
      replies.push_back(std::move(*reply));
    }
  }
  return replies;
}

std::vector<redis::Command> FeedReader::PollCommands(const std::vector<const LoadSpec*>& loads) const {
  // A script touches one slot: one call per partition.
  std::map<int, std::vector<std::string>> users;
  for (const LoadSpec* load : loads) {
    for (int i = 0; i < load->pool; ++i) {
      std::string id = load->UserId(i);
      users[PartitionOf(id, partitions_)].push_back(std::move(id));
    }
  }
  std::vector<redis::Command> commands;
  for (const auto& [partition, ids] : users) commands.push_back(AsEval(feed::CountItemsCommand(Keys(partition), ids)));
  return commands;
}

absl::StatusOr<int64_t> FeedReader::Poll(const std::vector<const LoadSpec*>& loads) {
  auto replies = Send(PollCommands(loads));
  if (!replies.ok()) return replies.status();
  int64_t total = 0;
  for (const redis::Reply& reply : *replies) total += reply.integer;
  return total;
}

absl::StatusOr<std::vector<int64_t>> FeedReader::ItemsPerUser(const LoadSpec& load) {
  std::vector<redis::Command> counts;
  for (int i = 0; i < load.pool; ++i) {
    const std::string id = load.UserId(i);
    counts.push_back(AsEval(feed::CountItemsCommand(Keys(PartitionOf(id, partitions_)), {id})));
  }
  auto replies = Send(counts);
  if (!replies.ok()) return replies.status();
  std::vector<int64_t> items;
  for (const redis::Reply& reply : *replies) items.push_back(reply.integer);
  return items;
}

absl::StatusOr<Landed> FeedReader::ReadLanded(const LoadSpec& load, const std::vector<int64_t>& before,
                                              int64_t since_us) {
  auto now = ItemsPerUser(load);
  if (!now.ok()) return now.status();
  Landed landed;
  landed.items.assign(load.pool, 0);
  landed.activities.assign(load.pool, 0);
  std::vector<int> read;  // pool indexes, in the order of `times`
  std::vector<redis::Command> times;
  for (int i = 0; i < load.pool; ++i) {
    landed.items[i] = (*now)[i] - before[i];
    landed.items_total += landed.items[i];
    if (landed.items[i] <= 0) continue;
    const std::string id = load.UserId(i);
    read.push_back(i);
    times.push_back(
        AsEval(feed::ItemTimesCommand(Keys(PartitionOf(id, partitions_)), id, static_cast<int>(landed.items[i]))));
  }
  auto replies = Send(times);
  if (!replies.ok()) return replies.status();
  for (size_t n = 0; n < read.size(); ++n) {
    std::vector<feed::ItemTimes> items = feed::ParseItemTimesReply((*replies)[n]);
    // Newest first, active then archived: the user's newest new items.
    if (items.size() > static_cast<size_t>(landed.items[read[n]])) items.resize(landed.items[read[n]]);
    for (const feed::ItemTimes& item : items) {
      landed.activities[read[n]] += item.activities;
      landed.activities_total += item.activities;
      landed.last_insert_us = std::max(landed.last_insert_us, item.inserted_at_us);
      if (item.accepted_at_us >= since_us) {
        landed.latencies_ms.push_back((item.inserted_at_us - item.accepted_at_us) / 1000.0);
      }
    }
  }
  return landed;
}

}  // namespace herald::bench
