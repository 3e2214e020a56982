#include "feed/feed_store.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "core/feed_names.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "feed/count_items.lua.h"
#include "feed/feed_changes.h"
#include "feed/insert_many.lua.h"
#include "feed/item_times.lua.h"
#include "feed/list.lua.h"
#include "feed/stored_body.h"
#include "feed/sweep.lua.h"
#include "feed/mark.lua.h"
#include "redis/script.h"
#include "templates/markdown.h"
#include "users/user_store.h"

namespace herald::feed {
namespace {

const redis::Script kInsertMany(lua::kFeedInsertMany);
const redis::Script kList(lua::kFeedList);
const redis::Script kMark(lua::kFeedMark);
const redis::Script kCountItems(lua::kFeedCountItems);
const redis::Script kItemTimes(lua::kFeedItemTimes);
const redis::Script kSweep(lua::kFeedSweep);

constexpr absl::string_view kCursorPrefix = "s";

const char* ActionName(v1::FeedAction action) {
  switch (action) {
    case v1::FEED_ACTION_SEEN: return "seen";
    case v1::FEED_ACTION_UNSEEN: return "unseen";
    case v1::FEED_ACTION_READ: return "read";
    case v1::FEED_ACTION_UNREAD: return "unread";
    case v1::FEED_ACTION_INTERACTED: return "interacted";
    case v1::FEED_ACTION_UNINTERACTED: return "uninteracted";
    case v1::FEED_ACTION_ARCHIVED: return "archived";
    case v1::FEED_ACTION_UNARCHIVED: return "unarchived";
    default: return nullptr;
  }
}

int64_t ToInt(const std::string& text) {
  int64_t value = 0;
  return absl::SimpleAtoi(text, &value) ? value : 0;
}

}  // namespace

redis::Command InsertManyCommand(const Keys& keys, const std::vector<NewItem>& items, const InsertOptions& options) {
  std::vector<std::string> args;
  args.reserve(4 + 5 * items.size());
  args.push_back(std::to_string(options.max_items));
  int64_t now_us = 0;
  for (const NewItem& item : items) now_us = std::max(now_us, item.inserted_at_us);
  args.push_back(std::to_string(now_us));
  args.push_back(std::to_string(options.message_retention_ms));
  args.push_back(std::to_string(std::max<int64_t>(0, options.changes_max_len)));
  for (const NewItem& item : items) {
    const std::string& tenant = item.item.tenant();
    args.push_back(tenant);
    args.push_back(item.recipient);
    args.push_back(item.item.id());
    args.push_back(item.feed);
    // The record after its lag line (feed/feed_layout.lua). Every item of
    // the call is inserted at now_us, so the accepted time is kept as its
    // distance to that (a few digits, not sixteen).
    args.push_back(absl::StrCat(now_us - item.accepted_at_us, "\n", tenant, "\n", item.item.workflow(), "\n",
                                item.workflow_run_id, "\n", item.channel == "in_app_feed" ? "" : item.channel, "\n",
                                item.preferences, "\n", StoredBody(item.item)));
  }
  return kInsertMany.Call({keys.MessageLog(), keys.FeedSequence(), keys.FeedChanges()}, std::move(args));
}

absl::Status ValidateRequestFeed(const std::string& feed, const std::string& field) {
  if (feed.empty()) return absl::OkStatus();
  return ValidateFeedName(feed, field);
}

redis::Command ReadItemsCommand(const Keys& keys, const std::string& user, const std::string& feed,
                                const std::string& tenant, const std::vector<std::string>& ids) {
  return kList.Call({keys.FeedSet(feed, user, "index")},
                    {user, tenant, "", "", std::to_string(ids.size()), feed, absl::StrJoin(ids, "\n")});
}

absl::StatusOr<redis::Command> ListCommand(const Keys& keys, const v1::ListFeedRequest& request) {
  absl::Status user = users::ValidateId(request.user_id(), "user_id");
  if (!user.ok()) return user;
  int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  if (page_size < 1 || page_size > kMaxPageSize) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be between 1 and ", kMaxPageSize));
  }
  std::string after;
  if (!request.after().empty()) {
    absl::string_view cursor = request.after();
    int64_t seq = 0;
    if (!absl::ConsumePrefix(&cursor, kCursorPrefix) || !absl::SimpleAtoi(cursor, &seq) || seq <= 0) {
      return absl::InvalidArgumentError("after: not a cursor returned by ListFeed");
    }
    after = std::to_string(seq);
  }
  if (!request.tenant().empty()) {
    absl::Status tenant = users::ValidateId(request.tenant(), "tenant");
    if (!tenant.ok()) return tenant;
  }
  absl::Status feed = ValidateRequestFeed(request.feed());
  if (!feed.ok()) return feed;
  const char* filter = "";
  switch (request.status()) {
    case v1::FEED_STATUS_FILTER_UNSPECIFIED: break;
    case v1::FEED_STATUS_FILTER_UNREAD: filter = "unread"; break;
    case v1::FEED_STATUS_FILTER_UNSEEN: filter = "unseen"; break;
    case v1::FEED_STATUS_FILTER_READ: filter = "read"; break;
    case v1::FEED_STATUS_FILTER_ARCHIVED: filter = "archived"; break;
    default: return absl::InvalidArgumentError("status: unknown filter");
  }
  // One more than the page tells whether there is a next page.
  return kList.Call({keys.FeedSet(request.feed(), request.user_id(), "index")},
                    {request.user_id(), request.tenant(), filter, after, std::to_string(page_size + 1), request.feed()});
}

