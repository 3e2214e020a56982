#include "batcher/wait_store.h"

#include "absl/strings/str_cat.h"
#include "redis/script.h"

namespace herald::batcher {
namespace {

// Key helpers shared by the scripts (they build per-wait keys from the
// partition prefix; every key carries the partition's hash tag).
constexpr char kLuaKeyHelpers[] = R"LUA(
local function wait_header(prefix, wk) return prefix .. 'wh:' .. wk end
local function wait_activities(prefix, wk) return prefix .. 'wa:' .. wk end
local function cancel_hash(prefix, wf, ck, rcpt)
  return prefix .. 'cancel:' .. #wf .. ':' .. wf .. ':' .. #ck .. ':' .. ck .. ':' .. rcpt
end
local function varint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end
-- Activity.sequence (field 5, varint) appended to a serialized Activity.
local function with_sequence(activity, seq) return activity .. '\40' .. varint(seq) end
local function cancel_recipients(prefix, wf, ck)
  return prefix .. 'cancelr:' .. #wf .. ':' .. wf .. ':' .. #ck .. ':' .. ck
end
)LUA";

// KEYS: due, run, segments. ARGV: prefix, wait_key, header, run_id, step,
// activity, accepted_ms, now, window, max_window, sliding, max_activities,
// flush_leading, leading_blob, workflow, cancellation_key, recipient, ttl.
const redis::Script kAppend(absl::StrCat(kLuaKeyHelpers, R"LUA(
local due, run, segments = KEYS[1], KEYS[2], KEYS[3]
local prefix, wk, header_blob, run_id, step, activity = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local accepted, now, window, max_window = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10])
local sliding, max_acts, leading, leading_blob = ARGV[11] == '1', tonumber(ARGV[12]), ARGV[13] == '1', ARGV[14]
local wf, ck, rcpt, ttl = ARGV[15], ARGV[16], ARGV[17], tonumber(ARGV[18])

if redis.call('HSETNX', run, 's' .. step, now) == 0 then return 'duplicate' end
redis.call('EXPIRE', run, ttl)
if ck ~= '' then
  local mine = cancel_hash(prefix, wf, ck, rcpt)
  local everyone = cancel_hash(prefix, wf, ck, '*')
  local at = tonumber(redis.call('HGET', mine, '@cancelled_at') or '-1')
  local at_all = tonumber(redis.call('HGET', everyone, '@cancelled_at') or '-1')
  if (at >= 0 and at >= accepted) or (at_all >= 0 and at_all >= accepted) then
    redis.call('HSET', run, 'status', 'cancelled', 'cancelled_at', now)
    return 'cancelled'
  end
  redis.call('HSET', mine, run_id, wk)
  redis.call('EXPIRE', mine, ttl)
  local index = cancel_recipients(prefix, wf, ck)
  redis.call('SADD', index, rcpt)
  redis.call('EXPIRE', index, ttl)
end
redis.call('HSET', run, 'status', 'waiting', 'wait', wk)
local header, acts = wait_header(prefix, wk), wait_activities(prefix, wk)
local opened = redis.call('HGET', header, 'opened')
if not opened then
  redis.call('HSET', header, 'h', header_blob, 'opened', now)
  redis.call('ZADD', due, now + window, wk)
  if leading then
    redis.call('XADD', segments, '*', 's', leading_blob)
    redis.call('HSET', run, 'status', 'flushed')
    return 'leading'
  end
  redis.call('HSET', acts, run_id, with_sequence(activity, redis.call('HINCRBY', header, 'n', 1)))
  if max_acts > 0 and max_acts <= 1 then redis.call('ZADD', due, now, wk) end
  return 'opened'
end
redis.call('HSET', acts, run_id, with_sequence(activity, redis.call('HINCRBY', header, 'n', 1)))
local n = redis.call('HLEN', acts)
if max_acts > 0 and n >= max_acts then
  redis.call('ZADD', due, 'XX', now, wk)
elseif sliding then
  local close = math.min(now + window, tonumber(opened) + max_window)
  redis.call('ZADD', due, 'XX', 'GT', close, wk)
end
return 'joined'
)LUA"));

