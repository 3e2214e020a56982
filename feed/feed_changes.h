// The partition's feed change stream (Keys::FeedChanges), as written by
// feed/insert_many.lua and feed/mark.lua, and the cursors of its positions.
// Plain code with no I/O: the watcher (feed/redis_feed_watcher.h) reads the
// stream and hands entries here.
//
// Entry fields: an insert call writes 'a' 'i', 'c' one line per item
// "user\tfeed\ttenant\tid" (feed '' = main); a mark that changed something
// writes 'a' action, 'u' user, 'f' feed, 't' scope tenant, 'm' ms, then
// 'all' '1' or 'c' one line per item changed "id\ttenant".
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "feed/feed_watch.h"
#include "herald/v1/herald.pb.h"
#include "redis/reply.h"

namespace herald::feed {

// A stream entry id "ms-seq", comparable.
struct StreamId {
  uint64_t ms = 0;
  uint64_t seq = 0;
  friend bool operator<(const StreamId& a, const StreamId& b) {
    return a.ms != b.ms ? a.ms < b.ms : a.seq < b.seq;
  }
  friend bool operator==(const StreamId& a, const StreamId& b) { return a.ms == b.ms && a.seq == b.seq; }
  std::string ToString() const;
};
absl::StatusOr<StreamId> ParseStreamId(absl::string_view text);

// A position in a partition's change stream: line `line` (1-based) of
// entry `id` and everything before it. kWholeEntry: the whole entry.
struct ChangePosition {
  static constexpr uint32_t kWholeEntry = UINT32_MAX;
  StreamId id;
  uint32_t line = kWholeEntry;
  friend bool operator<(const ChangePosition& a, const ChangePosition& b) {
    return a.id == b.id ? a.line < b.line : a.id < b.id;
  }
  friend bool operator<=(const ChangePosition& a, const ChangePosition& b) { return !(b < a); }
};

// The opaque cursor text of a position ("f<ms>-<seq>[.<line>]"), and back:
// INVALID_ARGUMENT naming `after` for text no watcher made.
std::string EncodeCursor(const ChangePosition& position);
absl::StatusOr<ChangePosition> DecodeCursor(absl::string_view cursor);

// One change of one user's feed, at `position` of its partition's stream.
struct FeedChange {
  ChangePosition position;
  std::string user;
  std::string feed;    // '' = main
  std::string tenant;  // an inserted item's tenant; a mark's scope ('' = whole feed)
  bool inserted = false;
  std::string id;  // inserted: the item
  // A mark: the action, every item of the scope or the items changed with
  // their tenants, and when.
  v1::FeedAction action = v1::FEED_ACTION_UNSPECIFIED;
  bool all = false;
  std::vector<std::pair<std::string, std::string>> marked;  // {id, tenant}
  int64_t at_ms = 0;

  // Whether a subscription to `target` sees this change (its feed and user
  // are matched by the caller): an inserted item of its tenant scope; a
  // mark of the whole feed or of its tenant, or of ids in its scope.
  bool Concerns(const WatchTarget& target) const;
};

// The changes an entry (`fields`: its field/value list) holds, each at its
// line, those before `after_line` left out. Unknown entries give none.
std::vector<FeedChange> ParseChangeEntry(const StreamId& id, const std::vector<redis::Reply>& fields,
                                         uint32_t after_line = 0);

// The FeedItemsMarked of a mark as `target` sees it (the ids of its scope).
v1::FeedItemsMarked MarkedFor(const FeedChange& change, const WatchTarget& target);

v1::FeedAction ActionFromName(absl::string_view name);

}  // namespace herald::feed
