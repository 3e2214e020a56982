#!lua
-- Upserts one user (the fields given replace the stored ones; created_at
-- is kept) and answers the stored profile.
--
-- KEYS: [1] the user's profile.
-- ARGV: [1] now ms, then the user's pairs as users/upsert_user.lua reads them.
-- Reply: HGETALL of the profile.
--!include users/upsert_user.lua
upsert_user(KEYS[1], 2, ARGV[1])
return redis.call('HGETALL', KEYS[1])