// KEYS: due, segments. ARGV: prefix, now, limit.
// A segment entry is the stored header (a serialized SegmentEnvelope) with
// each activity appended as protobuf field 5 (repeated Activity): protobuf
// concatenation is a merge, so no decoding happens in Lua.
const redis::Script kClaim(absl::StrCat(kLuaKeyHelpers, R"LUA(
local due, segments = KEYS[1], KEYS[2]
local prefix, now, limit = ARGV[1], ARGV[2], tonumber(ARGV[3])
local waits = redis.call('ZRANGEBYSCORE', due, '-inf', now, 'LIMIT', 0, limit)
local emitted = 0
for _, wk in ipairs(waits) do
  redis.call('ZREM', due, wk)
  local header, acts = wait_header(prefix, wk), wait_activities(prefix, wk)
  local h = redis.call('HGET', header, 'h')
  local activities = redis.call('HVALS', acts)
  redis.call('DEL', header, acts)
  if h and #activities > 0 then
    local parts = {h}
    for _, a in ipairs(activities) do
      parts[#parts + 1] = '\42' .. varint(#a) .. a
    end
    redis.call('XADD', segments, '*', 's', table.concat(parts))
    emitted = emitted + 1
  end
end
return {#waits, emitted}
)LUA"));

// KEYS: due. ARGV: prefix, workflow, cancellation_key, now, ttl, recipients...
// ('*' alone = every recipient recorded for the key in this partition).
const redis::Script kCancel(absl::StrCat(kLuaKeyHelpers, R"LUA(
local due = KEYS[1]
local prefix, wf, ck, now, ttl = ARGV[1], ARGV[2], ARGV[3], ARGV[4], tonumber(ARGV[5])
local recipients = {}
if ARGV[6] == '*' then
  recipients = redis.call('SMEMBERS', cancel_recipients(prefix, wf, ck))
  local everyone = cancel_hash(prefix, wf, ck, '*')
  redis.call('HSET', everyone, '@cancelled_at', now)
  redis.call('EXPIRE', everyone, ttl)
else
  for i = 6, #ARGV do recipients[#recipients + 1] = ARGV[i] end
end
local cancelled = 0
for _, rcpt in ipairs(recipients) do
  local ch = cancel_hash(prefix, wf, ck, rcpt)
  local pending = redis.call('HGETALL', ch)
  for i = 1, #pending, 2 do
    local run_id, wk = pending[i], pending[i + 1]
    if run_id ~= '@cancelled_at' then
      local acts = wait_activities(prefix, wk)
      if redis.call('HDEL', acts, run_id) == 1 then
        cancelled = cancelled + 1
        redis.call('HSET', prefix .. 'run:' .. run_id, 'status', 'cancelled', 'cancelled_at', now)
        if redis.call('HLEN', acts) == 0 then
          redis.call('ZREM', due, wk)
          redis.call('DEL', wait_header(prefix, wk))
        end
      end
      redis.call('HDEL', ch, run_id)
    end
  end
  redis.call('HSET', ch, '@cancelled_at', now)
  redis.call('EXPIRE', ch, ttl)
end
return cancelled
)LUA"));

}  // namespace

redis::Command AppendCommand(const Keys& keys, const WaitAppend& append) {
  return kAppend.Call({keys.Due(), keys.Run(append.run_id), keys.Segments()},
                      {keys.Prefix(), append.wait_key, append.header_blob, append.run_id, std::to_string(append.step),
                       append.activity_blob, std::to_string(append.accepted_at_ms), std::to_string(append.now_ms),
                       std::to_string(append.window_ms), std::to_string(append.max_window_ms),
                       append.sliding ? "1" : "0", std::to_string(append.max_activities),
                       append.flush_leading ? "1" : "0", append.leading_segment_blob, append.workflow,
                       append.cancellation_key, append.recipient, std::to_string(append.run_ttl_seconds)});
}

absl::StatusOr<AppendOutcome> ParseAppendReply(const redis::Reply& reply) {
  const std::string& text = reply.str;
  if (text == "opened") return AppendOutcome::kOpened;
  if (text == "joined") return AppendOutcome::kJoined;
  if (text == "leading") return AppendOutcome::kLeadingSent;
  if (text == "duplicate") return AppendOutcome::kDuplicate;
  if (text == "cancelled") return AppendOutcome::kCancelled;
  return absl::InternalError(absl::StrCat("wait append: unexpected reply '", text, "'"));
}

redis::Command ClaimCommand(const Keys& keys, int64_t now_ms, int limit) {
  return kClaim.Call({keys.Due(), keys.Segments()}, {keys.Prefix(), std::to_string(now_ms), std::to_string(limit)});
}

absl::StatusOr<ClaimResult> ParseClaimReply(const redis::Reply& reply) {
  if (reply.elements.size() != 2) return absl::InternalError("wait claim: unexpected reply shape");
  return ClaimResult{reply.elements[0].integer, reply.elements[1].integer};
}

redis::Command CancelCommand(const Keys& keys, const std::string& workflow, const std::string& cancellation_key,
                             const std::vector<std::string>& recipients, int64_t now_ms, int64_t ttl_seconds) {
  std::vector<std::string> args = {keys.Prefix(), workflow, cancellation_key, std::to_string(now_ms),
                                   std::to_string(ttl_seconds)};
  if (recipients.empty()) {
    args.push_back("*");
  } else {
    args.insert(args.end(), recipients.begin(), recipients.end());
  }
  return kCancel.Call({keys.Due()}, args);
}

}  // namespace herald::batcher
