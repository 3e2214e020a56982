// Every message of one user, in bounded chunks: deleting them (user
// delete) and moving them to another user (merge). A user's messages are
// the feed items of every feed (active and archived) and the records outside the
// feed (not_sent, undelivered, queued deliveries). Each chunk is one script
// on one partition, so a large feed never blocks Redis, and every step can
// be repeated after a crash without losing or doubling an item.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "redis/client.h"

namespace herald::messages {

// Deletes up to `limit` of the user's messages; once none remain, deletes
// every other key of the user (feed sets, profile, preferences, channel
// data, subscriptions set, records set). Reply {keys deleted, 1 = more}.
redis::Command DeleteUserChunkCommand(const Keys& keys, const std::string& user, int limit);

// One message as it moves between users.
struct MovedMessage {
  bool in_feed = false;  // feed item (else a record outside the feed)
  std::string id;
  // HGETALL pairs; a named feed's item also has 'feed' (its feed's name).
  std::vector<std::string> fields;
};

// The first `limit` of the user's messages, with their fields (read-only).
redis::Command TakeChunkCommand(const Keys& keys, const std::string& user, int limit);
absl::StatusOr<std::vector<MovedMessage>> ParseTakeChunkReply(const redis::Reply& reply);

// Writes the messages into `user`'s feed / records (new feed sequence
// numbers, same seen/read/archived state); skips those already adopted.
// `now_us`: the lowest feed sequence number to give (feed items get new ones).
redis::Command AdoptCommand(const Keys& keys, const std::string& user, const std::vector<MovedMessage>& messages,
                            int64_t now_us);

// Removes the messages from `user` (and deletes those not adopted in
// place, i.e. adopted into another partition).
redis::Command ReleaseCommand(const Keys& keys, const std::string& user, const std::vector<MovedMessage>& messages);

}  // namespace herald::messages
