#include "users/user_store.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/ids.h"
#include "core/keys.h"
#include "users/identify.lua.h"

namespace herald::users {

namespace {

const redis::Script kIdentify(lua::kUsersIdentify);

}  // namespace

absl::Status ValidateId(const std::string& id, const std::string& field) {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than ", kMaxIdBytes, " bytes"));
  }
  for (unsigned char c : id) {
    if (c < 0x20 || c == 0x7f) return absl::InvalidArgumentError(absl::StrCat(field, ": contains a control character"));
  }
  return absl::OkStatus();
}

absl::Status ValidateInlineUser(const v1::InlineUser& user, const std::string& field_prefix) {
  absl::Status id = ValidateId(user.id(), absl::StrCat(field_prefix, ".id"));
  if (!id.ok()) return id;
  const std::pair<const char*, const std::string*> fields[] = {
      {"name", &user.name()},         {"email", &user.email()},   {"phone_number", &user.phone_number()},
      {"avatar", &user.avatar()},     {"locale", &user.locale()}, {"timezone", &user.timezone()},
  };
  for (const auto& [name, value] : fields) {
    if (value->size() > kMaxFieldBytes) {
      return absl::InvalidArgumentError(absl::StrCat(field_prefix, ".", name, ": longer than ", kMaxFieldBytes, " bytes"));
    }
  }
  absl::TimeZone zone;
  if (!user.timezone().empty() && !absl::LoadTimeZone(user.timezone(), &zone)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field_prefix, ".timezone: '", user.timezone(), "' is not a time zone (use an IANA name such as Europe/Paris)"));
  }
  if (!user.email().empty() && user.email().find('@') == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field_prefix, ".email: '", user.email(), "' is not an email address"));
  }
  if (!user.properties_json().empty()) {
    if (user.properties_json().size() > kMaxPropertiesBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(field_prefix, ".properties_json: larger than ", kMaxPropertiesBytes, " bytes"));
    }
    nlohmann::json parsed = nlohmann::json::parse(user.properties_json(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(field_prefix, ".properties_json: must be a JSON object"));
    }
  }
  return absl::OkStatus();
}

void AppendUserArgs(const v1::InlineUser& user, std::vector<std::string>* args) {
  std::vector<std::string> pairs;
  auto add = [&](const char* name, const std::string& value) {
    if (value.empty()) return;
    pairs.push_back(name);
    pairs.push_back(value);
  };
  add("name", user.name());
  add("email", user.email());
  add("phone_number", user.phone_number());
  add("avatar", user.avatar());
  add("locale", user.locale());
  add("timezone", user.timezone());
  add("properties", user.properties_json());
  args->push_back(std::to_string(pairs.size() / 2));
  for (std::string& value : pairs) args->push_back(std::move(value));
}

redis::Command IdentifyCommand(const std::string& key, const v1::InlineUser& user, int64_t now_ms) {
  std::vector<std::string> args = {std::to_string(now_ms)};
  AppendUserArgs(user, &args);
  return kIdentify.Call({key}, args);
}

absl::StatusOr<v1::User> UserFromReply(const std::string& id, const redis::Reply& reply) {
  if (reply.elements.empty()) return absl::NotFoundError(absl::StrCat("user '", id, "' not found"));
  v1::User user;
  user.set_id(id);
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    const std::string& value = reply.elements[i + 1].str;
    if (field == "name") user.set_name(value);
    else if (field == "email") user.set_email(value);
    else if (field == "phone_number") user.set_phone_number(value);
    else if (field == "avatar") user.set_avatar(value);
    else if (field == "locale") user.set_locale(value);
    else if (field == "timezone") user.set_timezone(value);
    else if (field == "properties") user.set_properties_json(value);
    else if (field == "created_at") user.set_created_at_ms(std::strtoll(value.c_str(), nullptr, 10));
    else if (field == "updated_at") user.set_updated_at_ms(std::strtoll(value.c_str(), nullptr, 10));
  }
  return user;
}

nlohmann::json UserJson(const v1::User& user) {
  nlohmann::json json = nlohmann::json::object();
  if (!user.properties_json().empty()) {
    nlohmann::json properties = nlohmann::json::parse(user.properties_json(), nullptr, false);
    if (properties.is_object()) json = std::move(properties);
  }
  json["id"] = user.id();
  auto set = [&](const char* name, const std::string& value) {
    if (!value.empty()) json[name] = value;
  };
  set("name", user.name());
  set("email", user.email());
  set("phone_number", user.phone_number());
  set("avatar", user.avatar());
  set("locale", user.locale());
  set("timezone", user.timezone());
  return json;
}

absl::Status UserCache::Prefetch(redis::RedisClient& client, const std::vector<std::string>& ids) {
  std::vector<std::string> missing = entries_.StartRead(ids);
  if (missing.empty()) return absl::OkStatus();
  std::vector<redis::Command> commands;
  for (const std::string& id : missing) {
    Keys keys(PartitionOf(id, partitions_));
    commands.push_back({"HGETALL", keys.User(id)});
    if (load_channel_data_) commands.push_back({"HGETALL", keys.ChannelData(id)});
  }
  auto replies = client.Pipeline(commands);
  const size_t per_user = load_channel_data_ ? 2 : 1;
  for (size_t i = 0; i < missing.size(); ++i) {
    const auto& profile = replies[per_user * i];
    if (!profile.ok()) return profile.status();
    Entry entry;
    auto user = UserFromReply(missing[i], *profile);
    if (user.ok()) entry.user = UserJson(*user);
    if (load_channel_data_) {
      const auto& channels = replies[per_user * i + 1];
      if (!channels.ok()) return channels.status();
      if (!channels->elements.empty()) {
        nlohmann::json data = nlohmann::json::object();
        for (size_t f = 0; f + 1 < channels->elements.size(); f += 2) {
          nlohmann::json parsed = nlohmann::json::parse(channels->elements[f + 1].str, nullptr, false);
          if (!parsed.is_discarded()) data[channels->elements[f].str] = std::move(parsed);
        }
        entry.channel_data = std::move(data);
      }
    }
    entries_.Put(missing[i], std::move(entry));
  }
  return absl::OkStatus();
}

const nlohmann::json* UserCache::Find(const std::string& id) const {
  const Entry* entry = entries_.Find(id);
  if (entry == nullptr || !entry->user) return nullptr;
  return &*entry->user;
}

const nlohmann::json* UserCache::FindChannelData(const std::string& id, const std::string& channel) const {
  const Entry* entry = entries_.Find(id);
  if (entry == nullptr || !entry->channel_data) return nullptr;
  auto found = entry->channel_data->find(channel);
  return found == entry->channel_data->end() ? nullptr : &*found;
}

}  // namespace herald::users
