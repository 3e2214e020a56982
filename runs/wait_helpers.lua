-- Helpers of the wait scripts (append, claim, cancel).
--
-- Where a wait lives (runs/WAIT_LAYOUT.md tells why):
--   * a wait holding at most one activity (most waits: every delay, a batch
--     until a second activity joins) is one field of the partition's
--     `delays` or `waits` hash: wait key (or, once closed, batch id) ->
--     inline wait (inline_wait below);
--   * a batch of two or more activities is the hash wh:<wait key> (wh:<batch
--     id> once closed at max activities): header fields (below) plus one
--     field per activity, run id -> Activity;
--   * older layouts, still read: wh:<batch id> + wa:<batch id> (activities)
--     + wo:<wait key> (open pointer), and wh:<wait key> + wa:<wait key>.
-- The timer (ZSET; an older Herald's: "due") holds the wait key or batch id of
-- every wait either way.

-- Protobuf varint encoding of a non-negative integer.
local function varint(n)
  local out = {}
  while n >= 128 do
    out[#out + 1] = string.char(n % 128 + 128)
    n = math.floor(n / 128)
  end
  out[#out + 1] = string.char(n)
  return table.concat(out)
end

-- The protobuf varint at position `at` of `s`: its value and the position
-- after it.
local function read_varint(s, at)
  local value, scale = 0, 1
  while true do
    local byte = string.byte(s, at)
    if byte == nil then return error('wait store: truncated protobuf varint') end
    at = at + 1
    value = value + (byte % 128) * scale
    if byte < 128 then return value, at end
    scale = scale * 128
  end
end

-- The first values of fields `wanted` and `also` (nil: none) of the
-- serialized message `s`, read from position `at` (1 when nil), in one walk:
-- a number for a varint field, the bytes for a length-delimited one; nil
-- when absent.
local function proto_fields(s, at, wanted, also)
  at = at or 1
  local found, found_also
  local size = #s
  while at <= size do
    local tag
    tag, at = read_varint(s, at)
    local field, wire = math.floor(tag / 8), tag % 8
    local value
    if wire == 0 then
      value, at = read_varint(s, at)
    elseif wire == 2 then
      local length
      length, at = read_varint(s, at)
      if field == wanted or field == also then value = string.sub(s, at, at + length - 1) end
      at = at + length
    elseif wire == 1 then
      at = at + 8
    elseif wire == 5 then
      at = at + 4
    else
      return error('wait store: unreadable protobuf (wire type ' .. wire .. ')')
    end
    if field == wanted and found == nil then
      found = value
      if also == nil or found_also ~= nil then return found, found_also end
    elseif field == also and found_also == nil then
      found_also = value
      if found ~= nil then return found, found_also end
    end
  end
  return found, found_also
end

-- The first value of field `wanted` of `s` from position `at` (proto_fields).
local function proto_field(s, wanted, at)
  return (proto_fields(s, at, wanted))
end

-- Activity.run_id (field 1, serialized first).
local function run_of(activity) return proto_field(activity, 1) end

-- The wait step of a header starting at `at` (BatchEnvelope.wait_step,
-- field 9, where set; in a header of a Herald before branches,
-- resume_step, field 3, is the step after it), as text (a key part):
-- written once per step, not once per call (number formatting is most of
-- a small script's cost).
local step_texts = {}
local function step_of(header, at)
  local resume, wait = proto_fields(header, at, 3, 9)
  local step = wait or ((resume or 0) - 1)
  local text = step_texts[step]
  if text == nil then
    text = tostring(step)
    step_texts[step] = text
  end
  return text
end

-- The batch id of a header (BatchEnvelope.targets[0].batch_id).
local function batch_id_of(header) return proto_field(proto_field(header, 4) or '', 2) end

-- A serialized Activity with Activity.sequence (field 5, varint) appended:
-- protobuf concatenation is a merge, so nothing is decoded in Lua.
local function with_sequence(activity, sequence) return activity .. '\40' .. varint(sequence) end

-- A serialized BatchEnvelope: the stored header with each activity appended
-- as field 5 (repeated Activity).
local function envelope_with(header, activities)
  local parts = {header}
  for _, activity in ipairs(activities) do parts[#parts + 1] = '\42' .. varint(#activity) .. activity end
  return table.concat(parts)
end

-- An inline wait is the BatchEnvelope it goes out as: its activity (field
-- 5, when there is one) before the header's fields. Protobuf reads fields
-- in any order, so the claim sends it as stored and finds the run id without
-- reading the header. The activity has no sequence (0: the only one); a
-- header never starts with field 5 (it has no activities), so the first
-- byte tells whether an activity is in.
local function inline_wait(header, activity)
  if activity == nil then return header end
  return '\42' .. varint(#activity) .. activity .. header
end

-- An inline wait's activity (nil when it holds none) and header.
local function inline_parts(stored)
  if string.byte(stored, 1) ~= 42 then return nil, stored end
  local length, at = read_varint(stored, 2)
  return string.sub(stored, at, at + length - 1), string.sub(stored, at + length)
end

-- An inline wait's run id (nil when it holds no activity) and the position
-- its header starts at, without copying the activity.
local function inline_run(stored)
  if string.byte(stored, 1) ~= 42 then return nil, 1 end
  local length, at = read_varint(stored, 2)
  return proto_field(stored, 1, at), at + length
end

-- The header fields of a batch hash, this layout's and the older ones'
-- ('h' header blob, 'n' activities appended, 'o'/'opened' open time, 'k'
-- kind, 'wait' wait key, 'l' bulk lane); every other field is a run id (ids
-- are never one of these names) holding its activity.
local batch_header_fields = {h = true, n = true, o = true, k = true, opened = true, wait = true, l = true}

-- How many activities the batch hash `batch` (and the older layout's
-- activities hash `older`) hold.
local function batch_activity_count(batch, older)
  local count = redis.call('HLEN', batch)
  local present = redis.call('HMGET', batch, 'h', 'n', 'o', 'k', 'opened', 'wait', 'l')
  for i = 1, 7 do
    if present[i] then count = count - 1 end
  end
  if present[5] then count = count + redis.call('HLEN', older) end
  return count
end

-- Makes `key` live at least `ms` more milliseconds; a longer time to live
-- already set is kept, never shortened. Relative, not an absolute time of
-- Herald's clock: a skew between Herald's and Redis's clocks must never
-- expire a record early.
local function keep_for(key, ms)
  local ttl = redis.call('PTTL', key)
  if ttl ~= -2 and ttl < ms then redis.call('PEXPIRE', key, ms) end
end

-- Records that `run_id`'s activity of wait step `step` has left its wait:
-- a replayed append of it must still be a duplicate (while it waits, the
-- wait itself answers). One STRING with a TTL: the smallest record Redis
-- keeps (its value, 1, is a shared object).
local function remember_appended(partition, run_id, step, records_ms)
  redis.call('SET', run_appended_key(partition, run_id, step), '1', 'PX', records_ms)
end
