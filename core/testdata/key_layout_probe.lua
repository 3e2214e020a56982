#!lua flags=no-writes
-- core/keys_test: every key core/keys.lua derives, for comparison with
-- core/keys.cc. KEYS: [1] any key of the partition. ARGV: [1] an id,
-- [2] workflow, [3] cancellation key, [4] user, [5] set name, [6] tenant,
-- [7] feed name.
--!include core/keys.lua
local p = partition_of(KEYS[1])
return {p, message_key(p, ARGV[1]), run_key(p, ARGV[1]), wait_header_key(p, ARGV[1]),
        wait_activities_key(p, ARGV[1]), cancel_index_key(p, ARGV[2], ARGV[3], ARGV[4]),
        feed_set_key(p, ARGV[4], ARGV[5]), tenant_feed_set_key(p, ARGV[6], ARGV[4], ARGV[5]),
        wait_open_key(p, ARGV[1]), message_events_key(p, ARGV[1]), event_outbox_key(p),
        event_outbox_enabled_key(p), run_appended_key(p, ARGV[1], 7),
        feed_set_key(feed_prefix(p, ARGV[7]), ARGV[4], ARGV[5]),
        tenant_feed_set_key(feed_prefix(p, ARGV[7]), ARGV[6], ARGV[4], ARGV[5]), feed_changes_key(p)}
