#include "preferences/preference_store.h"

#include <fstream>
#include <sstream>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "users/user_store.h"

namespace herald::preferences {
namespace {

constexpr size_t kMaxPreferencesBytes = 64 * 1024;
constexpr absl::string_view kTenantField = "tenant:";

std::string UserField(const Scope& scope) {
  return scope.tenant.empty() ? "default" : absl::StrCat(kTenantField, scope.tenant);
}

}  // namespace

absl::Status ValidateScope(const Scope& scope) {
  if (scope.user_id.empty() && scope.tenant.empty()) {
    return absl::InvalidArgumentError("user_id: required (or tenant, for a tenant's default set)");
  }
  if (!scope.user_id.empty()) {
    absl::Status user = users::ValidateId(scope.user_id, "user_id");
    if (!user.ok()) return user;
  }
  if (!scope.tenant.empty()) return users::ValidateId(scope.tenant, "tenant");
  return absl::OkStatus();
}

absl::StatusOr<redis::Command> SetCommand(const Scope& scope, const std::string& preferences_json, int partitions) {
  absl::Status valid = ValidateScope(scope);
  if (!valid.ok()) return valid;
  if (preferences_json.size() > kMaxPreferencesBytes) {
    return absl::InvalidArgumentError(absl::StrCat("preferences_json: larger than ", kMaxPreferencesBytes, " bytes"));
  }
  nlohmann::json parsed = nlohmann::json::parse(preferences_json, nullptr, false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("preferences_json: not valid JSON");
  auto set = ParsePreferenceSet(parsed, "preferences_json");
  if (!set.ok()) return set.status();
  std::string normalized = PreferenceSetToJson(*set).dump();
  if (scope.user_id.empty()) {
    return redis::Command{"SET", Keys(PartitionOf(scope.tenant, partitions)).TenantPreferences(scope.tenant),
                          normalized};
  }
  return redis::Command{"HSET", Keys(PartitionOf(scope.user_id, partitions)).Preferences(scope.user_id),
                        UserField(scope), normalized};
}

redis::Command GetCommand(const Scope& scope, int partitions) {
  if (scope.user_id.empty()) {
    return {"GET", Keys(PartitionOf(scope.tenant, partitions)).TenantPreferences(scope.tenant)};
  }
  return {"HGET", Keys(PartitionOf(scope.user_id, partitions)).Preferences(scope.user_id), UserField(scope)};
}

std::string StoredJson(const redis::Reply& reply) {
  return reply.type == redis::Reply::Type::kString ? reply.str : "{}";
}

absl::StatusOr<PreferenceSet> LoadPreferenceFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot be read"));
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json parsed = nlohmann::json::parse(text.str(), nullptr, false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError(absl::StrCat(path, ": not valid JSON"));
  auto set = ParsePreferenceSet(parsed, path);
  if (!set.ok()) return set.status();
  return std::move(*set);
}

std::shared_ptr<const PreferenceSet> ParseStoredSet(const std::string& json_text) {
  nlohmann::json parsed = nlohmann::json::parse(json_text, nullptr, false);
  if (parsed.is_discarded()) return nullptr;
  auto set = ParsePreferenceSet(parsed, "stored");
  if (!set.ok() || set->empty()) return nullptr;
  return std::make_shared<const PreferenceSet>(std::move(*set));
}

void ParseUserSets(const redis::Reply& reply, std::shared_ptr<const PreferenceSet>* user,
                   absl::flat_hash_map<std::string, std::shared_ptr<const PreferenceSet>>* by_tenant) {
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    auto set = ParseStoredSet(reply.elements[i + 1].str);
    if (set == nullptr) continue;
    if (field == "default") {
      *user = std::move(set);
    } else if (absl::StartsWith(field, kTenantField)) {
      (*by_tenant)[field.substr(kTenantField.size())] = std::move(set);
    }
  }
}

absl::Status PreferenceCache::Prefetch(redis::RedisClient& client,
                                       const std::vector<std::pair<std::string, std::string>>& targets) {
  int64_t now = clock_.NowMicros();
  std::vector<std::string> users, tenants;
  absl::flat_hash_set<std::string> asked;  // "u:<user>" / "t:<tenant>" already in this pipeline
  // Users' reads first, then tenants': the replies are parsed in that order.
  std::vector<redis::Command> commands, tenant_commands;
  auto stale = [&](int64_t loaded_at) { return now - loaded_at >= ttl_micros_; };
  for (const auto& [user, tenant] : targets) {
    auto found = users_.find(user);
    if ((found == users_.end() || stale(found->second.loaded_at)) && asked.insert(absl::StrCat("u:", user)).second) {
      users.push_back(user);
      commands.push_back({"HGETALL", Keys(PartitionOf(user, partitions_)).Preferences(user)});
    }
    if (tenant.empty()) continue;
    auto tenant_found = tenants_.find(tenant);
    if ((tenant_found == tenants_.end() || stale(tenant_found->second.loaded_at)) &&
        asked.insert(absl::StrCat("t:", tenant)).second) {
      tenants.push_back(tenant);
      tenant_commands.push_back({"GET", Keys(PartitionOf(tenant, partitions_)).TenantPreferences(tenant)});
    }
  }
  for (auto& command : tenant_commands) commands.push_back(std::move(command));
  if (commands.empty()) return absl::OkStatus();
  if (users_.size() + users.size() > capacity_) users_.clear();
  if (tenants_.size() + tenants.size() > capacity_) tenants_.clear();
  auto replies = client.Pipeline(commands);
  for (const auto& reply : replies) {
    if (!reply.ok()) return reply.status();
  }
  for (size_t i = 0; i < users.size(); ++i) {
    UserSets sets;
    sets.loaded_at = now;
    ParseUserSets(*replies[i], &sets.user, &sets.by_tenant);
    users_[users[i]] = std::move(sets);
  }
  for (size_t i = 0; i < tenants.size(); ++i) {
    const redis::Reply& reply = *replies[users.size() + i];
    tenants_[tenants[i]] = TenantSet{reply.type == redis::Reply::Type::kString ? ParseStoredSet(reply.str) : nullptr,
                                     now};
  }
  return absl::OkStatus();
}

LevelSets PreferenceCache::Find(const std::string& user, const std::string& tenant,
                                const PreferenceSet* environment) const {
  LevelSets sets;
  sets.environment = environment;
  auto found = users_.find(user);
  if (found != users_.end()) {
    sets.user = found->second.user.get();
    if (!tenant.empty()) {
      auto by_tenant = found->second.by_tenant.find(tenant);
      if (by_tenant != found->second.by_tenant.end()) sets.user_tenant = by_tenant->second.get();
    }
  }
  if (!tenant.empty()) {
    auto tenant_found = tenants_.find(tenant);
    if (tenant_found != tenants_.end()) sets.tenant = tenant_found->second.set.get();
  }
  return sets;
}

}  // namespace herald::preferences
