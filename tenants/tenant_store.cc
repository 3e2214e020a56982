#include "tenants/tenant_store.h"

#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "preferences/preferences.h"
#include "redis/script.h"
#include "tenants/get.lua.h"
#include "tenants/identify.lua.h"
#include "users/user_store.h"

namespace herald::tenants {
namespace {

using nlohmann::json;

const redis::Script kIdentify(lua::kTenantsIdentify);
const redis::Script kGet(lua::kTenantsGet);

absl::Status Invalid(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("settings_json.", field, ": ", problem));
}

bool IsColor(const std::string& value) {
  static const std::regex kColor("#[0-9a-fA-F]{6}");
  return std::regex_match(value, kColor);
}

absl::Status ValidateBranding(const json& branding) {
  if (!branding.is_object()) return Invalid("branding", "must be an object");
  for (auto it = branding.begin(); it != branding.end(); ++it) {
    const std::string& key = it.key();
    std::string field = absl::StrCat("branding.", key);
    if (key == "primary_color" || key == "primary_color_contrast") {
      if (!it->is_string() || !IsColor(it->get<std::string>())) return Invalid(field, "must be a #RRGGBB color");
    } else if (key == "logo_url" || key == "icon_url") {
      if (!it->is_string() || it->get_ref<const std::string&>().size() > 2048 ||
          !(absl::StartsWith(it->get<std::string>(), "https://") || absl::StartsWith(it->get<std::string>(), "http://"))) {
        return Invalid(field, "must be an http(s) URL");
      }
    } else {
      return Invalid(field, "unknown field (primary_color, primary_color_contrast, logo_url, icon_url)");
    }
  }
  return absl::OkStatus();
}

Keys KeysOf(const std::string& id, int partitions) { return Keys(PartitionOf(id, partitions)); }

}  // namespace

absl::StatusOr<redis::Command> IdentifyCommand(const v1::IdentifyTenantRequest& request, int partitions,
                                               int64_t now_ms) {
  absl::Status valid = users::ValidateId(request.id(), "id");
  if (!valid.ok()) return valid;
  if (request.name().size() > users::kMaxFieldBytes) {
    return absl::InvalidArgumentError(absl::StrCat("name: longer than ", users::kMaxFieldBytes, " bytes"));
  }
  std::string settings_text;
  std::string set_text;
  bool has_set = false;
  if (!request.settings_json().empty()) {
    if (request.settings_json().size() > users::kMaxPropertiesBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("settings_json: larger than ", users::kMaxPropertiesBytes, " bytes"));
    }
    json settings = json::parse(request.settings_json(), nullptr, false);
    if (settings.is_discarded() || !settings.is_object()) {
      return absl::InvalidArgumentError("settings_json: must be a JSON object");
    }
    for (auto it = settings.begin(); it != settings.end(); ++it) {
      if (it.key() != "branding" && it.key() != "preference_set") {
        return Invalid(it.key(), "unknown field (branding, preference_set)");
      }
    }
    if (settings.contains("branding")) {
      valid = ValidateBranding(settings["branding"]);
      if (!valid.ok()) return valid;
    }
    if (settings.contains("preference_set")) {
      auto set = preferences::ParsePreferenceSet(settings["preference_set"], "settings_json.preference_set");
      if (!set.ok()) return set.status();
      valid = preferences::CheckChannelTypes(*set, "settings_json.preference_set");
      if (!valid.ok()) return valid;
      set_text = preferences::PreferenceSetToJson(*set).dump();
      has_set = true;
      settings.erase("preference_set");
    }
    settings_text = settings.dump();
  }
  Keys keys = KeysOf(request.id(), partitions);
  return kIdentify.Call({keys.Tenant(request.id()), keys.TenantPreferences(request.id())},
                        {std::to_string(now_ms), request.name().empty() ? "0" : "1", request.name(),
                         settings_text.empty() ? "0" : "1", settings_text, has_set ? "1" : "0", set_text});
}

redis::Command GetCommand(const std::string& id, int partitions) {
  Keys keys = KeysOf(id, partitions);
  return kGet.Call({keys.Tenant(id), keys.TenantPreferences(id)}, {});
}

absl::StatusOr<v1::Tenant> TenantFromReply(const std::string& id, const redis::Reply& reply) {
  if (reply.elements.size() != 2 || (reply.elements[0].elements.empty() && reply.elements[1].is_nil())) {
    return absl::NotFoundError(absl::StrCat("tenant '", id, "' not found"));
  }
  v1::Tenant tenant;
  tenant.set_id(id);
  json settings = json::object();
  const auto& fields = reply.elements[0].elements;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& field = fields[i].str;
    const std::string& value = fields[i + 1].str;
    if (field == "name") tenant.set_name(value);
    else if (field == "created_at") tenant.set_created_at_ms(std::strtoll(value.c_str(), nullptr, 10));
    else if (field == "updated_at") tenant.set_updated_at_ms(std::strtoll(value.c_str(), nullptr, 10));
    else if (field == "settings") {
      json parsed = json::parse(value, nullptr, false);
      if (parsed.is_object()) settings = std::move(parsed);
    }
  }
  if (reply.elements[1].type == redis::Reply::Type::kString) {
    json set = json::parse(reply.elements[1].str, nullptr, false);
    if (!set.is_discarded()) settings["preference_set"] = std::move(set);
  }
  tenant.set_settings_json(settings.dump());
  return tenant;
}

redis::Command DeleteCommand(const std::string& id, int partitions) {
  Keys keys = KeysOf(id, partitions);
  return {"DEL", keys.Tenant(id), keys.TenantPreferences(id)};
}

json TenantJson(const v1::Tenant& tenant) {
  json out = {{"id", tenant.id()}};
  if (!tenant.name().empty()) out["name"] = tenant.name();
  json settings = json::parse(tenant.settings_json().empty() ? "{}" : tenant.settings_json(), nullptr, false);
  if (settings.is_object()) {
    settings.erase("preference_set");
    out["settings"] = std::move(settings);
  }
  return out;
}

absl::Status TenantCache::Prefetch(redis::RedisClient& client, const std::vector<std::string>& ids) {
  std::vector<std::string> tenant_ids;
  for (const std::string& id : ids) {
    if (!id.empty()) tenant_ids.push_back(id);
  }
  std::vector<std::string> missing = entries_.StartRead(tenant_ids);
  if (missing.empty()) return absl::OkStatus();
  std::vector<redis::Command> commands;
  for (const std::string& id : missing) commands.push_back(GetCommand(id, partitions_));
  auto replies = client.Pipeline(commands);
  for (size_t i = 0; i < missing.size(); ++i) {
    if (!replies[i].ok()) return replies[i].status();
    auto tenant = TenantFromReply(missing[i], *replies[i]);
    entries_.Put(missing[i], tenant.ok() ? TenantJson(*tenant) : json{{"id", missing[i]}});
  }
  return absl::OkStatus();
}

const json* TenantCache::Find(const std::string& id) const {
  if (id.empty()) return &none_;
  return entries_.Find(id);
}

}  // namespace herald::tenants
