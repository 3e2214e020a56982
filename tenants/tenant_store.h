// Tenants (workspaces): name and settings (branding, and a default
// preference set that is the tenant level of preferences). The record and
// the tenant's default set live in the tenant's partition; templates see
// the tenant as `tenant.id`, `tenant.name`, `tenant.settings.branding.*`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "core/ttl_cache.h"
#include "herald/v1/herald.pb.h"
#include "nlohmann/json.hpp"
#include "redis/client.h"

namespace herald::tenants {

// Validates (INVALID_ARGUMENT naming the field, e.g.
// `settings_json.branding.primary_color`) and returns the upsert: name and
// settings replace the stored ones; a `preference_set` in the settings
// replaces the tenant's default set (absent: the set is left as it is).
// Reply shape as GetCommand.
absl::StatusOr<redis::Command> IdentifyCommand(const v1::IdentifyTenantRequest& request, int partitions,
                                               int64_t now_ms);
redis::Command GetCommand(const std::string& id, int partitions);
// NOT_FOUND naming the tenant when neither record nor default set exists.
absl::StatusOr<v1::Tenant> TenantFromReply(const std::string& id, const redis::Reply& reply);
// Deletes the record and the tenant's default set; reply: keys removed.
redis::Command DeleteCommand(const std::string& id, int partitions);

// The template view: {"id", "name", "settings": {...without preference_set}}.
nlohmann::json TenantJson(const v1::Tenant& tenant);

// Per-worker cache, like users::UserCache (a TtlCache: every tenant of a
// read stays findable for that read). Unknown tenants read as {"id": id}.
// Not thread-safe.
class TenantCache {
 public:
  TenantCache(const Clock& clock, int partitions, int64_t ttl_micros = 2'000'000, size_t capacity = 10'000)
      : partitions_(partitions), entries_(clock, ttl_micros, capacity) {}
  // Starts a read: loads the tenants of `ids` not cached (or stale); "" is
  // no tenant. UNAVAILABLE etc. when Redis fails.
  absl::Status Prefetch(redis::RedisClient& client, const std::vector<std::string>& ids);
  // JSON null for "" (no tenant); nullptr when not prefetched.
  const nlohmann::json* Find(const std::string& id) const;

 private:
  const int partitions_;
  TtlCache<nlohmann::json> entries_;  // the template view of each tenant
  const nlohmann::json none_ = nullptr;
};

}  // namespace herald::tenants
