#include "feed/feed_changes.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace herald::feed {

std::string StreamId::ToString() const { return absl::StrCat(ms, "-", seq); }

absl::StatusOr<StreamId> ParseStreamId(absl::string_view text) {
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(text, absl::MaxSplits('-', 1));
  StreamId id;
  if (!absl::SimpleAtoi(parts.first, &id.ms) || !absl::SimpleAtoi(parts.second, &id.seq)) {
    return absl::InternalError(absl::StrCat("feed changes: '", text, "' is not a stream id"));
  }
  return id;
}

std::string EncodeCursor(const ChangePosition& position) {
  if (position.line == ChangePosition::kWholeEntry) return absl::StrCat("f", position.id.ToString());
  return absl::StrCat("f", position.id.ToString(), ".", position.line);
}

absl::StatusOr<ChangePosition> DecodeCursor(absl::string_view cursor) {
  const absl::Status bad = absl::InvalidArgumentError("after: not a cursor of a feed event");
  if (!absl::ConsumePrefix(&cursor, "f")) return bad;
  ChangePosition position;
  std::pair<absl::string_view, absl::string_view> parts = absl::StrSplit(cursor, absl::MaxSplits('.', 1));
  if (cursor.find('.') != absl::string_view::npos) {
    uint32_t line = 0;
    if (!absl::SimpleAtoi(parts.second, &line) || line == 0 || line == ChangePosition::kWholeEntry) return bad;
    position.line = line;
  }
  auto id = ParseStreamId(parts.first);
  if (!id.ok() || parts.first.find('-') == absl::string_view::npos) return bad;
  position.id = *id;
  return position;
}

v1::FeedAction ActionFromName(absl::string_view name) {
  static constexpr std::pair<absl::string_view, v1::FeedAction> kNames[] = {
      {"seen", v1::FEED_ACTION_SEEN},         {"unseen", v1::FEED_ACTION_UNSEEN},
      {"read", v1::FEED_ACTION_READ},         {"unread", v1::FEED_ACTION_UNREAD},
      {"interacted", v1::FEED_ACTION_INTERACTED}, {"uninteracted", v1::FEED_ACTION_UNINTERACTED},
      {"archived", v1::FEED_ACTION_ARCHIVED}, {"unarchived", v1::FEED_ACTION_UNARCHIVED},
  };
  for (const auto& [text, action] : kNames) {
    if (text == name) return action;
  }
  return v1::FEED_ACTION_UNSPECIFIED;
}

bool FeedChange::Concerns(const WatchTarget& target) const {
  if (target.tenant.empty()) return true;
  if (inserted) return tenant == target.tenant;
  if (all) return tenant.empty() || tenant == target.tenant;
  for (const auto& [id, item_tenant] : marked) {
    if (item_tenant == target.tenant) return true;
  }
  return false;
}

v1::FeedItemsMarked MarkedFor(const FeedChange& change, const WatchTarget& target) {
  v1::FeedItemsMarked marked;
  marked.set_action(change.action);
  marked.set_all(change.all);
  marked.set_tenant(change.tenant);
  marked.set_at_ms(change.at_ms);
  for (const auto& [id, tenant] : change.marked) {
    if (target.tenant.empty() || tenant == target.tenant) marked.add_ids(id);
  }
  return marked;
}

std::vector<FeedChange> ParseChangeEntry(const StreamId& id, const std::vector<redis::Reply>& fields,
                                         uint32_t after_line) {
  std::vector<FeedChange> changes;
  std::string action, user, feed, tenant, lines;
  bool all = false;
  int64_t at_ms = 0;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name == "a") action = value;
    else if (name == "u") user = value;
    else if (name == "f") feed = value;
    else if (name == "t") tenant = value;
    else if (name == "c") lines = value;
    else if (name == "all") all = value == "1";
    else if (name == "m") (void)absl::SimpleAtoi(value, &at_ms);
  }
  if (action == "i") {
    uint32_t line = 0;
    for (absl::string_view text : absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
      ++line;
      if (line <= after_line) continue;
      std::vector<absl::string_view> parts = absl::StrSplit(text, '\t');
      if (parts.size() != 4) continue;
      FeedChange change;
      change.position = {id, line};
      change.inserted = true;
      change.user = std::string(parts[0]);
      change.feed = std::string(parts[1]);
      change.tenant = std::string(parts[2]);
      change.id = std::string(parts[3]);
      changes.push_back(std::move(change));
    }
    return changes;
  }
  v1::FeedAction parsed = ActionFromName(action);
  if (parsed == v1::FEED_ACTION_UNSPECIFIED || user.empty() || after_line >= 1) return changes;
  FeedChange change;
  change.position = {id, 1};
  change.user = std::move(user);
  change.feed = feed == "main" ? "" : std::move(feed);
  change.tenant = std::move(tenant);
  change.action = parsed;
  change.all = all;
  change.at_ms = at_ms;
  for (absl::string_view text : absl::StrSplit(lines, '\n', absl::SkipEmpty())) {
    std::pair<std::string, std::string> item = absl::StrSplit(text, absl::MaxSplits('\t', 1));
    change.marked.push_back(std::move(item));
  }
  changes.push_back(std::move(change));
  return changes;
}

}  // namespace herald::feed