v1::FeedItem ItemFromFields(const std::vector<redis::Reply>& fields) {
  v1::FeedItem item;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (name == "item") {
      // Immutable content, written once by the fan-out; the timestamps of
      // the user's actions below are separate fields.
      v1::FeedItem body;
      if (body.ParseFromString(value)) item.MergeFrom(body);
    } else if (name == "id") {
      item.set_id(value);
    } else if (name == "workflow") {
      item.set_workflow(value);
    } else if (name == "tenant") {
      item.set_tenant(value);
    } else if (name == "inserted_at_us") {
      item.set_inserted_at_ms(ToInt(value) / 1000);
    } else if (name == "seen_at") {
      item.set_seen_at_ms(ToInt(value));
    } else if (name == "read_at") {
      item.set_read_at_ms(ToInt(value));
    } else if (name == "interacted_at") {
      item.set_interacted_at_ms(ToInt(value));
    } else if (name == "archived_at") {
      item.set_archived_at_ms(ToInt(value));
    }
  }
  // Stored without their HTML (feed/stored_body.h): rendered here.
  for (v1::FeedBlock& block : *item.mutable_blocks()) {
    if (block.type() == "markdown" && block.rendered().empty() && !block.markdown().empty()) {
      block.set_rendered(templates::MarkdownToHtml(block.markdown()));
    }
  }
  return item;
}

absl::StatusOr<v1::ListFeedResponse> ParseListReply(const v1::ListFeedRequest& request, const redis::Reply& reply) {
  if (reply.elements.size() != 5) return absl::InternalError("feed list: unexpected reply shape");
  int page_size = request.page_size() == 0 ? kDefaultPageSize : request.page_size();
  v1::ListFeedResponse response;
  response.mutable_metadata()->set_unseen_count(reply.elements[0].integer);
  response.mutable_metadata()->set_unread_count(reply.elements[1].integer);
  response.mutable_metadata()->set_total_count(reply.elements[2].integer);
  const auto& items = reply.elements[3].elements;
  int64_t last_seq = 0;
  for (size_t i = 0; i < items.size() && static_cast<int>(i) < page_size; ++i) {
    *response.add_items() = ItemFromFields(items[i].elements);
    for (size_t f = 0; f + 1 < items[i].elements.size(); f += 2) {
      if (items[i].elements[f].str == "seq") last_seq = ToInt(items[i].elements[f + 1].str);
    }
  }
  if (static_cast<int>(items.size()) > page_size) response.set_next_cursor(absl::StrCat(kCursorPrefix, last_seq));
  auto last_change = ParseStreamId(reply.elements[4].str);
  if (!last_change.ok()) return absl::InternalError("feed list: unexpected change stream id");
  response.set_watch_cursor(EncodeCursor(ChangePosition{*last_change}));
  return response;
}

