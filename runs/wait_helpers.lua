-- Helpers of the wait scripts (append, claim, cancel).

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

-- Makes `key` live at least `ms` more milliseconds; a longer time to live
-- already set is kept, never shortened. Relative, not an absolute time of
-- Herald's clock: a skew between Herald's and Redis's clocks must never
-- expire a record early.
local function keep_for(key, ms)
  local ttl = redis.call('PTTL', key)
  if ttl ~= -2 and ttl < ms then redis.call('PEXPIRE', key, ms) end
end
