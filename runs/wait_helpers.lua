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

-- Makes `key` live at least until `at_ms` (epoch ms of Herald's clock); a
-- later expiry already set is kept, never shortened.
local function keep_until(key, at_ms)
  local current = redis.call('PEXPIRETIME', key)
  if current ~= -2 and current < at_ms then redis.call('PEXPIREAT', key, at_ms) end
end
