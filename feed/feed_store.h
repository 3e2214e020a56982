// The in-app feed in Redis (layout: feed/feed_layout.lua). Per user, an
// item is one record in a hash (written once) and one entry in an ordered
// index scored by its sequence (its insert time in microseconds, unique per
// partition), so cursors stay stable while new items arrive on top. Seen and
// read are watermarks plus small exception sets, so an insert writes nothing
// per state, mark-all is O(1) and the counts are O(log n). A feed item is
// also a message: messages/ reads it from here. Every mutation is one Lua
// script on the user's partition (feed/*.lua).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/keys.h"
#include "herald/v1/herald.pb.h"
#include "redis/client.h"

namespace herald::feed {

// What the fan-out writes for one in-app message.
struct NewItem {
  // id (deterministic: a replay finds it and writes nothing), workflow,
  // tenant, blocks, actors, totals, data_json, inserted_at_ms.
  v1::FeedItem item;
  std::string recipient;
  std::string channel;
  int64_t accepted_at_us = 0;  // when the (newest) trigger was accepted
  int64_t inserted_at_us = 0;
  // How preferences were applied when that needs saying (critical
  // workflows: "critical_workflow: bypassed user:channel_types.in_app_feed").
  std::string preferences;
  // The workflow run (batch id) the message id derives from.
  std::string workflow_run_id;
  // Which of the user's feeds ('' = "main"; a name ValidateFeedName
  // accepts: the workflow parser checked it).
  std::string feed;
};

// How long a message lives (its hash and events list; a feed item is
// removed from its feed once older): 30 days.
inline constexpr int64_t kDefaultMessageRetentionMs = int64_t{30} * 24 * 3600 * 1000;
inline constexpr int kDefaultFeedMaxItems = 1000;
// The partition's feed change stream (Keys::FeedChanges) keeps about this
// many entries (one per insert or mark call): how far back a watcher's
// cursor can resume.
inline constexpr int64_t kDefaultFeedChangesMaxLen = 100000;

struct InsertOptions {
  int64_t message_retention_ms = kDefaultMessageRetentionMs;
  // A user's feed keeps its newest `max_items` items (active and archived);
  // an insert beyond it deletes the oldest.
  int max_items = kDefaultFeedMaxItems;
  // Approximate length kept of the partition's feed change stream; 0: no
  // change is published (nobody can watch feeds).
  int64_t changes_max_len = kDefaultFeedChangesMaxLen;
};

// One EVALSHA that inserts every item (all of partition `keys`) unless its
// id is in its user's feed, logs each in keys.MessageLog() and trims each
// user's feed to options.max_items and the retention: one script call per
// read and partition, not per recipient. Reply: an array with each item's
// sequence number (its inserted_at_us), or 0 when it was already there.
// REQUIRES: `items` is not empty.
redis::Command InsertManyCommand(const Keys& keys, const std::vector<NewItem>& items,
                                 const InsertOptions& options = {});

inline constexpr int kDefaultPageSize = 20;
inline constexpr int kMaxPageSize = 100;

// Validates the request and returns the list command; INVALID_ARGUMENT
// naming `user_id`, `page_size`, `after`, `tenant`, `status` or `feed`.
absl::StatusOr<redis::Command> ListCommand(const Keys& keys, const v1::ListFeedRequest& request);
absl::StatusOr<v1::ListFeedResponse> ParseListReply(const v1::ListFeedRequest& request, const redis::Reply& reply);

// INVALID_ARGUMENT naming `action`, `ids`, `all`, `tenant` or `feed` when
// the request is malformed. The script itself answers NOT_FOUND (naming the
// id) when an id is not in this user's feed, before changing anything. A
// mark that changed something appends one entry to the partition's feed
// change stream, kept to about `changes_max_len` entries (0: none).
absl::StatusOr<redis::Command> MarkCommand(const Keys& keys, const v1::MarkFeedItemsRequest& request, int64_t now_ms,
                                           int64_t changes_max_len = kDefaultFeedChangesMaxLen);

// OK for '' (the main feed) and feed names; INVALID_ARGUMENT naming `field`.
absl::Status ValidateRequestFeed(const std::string& feed, const std::string& field = "feed");

// The list command reading back items `ids` of (user, feed) with the
// counts of the tenant scope (the feed watcher builds its events with it;
// items no longer in the feed are left out). Parse with ParseListReply
// (page size: ids.size()). REQUIRES: valid ids.
redis::Command ReadItemsCommand(const Keys& keys, const std::string& user, const std::string& feed,
                                const std::string& tenant, const std::vector<std::string>& ids);
absl::StatusOr<v1::MarkFeedItemsResponse> ParseMarkReply(const redis::Reply& reply);

// Message fields of a feed item (feed_item_fields in feed_layout.lua, or an
// older message hash) -> FeedItem.
v1::FeedItem ItemFromFields(const std::vector<redis::Reply>& fields);

}  // namespace herald::feed

namespace herald::feed {

// For tools that watch feeds fill up (bench/, soak): items (active and
// archived) in the feeds of `users`, all of `keys`' partition, summed in
// one script call. Reply: an integer.
redis::Command CountItemsCommand(const Keys& keys, const std::vector<std::string>& users);

// For tools: when the newest `count` items of `user`'s feed were accepted
// and inserted, their tenant and how many activities each carries (a
// batch's total). Parse with ParseItemTimesReply.
struct ItemTimes {
  int64_t accepted_at_us = 0;
  int64_t inserted_at_us = 0;
  std::string tenant;
  int64_t activities = 0;
};
redis::Command ItemTimesCommand(const Keys& keys, const std::string& user, int count);
std::vector<ItemTimes> ParseItemTimesReply(const redis::Reply& reply);

}  // namespace herald::feed

namespace herald::feed {

// Retention for feeds that get no new items (retention/ runs it): SCAN
// pattern matching every feed index of `keys`' partition (the main feed's
// and every named feed's; tenant-scope indexes match too and are skipped),
// the feed a matching key is the whole-user index of (nullopt for another
// key), and the command that removes that feed's items inserted before
// `cutoff_us` (and the feed's keys once it is empty). Reply: items removed.
struct FeedOfIndex {
  std::string user;
  std::string feed;  // "main" for the main feed
};
std::string FeedIndexPattern(const Keys& keys);
std::optional<FeedOfIndex> FeedOfIndexKey(const Keys& keys, absl::string_view key);
redis::Command SweepCommand(const Keys& keys, const FeedOfIndex& feed, int64_t cutoff_us);

}  // namespace herald::feed
