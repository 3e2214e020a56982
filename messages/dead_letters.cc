#include "messages/dead_letters.h"

#include <algorithm>
#include <functional>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/keys.h"
#include "messages/delivery_state.h"
#include "messages/message_history.h"
#include "messages/message_store.h"

namespace herald::messages {
namespace {

// How many dead letters one selection call walks per partition and round.
constexpr int kSelectChunk = 500;

struct Position {
  int partition = 0;
  std::string id;
  int64_t score = 0;
};

// "p:score,p:score": per partition, the score of the last dead letter
// listed (scores are unique within a partition).
absl::StatusOr<std::map<int, int64_t>> ParseCursor(const std::string& after, int partitions) {
  std::map<int, int64_t> positions;
  if (after.empty()) return positions;
  for (absl::string_view part : absl::StrSplit(after, ',')) {
    std::pair<std::string, std::string> fields = absl::StrSplit(part, absl::MaxSplits(':', 1));
    int partition = 0;
    int64_t score = 0;
    if (!absl::SimpleAtoi(fields.first, &partition) || !absl::SimpleAtoi(fields.second, &score) || partition < 0 ||
        partition >= partitions) {
      return absl::InvalidArgumentError("after: not a cursor of ListDeadLetters");
    }
    positions[partition] = score;
  }
  return positions;
}

std::string Cursor(const std::map<int, int64_t>& positions) {
  std::string cursor;
  for (const auto& [partition, score] : positions) {
    absl::StrAppend(&cursor, cursor.empty() ? "" : ",", partition, ":", score);
  }
  return cursor;
}

redis::Command RangeAfter(const Keys& keys, const std::map<int, int64_t>& positions, int64_t max_score, int count) {
  auto found = positions.find(keys.partition());
  const std::string min = found == positions.end() ? "-inf" : absl::StrCat("(", found->second);
  return {"ZRANGE", keys.DeadLetters(), min, max_score < 0 ? "+inf" : std::to_string(max_score), "BYSCORE", "LIMIT",
          "0", std::to_string(count), "WITHSCORES"};
}

std::string FieldOf(const redis::Reply& hash, const char* name) {
  for (size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
    if (hash.elements[i].str == name) return hash.elements[i + 1].str;
  }
  return "";
}

// Ids of every partition's dead letters the selection names, grouped by
// partition (listed ids are found in whichever partition holds them).
absl::StatusOr<std::map<int, std::vector<std::string>>> Select(redis::RedisClient& client, int partitions,
                                                               const v1::DeadLetterSelection& selection,
                                                               int64_t now_us) {
  std::map<int, std::vector<std::string>> selected;
  if (selection.message_ids_size() > 0) {
    std::vector<redis::Command> lookups;
    for (const std::string& id : selection.message_ids()) {
      for (int p = 0; p < partitions; ++p) lookups.push_back({"ZSCORE", Keys(p).DeadLetters(), id});
    }
    auto replies = client.Pipeline(lookups);
    for (size_t i = 0; i < replies.size(); ++i) {
      if (!replies[i].ok()) return replies[i].status();
      if (!replies[i]->str.empty()) {
        selected[static_cast<int>(i % partitions)].push_back(selection.message_ids(static_cast<int>(i / partitions)));
      }
    }
    return selected;
  }
  const int64_t before = selection.dead_before_us() > 0 ? selection.dead_before_us() : now_us;
  for (int p = 0; p < partitions; ++p) {
    const Keys keys(p);
    std::map<int, int64_t> position;
    while (true) {
      auto page = client.Execute(RangeAfter(keys, position, before - 1, kSelectChunk));
      if (!page.ok()) return page.status();
      if (page->elements.empty()) break;
      std::vector<redis::Command> hashes;
      for (size_t i = 0; i + 1 < page->elements.size(); i += 2) {
        hashes.push_back({"HGET", keys.Message(page->elements[i].str), "channel"});
      }
      auto channels = client.Pipeline(hashes);
      for (size_t i = 0; i + 1 < page->elements.size(); i += 2) {
        const auto& channel = channels[i / 2];
        if (!channel.ok()) return channel.status();
        if (selection.channel().empty() || channel->str == selection.channel()) {
          selected[p].push_back(page->elements[i].str);
        }
      }
      int64_t last = 0;
      absl::SimpleAtoi(page->elements[page->elements.size() - 1].str, &last);
      position[p] = last;
      if (page->elements.size() < 2 * kSelectChunk) break;
    }
  }
  return selected;
}

// Runs `command` (one partition's ids at a time, in chunks) over the dead
// letters `selection` names, in one round trip; returns the sum of the
// replies (how many were replayed or purged).
absl::StatusOr<int64_t> ForEachSelectedChunk(
    redis::RedisClient& client, int partitions, const v1::DeadLetterSelection& selection, int64_t now_us,
    const std::function<redis::Command(const Keys&, const std::vector<std::string>&)>& command) {
  auto selected = Select(client, partitions, selection, now_us);
  if (!selected.ok()) return selected.status();
  std::vector<redis::Command> commands;
  for (const auto& [partition, ids] : *selected) {
    for (size_t i = 0; i < ids.size(); i += kSelectChunk) {
      std::vector<std::string> chunk(ids.begin() + i, ids.begin() + std::min(ids.size(), i + kSelectChunk));
      commands.push_back(command(Keys(partition), chunk));
    }
  }
  int64_t total = 0;
  for (auto& reply : client.Pipeline(commands)) {
    if (!reply.ok()) return reply.status();
    total += reply->integer;
  }
  return total;
}

}  // namespace

std::vector<v1::DeliveryAttempt> AttemptsFromEvents(const std::vector<std::string>& events) {
  std::vector<v1::DeliveryAttempt> attempts;
  for (const std::string& text : events) {
    auto event = EventFromJson(text);
    if (event.ok() && event->has_attempt()) attempts.push_back(std::move(*event->mutable_attempt()));
  }
  return attempts;
}

absl::StatusOr<v1::ListDeadLettersResponse> ListDeadLetters(redis::RedisClient& client, int partitions,
                                                            const v1::ListDeadLettersRequest& request) {
  const int page_size = request.page_size() == 0 ? 20 : request.page_size();
  if (page_size < 1 || page_size > 100) return absl::InvalidArgumentError("page_size: must be between 1 and 100");
  auto positions = ParseCursor(request.after(), partitions);
  if (!positions.ok()) return positions.status();
  v1::ListDeadLettersResponse response;
  // Candidates from every partition, a page each, merged by score; a
  // channel filter may need more rounds (bounded).
  for (int round = 0; round < 20 && response.dead_letters_size() < page_size; ++round) {
    std::vector<redis::Command> ranges;
    for (int p = 0; p < partitions; ++p) ranges.push_back(RangeAfter(Keys(p), *positions, -1, page_size));
    auto replies = client.Pipeline(ranges);
    std::vector<Position> candidates;
    for (int p = 0; p < partitions; ++p) {
      if (!replies[p].ok()) return replies[p].status();
      const auto& elements = replies[p]->elements;
      for (size_t i = 0; i + 1 < elements.size(); i += 2) {
        Position position{p, elements[i].str, 0};
        absl::SimpleAtoi(elements[i + 1].str, &position.score);
        candidates.push_back(std::move(position));
      }
    }
    if (candidates.empty()) break;
    std::sort(candidates.begin(), candidates.end(), [](const Position& a, const Position& b) {
      return a.score != b.score ? a.score < b.score : a.partition < b.partition;
    });
    candidates.resize(std::min<size_t>(candidates.size(), page_size - response.dead_letters_size()));
    std::vector<redis::Command> reads;
    for (const Position& c : candidates) {
      reads.push_back({"HGETALL", Keys(c.partition).Message(c.id)});
      reads.push_back({"LRANGE", Keys(c.partition).MessageEvents(c.id), "0", "-1"});
    }
    auto records = client.Pipeline(reads);
    for (size_t i = 0; i < candidates.size(); ++i) {
      const Position& c = candidates[i];
      (*positions)[c.partition] = c.score;
      if (!records[2 * i].ok()) return records[2 * i].status();
      if (!records[2 * i + 1].ok()) return records[2 * i + 1].status();
      const redis::Reply& hash = *records[2 * i];
      if (hash.elements.empty()) continue;  // expired meanwhile
      if (!request.channel().empty() && FieldOf(hash, "channel") != request.channel()) continue;
      auto message = MessageFromReply(FieldOf(hash, "recipient"), c.id, hash);
      if (!message.ok()) continue;
      v1::DeadLetter* dead = response.add_dead_letters();
      *dead->mutable_message() = std::move(*message);
      dead->set_dead_at_us(c.score);
      std::vector<std::string> events;
      for (const auto& e : records[2 * i + 1]->elements) events.push_back(e.str);
      for (v1::DeliveryAttempt& attempt : AttemptsFromEvents(events)) *dead->add_attempts() = std::move(attempt);
    }
  }
  if (response.dead_letters_size() > 0) response.set_next_cursor(Cursor(*positions));
  return response;
}

absl::StatusOr<int64_t> ReplayDeadLetters(redis::RedisClient& client, int partitions,
                                          const v1::DeadLetterSelection& selection, int64_t now_us) {
  return ForEachSelectedChunk(client, partitions, selection, now_us,
                              [now_us](const Keys& keys, const std::vector<std::string>& ids) {
                                return ReplayDeadLettersCommand(keys, ids, now_us);
                              });
}

absl::StatusOr<int64_t> PurgeDeadLetters(redis::RedisClient& client, int partitions,
                                         const v1::DeadLetterSelection& selection, int64_t now_us) {
  return ForEachSelectedChunk(client, partitions, selection, now_us, PurgeDeadLettersCommand);
}

}  // namespace herald::messages
