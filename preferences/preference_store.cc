#include "preferences/preference_store.h"

#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "preferences/set.lua.h"
#include "redis/script.h"
#include "users/user_store.h"

namespace herald::preferences {
namespace {

constexpr size_t kMaxPreferencesBytes = 64 * 1024;
constexpr absl::string_view kTenantField = "tenant:";
// Listeners read the change stream within milliseconds; the length only
// bounds memory (a listener that falls further behind drops its caches).
constexpr int kChangeStreamMaxLen = 1000;
const redis::Script kSet(lua::kPreferencesSet);

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

absl::StatusOr<PreferenceWrite> SetCommand(const Scope& scope, const std::string& preferences_json, int partitions) {
  absl::Status valid = ValidateScope(scope);
  if (!valid.ok()) return valid;
  if (preferences_json.size() > kMaxPreferencesBytes) {
    return absl::InvalidArgumentError(absl::StrCat("preferences_json: larger than ", kMaxPreferencesBytes, " bytes"));
  }
  nlohmann::json parsed = nlohmann::json::parse(preferences_json, nullptr, false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("preferences_json: not valid JSON");
  auto set = ParsePreferenceSet(parsed, "preferences_json");
  if (!set.ok()) return set.status();
  absl::Status known = CheckChannelTypes(*set, "preferences_json");
  if (!known.ok()) return known;
  std::string normalized = PreferenceSetToJson(*set).dump();
  const bool tenant_default = scope.user_id.empty();
  const std::string& id = tenant_default ? scope.tenant : scope.user_id;
  const Keys keys(PartitionOf(id, partitions));
  redis::Command command = kSet.Call(
      {tenant_default ? keys.TenantPreferences(id) : keys.Preferences(id), keys.PreferenceChanges()},
      {tenant_default ? "t" : "u", tenant_default ? "" : UserField(scope), normalized, id,
       std::to_string(kChangeStreamMaxLen)});
  return PreferenceWrite{std::move(command), std::move(normalized)};
}

std::string UserChangeId(absl::string_view user_id) { return absl::StrCat("u", user_id); }
std::string TenantChangeId(absl::string_view tenant) { return absl::StrCat("t", tenant); }

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
  absl::Status known = CheckChannelTypes(*set, path);
  if (!known.ok()) return known;
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
  ForgetChanged();
  std::vector<std::string> user_ids, tenant_ids;
  for (const auto& [user, tenant] : targets) {
    user_ids.push_back(user);
    if (!tenant.empty()) tenant_ids.push_back(tenant);
  }
  std::vector<std::string> users = users_.StartRead(user_ids);
  std::vector<std::string> tenants = tenants_.StartRead(tenant_ids);
  if (users.empty() && tenants.empty()) return absl::OkStatus();
  // Users' reads first, then tenants': the replies are parsed in that order.
  std::vector<redis::Command> commands;
  for (const std::string& user : users) {
    commands.push_back({"HGETALL", Keys(PartitionOf(user, partitions_)).Preferences(user)});
  }
  for (const std::string& tenant : tenants) {
    commands.push_back({"GET", Keys(PartitionOf(tenant, partitions_)).TenantPreferences(tenant)});
  }
  auto replies = client.Pipeline(commands);
  for (const auto& reply : replies) {
    if (!reply.ok()) return reply.status();
  }
  for (size_t i = 0; i < users.size(); ++i) {
    UserSets sets;
    ParseUserSets(*replies[i], &sets.user, &sets.by_tenant);
    users_.Put(users[i], std::move(sets));
  }
  for (size_t i = 0; i < tenants.size(); ++i) {
    const redis::Reply& reply = *replies[users.size() + i];
    tenants_.Put(tenants[i], reply.type == redis::Reply::Type::kString ? ParseStoredSet(reply.str) : nullptr);
  }
  return absl::OkStatus();
}

void PreferenceCache::ForgetChanged() {
  if (changes_ == nullptr || changes_->end() == changes_cursor_) return;
  bool complete = changes_->ReadSince(&changes_cursor_, [this](const std::string& id) {
    if (id.empty()) return;
    if (id[0] == 'u') users_.Erase(absl::string_view(id).substr(1));
    if (id[0] == 't') tenants_.Erase(absl::string_view(id).substr(1));
  });
  if (!complete) {
    users_.Clear();
    tenants_.Clear();
  }
}

LevelSets PreferenceCache::Find(const std::string& user, const std::string& tenant,
                                const PreferenceSet* environment) const {
  LevelSets sets;
  sets.environment = environment;
  if (const UserSets* found = users_.Find(user)) {
    sets.user = found->user.get();
    if (!tenant.empty()) {
      auto by_tenant = found->by_tenant.find(tenant);
      if (by_tenant != found->by_tenant.end()) sets.user_tenant = by_tenant->second.get();
    }
  }
  if (!tenant.empty()) {
    if (const auto* tenant_set = tenants_.Find(tenant)) sets.tenant = tenant_set->get();
  }
  return sets;
}

}  // namespace herald::preferences
