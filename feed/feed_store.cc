#include "feed/feed_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "redis/script.h"
#include "users/user_store.h"

namespace herald::feed {
namespace {

}  // namespace

const char kFeedScopesLua[] = R"LUA(
local function feed_scopes(prefix, user, tenant)
  local out = {prefix .. 'feed:' .. user .. ':'}
  if tenant and tenant ~= '' then out[2] = prefix .. 'tfeed:' .. #tenant .. ':' .. tenant .. ':' .. user .. ':' end
  return out
end
local function scoped_zadd(scopes, name, seq, id)
  for _, scope in ipairs(scopes) do redis.call('ZADD', scope .. name, seq, id) end
end
local function scoped_zrem(scopes, name, id)
  for _, scope in ipairs(scopes) do redis.call('ZREM', scope .. name, id) end
end
)LUA";

namespace {

// ARGV: partition prefix, then per item: user, id, body (serialized
// FeedItem), channel, accepted_at_us, inserted_at_us, preferences note,
// tenant. Keys are built from the prefix; all share the partition's hash tag.
const redis::Script kInsertMany(absl::StrCat(kFeedScopesLua, R"LUA(
local prefix = ARGV[1]
local out = {}
for i = 2, #ARGV, 8 do
  local user, id, tenant = ARGV[i], ARGV[i + 1], ARGV[i + 7]
  local key = prefix .. 'msg:' .. id
  if redis.call('EXISTS', key) == 1 then
    out[#out + 1] = 0
  else
    local feed = prefix .. 'feed:' .. user .. ':'
    local seq = redis.call('HINCRBY', feed .. 'meta', 'seq', 1)
    redis.call('HSET', key, 'recipient', user, 'item', ARGV[i + 2], 'channel', ARGV[i + 3], 'status', 'delivered',
               'seq', seq, 'accepted_at_us', ARGV[i + 4], 'inserted_at_us', ARGV[i + 5])
    if ARGV[i + 6] ~= '' then redis.call('HSET', key, 'preferences', ARGV[i + 6]) end
    if tenant ~= '' then redis.call('HSET', key, 'tenant', tenant) end
    local scopes = feed_scopes(prefix, user, tenant)
    scoped_zadd(scopes, 'active', seq, id)
    scoped_zadd(scopes, 'unseen', seq, id)
    scoped_zadd(scopes, 'unread', seq, id)
    out[#out + 1] = seq
  end
end
return out
)LUA"));

// KEYS: msg, the user's records set. ARGV: field/value pairs, starting
// with "id", <message id>.
const redis::Script kRecord(R"LUA(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('SADD', KEYS[2], ARGV[2])
return 1
)LUA");

// Like kRecord, and hands the message to the delivery services.
// KEYS: msg, records set, deliveries stream. ARGV: as kRecord.
const redis::Script kQueue(R"LUA(
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('XADD', KEYS[3], '*', 'm', ARGV[2])
return 1
)LUA");

// KEYS: the filtered set, active, unseen, unread. ARGV: exclusive max
// sequence ('' = newest), count, message key prefix.
const redis::Script kList(R"LUA(
local max = '+inf'
if ARGV[1] ~= '' then max = '(' .. ARGV[1] end
local ids = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'LIMIT', 0, tonumber(ARGV[2]))
local items = {}
for i, id in ipairs(ids) do
  items[i] = redis.call('HGETALL', ARGV[3] .. id)
end
return {redis.call('ZCARD', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[2]), items}
)LUA");

// KEYS: active, unseen, unread, read, archived. ARGV: action, now_ms,
// message key prefix, user id, then ids, or '*' for all of the user's items.
const redis::Script kMark(absl::StrCat(kFeedScopesLua, R"LUA(
local active, unseen, unread, read, archived = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local action, now, prefix, user, scope_tenant = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local partition_prefix = string.sub(prefix, 1, #prefix - 4)  -- without 'msg:'
local ids = {}
if ARGV[6] == '*' then
  local source = active
  if action == 'seen' then source = unseen
  elseif action == 'read' then source = unread
  elseif action == 'unread' then source = read
  elseif action == 'unarchived' then source = archived end
  ids = redis.call('ZRANGE', source, 0, -1)
else
  for i = 6, #ARGV do
    local owner = redis.call('HGET', prefix .. ARGV[i], 'recipient')
    local in_scope = scope_tenant == '' or redis.call('HGET', prefix .. ARGV[i], 'tenant') == scope_tenant
    if owner ~= user or not in_scope or redis.call('HEXISTS', prefix .. ARGV[i], 'seq') == 0 then
      return redis.error_reply('HERALD NOT_FOUND ids[' .. (i - 6) .. ']: item ' .. ARGV[i] .. ' is not in the feed of user ' .. user)
    end
    ids[#ids + 1] = ARGV[i]
  end
end
local changed = 0
for _, id in ipairs(ids) do
  local key = prefix .. id
  local m = redis.call('HMGET', key, 'seq', 'seen_at', 'read_at', 'interacted_at', 'archived_at', 'tenant')
  local seq, seen, rd, inter, arch = m[1], m[2], m[3], m[4], m[5]
  local scopes = feed_scopes(partition_prefix, user, m[6])
  local live = not arch
  local did = false
  if action == 'seen' or action == 'read' or action == 'interacted' then
    if not seen then redis.call('HSET', key, 'seen_at', now); scoped_zrem(scopes, 'unseen', id); did = true end
  end
  if action == 'read' or action == 'interacted' then
    if not rd then
      redis.call('HSET', key, 'read_at', now); scoped_zrem(scopes, 'unread', id)
      if live then scoped_zadd(scopes, 'read', seq, id) end
      did = true
    end
  end
  if action == 'interacted' and not inter then redis.call('HSET', key, 'interacted_at', now); did = true end
  if action == 'uninteracted' and inter then redis.call('HDEL', key, 'interacted_at'); did = true end
  if action == 'unseen' and seen then
    redis.call('HDEL', key, 'seen_at')
    if live then scoped_zadd(scopes, 'unseen', seq, id) end
    did = true
  end
  if action == 'unread' and rd then
    redis.call('HDEL', key, 'read_at')
    scoped_zrem(scopes, 'read', id)
    if live then scoped_zadd(scopes, 'unread', seq, id) end
    did = true
  end
  if action == 'archived' and live then
    redis.call('HSET', key, 'archived_at', now)
    scoped_zrem(scopes, 'active', id); scoped_zrem(scopes, 'unseen', id); scoped_zrem(scopes, 'unread', id); scoped_zrem(scopes, 'read', id)
    scoped_zadd(scopes, 'archived', seq, id)
    did = true
  end
  if action == 'unarchived' and arch then
    redis.call('HDEL', key, 'archived_at')
    scoped_zrem(scopes, 'archived', id)
    scoped_zadd(scopes, 'active', seq, id)
    if not seen then scoped_zadd(scopes, 'unseen', seq, id) end
    if rd then scoped_zadd(scopes, 'read', seq, id) else scoped_zadd(scopes, 'unread', seq, id) end
    did = true
  end
  if did then changed = changed + 1 end
end
return {changed, redis.call('ZCARD', unseen), redis.call('ZCARD', unread), redis.call('ZCARD', active)}
)LUA"));

struct FeedKeys {
  std::string active, unseen, unread, read, archived, meta;
};

// The user's whole feed, or their feed within `tenant`.
FeedKeys KeysFor(const Keys& keys, const std::string& user, const std::string& tenant = "") {
  std::string prefix = tenant.empty() ? keys.FeedPrefix(user) : keys.TenantFeedPrefix(tenant, user);
  return FeedKeys{prefix + "active", prefix + "unseen", prefix + "unread",
                  prefix + "read",   prefix + "archived", prefix + "meta"};
}

std::string MessagePrefix(const Keys& keys) { return keys.Message(""); }

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

redis::Command InsertManyCommand(const Keys& keys, const std::vector<NewItem>& items) {
  std::vector<std::string> args;
  args.reserve(1 + 8 * items.size());
  args.push_back(keys.Prefix());
  for (const NewItem& item : items) {
    args.push_back(item.recipient);
    args.push_back(item.item.id());
    args.push_back(item.item.SerializeAsString());
    args.push_back(item.channel);
    args.push_back(std::to_string(item.accepted_at_us));
    args.push_back(std::to_string(item.inserted_at_us));
    args.push_back(item.preferences);
    args.push_back(item.item.tenant());
  }
  return kInsertMany.Call({}, args);
}

redis::Command RecordNotDeliveredCommand(const Keys& keys, const NotDelivered& record) {
  return kRecord.Call({keys.Message(record.message_id), keys.UserRecords(record.recipient)},
                      {"id", record.message_id, "recipient", record.recipient, "workflow", record.workflow, "tenant",
                       record.tenant, "channel", record.channel, "channel_type", record.channel_type, "status",
                       record.status, "reason", record.reason, "rule", record.rule, "inserted_at_us",
                       std::to_string(record.at_us)});
}

redis::Command QueueMessageCommand(const Keys& keys, const QueuedMessage& message) {
  return kQueue.Call({keys.Message(message.message_id), keys.UserRecords(message.recipient), keys.Deliveries()},
                     {"id", message.message_id, "recipient", message.recipient, "workflow", message.workflow,
                      "tenant", message.tenant, "channel", message.channel, "channel_type", message.channel_type,
                      "status", "queued", "content", message.content.SerializeAsString(), "preferences",
                      message.preferences, "accepted_at_us", std::to_string(message.accepted_at_us),
                      "inserted_at_us", std::to_string(message.at_us)});
}

redis::Command GetMessageCommand(const Keys& keys, const std::string& message_id) {
  return {"HGETALL", keys.Message(message_id)};
}

absl::StatusOr<v1::Message> MessageFromReply(const std::string& user_id, const std::string& message_id,
                                             const redis::Reply& reply) {
  v1::Message message;
  message.set_id(message_id);
  std::string item;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    const std::string& value = reply.elements[i + 1].str;
    if (field == "recipient") message.set_recipient(value);
    else if (field == "workflow") message.set_workflow(value);
    else if (field == "tenant") message.set_tenant(value);
    else if (field == "channel") message.set_channel(value);
    else if (field == "channel_type") message.set_channel_type(value);
    else if (field == "status") message.set_status(value);
    else if (field == "reason") message.set_reason(value);
    else if (field == "rule") message.set_rule(value);
    else if (field == "preferences") message.set_preferences(value);
    else if (field == "inserted_at_us") message.set_at_us(ToInt(value));
    else if (field == "content") message.mutable_content()->ParseFromString(value);
    else if (field == "item") item = value;
  }
  // Another user's message is as absent as a missing one.
  if (reply.elements.empty() || message.recipient() != user_id) {
    return absl::NotFoundError(absl::StrCat("message_id: no message '", message_id, "' for user '", user_id, "'"));
  }
  if (!item.empty()) {
    // Engagement lives in the hash, next to the stored item.
    *message.mutable_content()->mutable_in_app() = ItemFromFields(reply.elements);
    if (message.channel_type().empty()) message.set_channel_type("in_app_feed");
  }
  return message;
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
  return kList.Call({*source, feed.active, feed.unseen, feed.unread},
                    {after, std::to_string(page_size + 1), MessagePrefix(keys)});
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
  std::vector<std::string> args = {action, std::to_string(now_ms), MessagePrefix(keys), request.user_id(),
                                   request.tenant()};
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

}  // namespace herald::feed
