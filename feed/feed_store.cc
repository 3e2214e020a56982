#include "feed/feed_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "feed/count_items.lua.h"
#include "feed/insert_many.lua.h"
#include "feed/item_times.lua.h"
#include "feed/list.lua.h"
#include "feed/mark.lua.h"
#include "redis/script.h"
#include "users/user_store.h"

namespace herald::feed {
namespace {

const redis::Script kInsertMany(lua::kFeedInsertMany);
const redis::Script kList(lua::kFeedList);
const redis::Script kMark(lua::kFeedMark);
const redis::Script kCountItems(lua::kFeedCountItems);
const redis::Script kItemTimes(lua::kFeedItemTimes);

struct FeedKeys {
  std::string active, unseen, unread, read, archived, meta;
};

// The user's whole feed, or their feed within `tenant`.
FeedKeys KeysFor(const Keys& keys, const std::string& user, const std::string& tenant = "") {
  auto set = [&](absl::string_view name) {
    return tenant.empty() ? keys.FeedSet(user, name) : keys.TenantFeedSet(tenant, user, name);
  };
  return FeedKeys{set("active"), set("unseen"), set("unread"), set("read"), set("archived"), set("meta")};
}

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
  std::vector<std::string> script_keys;
  std::vector<std::string> args;
  script_keys.reserve(1 + 8 * items.size());
  args.reserve(2 + 10 * items.size());
  script_keys.push_back(keys.MessageLog());
  args.push_back(std::to_string(options.message_retention_ms));
  args.push_back(std::to_string(options.max_items));
  for (const NewItem& item : items) {
    const std::string& tenant = item.item.tenant();
    script_keys.push_back(keys.Message(item.item.id()));
    script_keys.push_back(keys.FeedSet(item.recipient, "meta"));
    for (const char* set : {"active", "unseen", "unread"}) script_keys.push_back(keys.FeedSet(item.recipient, set));
    if (!tenant.empty()) {
      for (const char* set : {"active", "unseen", "unread"}) {
        script_keys.push_back(keys.TenantFeedSet(tenant, item.recipient, set));
      }
    }
    args.push_back(tenant);
    args.push_back(item.recipient);
    args.push_back(item.item.id());
    args.push_back(item.item.SerializeAsString());
    args.push_back(item.channel);
    args.push_back(std::to_string(item.accepted_at_us));
    args.push_back(std::to_string(item.inserted_at_us));
    args.push_back(item.preferences);
    args.push_back(item.item.workflow());
    args.push_back(item.workflow_run_id);
  }
  return kInsertMany.Call(std::move(script_keys), std::move(args));
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
  FeedKeys feed = KeysFor(keys, request.user_id(), request.tenant());
  const std::string* source = &feed.active;
  switch (request.status()) {
    case v1::FEED_STATUS_FILTER_UNSPECIFIED: break;
    case v1::FEED_STATUS_FILTER_UNREAD: source = &feed.unread; break;
    case v1::FEED_STATUS_FILTER_UNSEEN: source = &feed.unseen; break;
    case v1::FEED_STATUS_FILTER_READ: source = &feed.read; break;
    case v1::FEED_STATUS_FILTER_ARCHIVED: source = &feed.archived; break;
    default: return absl::InvalidArgumentError("status: unknown filter");
  }
  // One more than the page tells whether there is a next page.
  return kList.Call({*source, feed.active, feed.unseen, feed.unread}, {after, std::to_string(page_size + 1)});
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
  return item;
}

absl::StatusOr<v1::ListFeedResponse> ParseListReply(const v1::ListFeedRequest& request, const redis::Reply& reply) {
  if (reply.elements.size() != 4) return absl::InternalError("feed list: unexpected reply shape");
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
  return response;
}

absl::StatusOr<redis::Command> MarkCommand(const Keys& keys, const v1::MarkFeedItemsRequest& request, int64_t now_ms) {
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
  FeedKeys feed = KeysFor(keys, request.user_id(), request.tenant());
  std::vector<std::string> args = {action, std::to_string(now_ms), request.user_id(), request.tenant()};
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
  return kMark.Call({feed.active, feed.unseen, feed.unread, feed.read, feed.archived}, args);
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
  for (const std::string& user : users) {
    script_keys.push_back(keys.FeedSet(user, "active"));
    script_keys.push_back(keys.FeedSet(user, "archived"));
  }
  return kCountItems.Call(std::move(script_keys), {});
}

redis::Command ItemTimesCommand(const Keys& keys, const std::string& user, int count) {
  return kItemTimes.Call({keys.FeedSet(user, "active"), keys.FeedSet(user, "archived")}, {std::to_string(count)});
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

}  // namespace herald::feed
