// Where preference sets live in Redis and how workers read them:
// a user's sets in one hash (`prefs:<user>`: "default" and "tenant:<id>"),
// a tenant's default set in its own key; the environment default comes
// from a file at start. PreferenceCache gives the fan-out every level of
// a read's recipients in one pipelined round trip.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/invalidation_log.h"
#include "core/ttl_cache.h"
#include "preferences/preferences.h"
#include "redis/client.h"

namespace herald::preferences {

// Whose set: a user's (tenant empty), a user's for one tenant, or a
// tenant's default (user empty).
struct Scope {
  std::string user_id;
  std::string tenant;
};

// INVALID_ARGUMENT naming user_id / tenant when the scope is empty or an id
// is malformed.
absl::Status ValidateScope(const Scope& scope);

// Parses and validates `preferences_json` (INVALID_ARGUMENT naming
// "preferences_json...") and returns the command that stores it (and
// announces the change to every worker's cache, preferences/set.lua) with
// the set as stored (normalized JSON).
struct PreferenceWrite {
  redis::Command command;
  std::string stored_json;
};
absl::StatusOr<PreferenceWrite> SetCommand(const Scope& scope, const std::string& preferences_json, int partitions);
redis::Command GetCommand(const Scope& scope, int partitions);
// The stored JSON from a GetCommand reply; "{}" when nothing is stored.
std::string StoredJson(const redis::Reply& reply);

// Reads a JSON file with one preference set (the environment default).
absl::StatusOr<PreferenceSet> LoadPreferenceFile(const std::string& path);

// Per-worker cache of users' and tenants' sets (2 s by default, as users),
// about `capacity` users and as many tenants: two TtlCaches, so every set a
// read prefetched stays findable for that read. Not thread-safe: one per
// worker.
//
// With `changes` (fed by a PreferenceChangeListener), a set written through
// SetCommand is dropped from the cache before the next read: a change
// counts for every message fanned out after the change reached the process
// (normally well under a millisecond after the write returns); the TTL
// bounds staleness when the listener cannot read.
class PreferenceCache {
 public:
  PreferenceCache(const Clock& clock, int partitions, int64_t ttl_micros = 2'000'000, size_t capacity = 20'000,
                  const InvalidationLog* changes = nullptr)
      : partitions_(partitions),
        users_(clock, ttl_micros, capacity),
        tenants_(clock, ttl_micros, capacity),
        changes_(changes),
        changes_cursor_(changes != nullptr ? changes->end() : 0) {}

  // Starts a read: loads what is missing or stale for these (user, tenant)
  // pairs. UNAVAILABLE etc. when Redis fails.
  absl::Status Prefetch(redis::RedisClient& client, const std::vector<std::pair<std::string, std::string>>& targets);

  // The user-level sets for (user, tenant) and the tenant's default, from
  // the last Prefetch; `environment` is passed through.
  LevelSets Find(const std::string& user, const std::string& tenant, const PreferenceSet* environment) const;

 private:
  struct UserSets {
    std::shared_ptr<const PreferenceSet> user;
    absl::flat_hash_map<std::string, std::shared_ptr<const PreferenceSet>> by_tenant;
  };
  // Drops the sets changed since the last read.
  void ForgetChanged();

  const int partitions_;
  TtlCache<UserSets> users_;
  TtlCache<std::shared_ptr<const PreferenceSet>> tenants_;  // null: the tenant has no default set
  const InvalidationLog* const changes_;
  uint64_t changes_cursor_;
};

// The ids an InvalidationLog carries for preference changes.
std::string UserChangeId(absl::string_view user_id);      // "u<user>"
std::string TenantChangeId(absl::string_view tenant);     // "t<tenant>"

// HGETALL of a user's hash -> their sets (unparseable entries are skipped:
// they were validated when written).
void ParseUserSets(const redis::Reply& reply, std::shared_ptr<const PreferenceSet>* user,
                   absl::flat_hash_map<std::string, std::shared_ptr<const PreferenceSet>>* by_tenant);
std::shared_ptr<const PreferenceSet> ParseStoredSet(const std::string& json_text);

}  // namespace herald::preferences