absl::StatusOr<redis::Command> MarkCommand(const Keys& keys, const v1::MarkFeedItemsRequest& request, int64_t now_ms,
                                           int64_t changes_max_len) {
  absl::Status user = users::ValidateId(request.user_id(), "user_id");
  if (!user.ok()) return user;
  const char* action = ActionName(request.action());
  if (action == nullptr) return absl::InvalidArgumentError("action: must be one of seen/unseen/read/unread/interacted/uninteracted/archived/unarchived");
  if (request.all() && request.ids_size() > 0) return absl::InvalidArgumentError("ids: must be empty when all is set");
  if (!request.all() && request.ids_size() == 0) return absl::InvalidArgumentError("ids: give at least one id, or set all");
  if (request.ids_size() > 1000) return absl::InvalidArgumentError("ids: at most 1000 per call");
  if (!request.tenant().empty()) {
    absl::Status tenant = users::ValidateId(request.tenant(), "tenant");
    if (!tenant.ok()) return tenant;
  }
  absl::Status feed = ValidateRequestFeed(request.feed());
  if (!feed.ok()) return feed;
  std::vector<std::string> args = {action, std::to_string(now_ms), request.user_id(), request.tenant(), request.feed(),
                                   std::to_string(std::max<int64_t>(0, changes_max_len))};
  if (request.all()) {
    args.push_back("*");
  } else {
    for (int i = 0; i < request.ids_size(); ++i) {
      const std::string& id = request.ids(i);
      if (id.empty() || id.size() > 64 || id == "*") {
        return absl::InvalidArgumentError(absl::StrCat("ids[", i, "]: not a message id"));
      }
      args.push_back(id);
    }
  }
  return kMark.Call({keys.FeedSet(request.feed(), request.user_id(), "index"), keys.FeedChanges()}, args);
}

absl::StatusOr<v1::MarkFeedItemsResponse> ParseMarkReply(const redis::Reply& reply) {
  if (reply.elements.size() != 4) return absl::InternalError("feed mark: unexpected reply shape");
  v1::MarkFeedItemsResponse response;
  response.set_changed(reply.elements[0].integer);
  response.mutable_metadata()->set_unseen_count(reply.elements[1].integer);
  response.mutable_metadata()->set_unread_count(reply.elements[2].integer);
  response.mutable_metadata()->set_total_count(reply.elements[3].integer);
  return response;
}

redis::Command CountItemsCommand(const Keys& keys, const std::vector<std::string>& users) {
  std::vector<std::string> script_keys;
  for (const std::string& user : users) script_keys.push_back(keys.FeedSet(user, "index"));
  return kCountItems.Call(std::move(script_keys), {});
}

redis::Command ItemTimesCommand(const Keys& keys, const std::string& user, int count) {
  return kItemTimes.Call({keys.FeedSet(user, "index")}, {user, std::to_string(count)});
}

std::vector<ItemTimes> ParseItemTimesReply(const redis::Reply& reply) {
  std::vector<ItemTimes> times;
  for (size_t i = 0; i + 3 < reply.elements.size(); i += 4) {
    v1::FeedItem item;
    item.ParseFromString(reply.elements[i + 3].str);
    times.push_back({ToInt(reply.elements[i].str), ToInt(reply.elements[i + 1].str), reply.elements[i + 2].str,
                     item.total_activities()});
  }
  return times;
}

// "herald:{p}:*feed:*:index": main "feed:<user>:index", named
// "nfeed:<sized feed>:feed:<user>:index" and both's tenant scopes.
std::string FeedIndexPattern(const Keys& keys) { return absl::StrCat(keys.Prefix(), "*feed:*:index"); }

std::optional<FeedOfIndex> FeedOfIndexKey(const Keys& keys, absl::string_view key) {
  if (!absl::ConsumePrefix(&key, keys.Prefix()) || !absl::ConsumeSuffix(&key, ":index")) return std::nullopt;
  FeedOfIndex feed{"", std::string(kMainFeed)};
  // Named feed: "nfeed:<length>:<name>:" before the main layout.
  if (absl::ConsumePrefix(&key, "nfeed:")) {
    size_t colon = key.find(':');
    size_t length = 0;
    if (colon == absl::string_view::npos || !absl::SimpleAtoi(key.substr(0, colon), &length) ||
        length > kMaxFeedNameBytes || key.size() < colon + 1 + length + 1) {
      return std::nullopt;
    }
    feed.feed = std::string(key.substr(colon + 1, length));
    key.remove_prefix(colon + 1 + length);
    if (!absl::ConsumePrefix(&key, ":") || feed.feed == kMainFeed || !ValidateFeedName(feed.feed, "feed").ok()) {
      return std::nullopt;
    }
  }
  if (!absl::ConsumePrefix(&key, "feed:") || key.empty()) return std::nullopt;  // a tenant scope's index, or other
  feed.user = std::string(key);
  return feed;
}

redis::Command SweepCommand(const Keys& keys, const FeedOfIndex& feed, int64_t cutoff_us) {
  return kSweep.Call({keys.FeedSet(feed.feed, feed.user, "index")},
                     {feed.user, std::to_string(cutoff_us), feed.feed});
}

}  // namespace herald::feed
