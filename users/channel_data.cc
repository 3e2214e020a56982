#include "users/channel_data.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "users/user_store.h"

namespace herald::users {
namespace {

using nlohmann::json;

absl::Status Invalid(const std::string& field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("data_json", field, ": ", problem));
}

bool IsHttpUrl(const json& value) {
  if (!value.is_string()) return false;
  const std::string& url = value.get_ref<const std::string&>();
  return (absl::StartsWith(url, "https://") || absl::StartsWith(url, "http://")) && url.size() <= 2048 &&
         url.find_first_of(" \t\r\n") == std::string::npos;
}

absl::Status ValidateConnection(const json& connection, const std::string& field) {
  if (!connection.is_object()) return Invalid(field, "must be an object");
  auto webhook = connection.find("incoming_webhook");
  if (webhook != connection.end()) {
    if (!webhook->is_object() || !IsHttpUrl(webhook->value("url", json()))) {
      return Invalid(absl::StrCat(field, ".incoming_webhook.url"), "must be an http(s) URL");
    }
    return absl::OkStatus();
  }
  for (const char* id : {"channel_id", "user_id"}) {
    auto found = connection.find(id);
    if (found == connection.end()) continue;
    if (!found->is_string() || found->get_ref<const std::string&>().empty()) {
      return Invalid(absl::StrCat(field, ".", id), "must be a non-empty string");
    }
    return absl::OkStatus();
  }
  return Invalid(field, "needs incoming_webhook.url, channel_id or user_id");
}

// Appends the elements of `extra` that `base` lacks.
void Unite(json& base, const json& extra) {
  if (!extra.is_array()) return;
  if (!base.is_array()) base = json::array();
  for (const json& element : extra) {
    if (std::find(base.begin(), base.end(), element) == base.end()) base.push_back(element);
  }
}

}  // namespace

absl::StatusOr<json> ValidateChannelData(const std::string& data_json) {
  if (data_json.size() > kMaxChannelDataBytes) return Invalid("", absl::StrCat("larger than ", kMaxChannelDataBytes, " bytes"));
  json data = json::parse(data_json, nullptr, false);
  if (data.is_discarded() || !data.is_object()) return Invalid("", "must be a JSON object");
  if (data.empty()) return Invalid("", "must not be empty (use UnsetChannelData to remove it)");
  auto tokens = data.find("tokens");
  if (tokens != data.end()) {
    if (!tokens->is_array() || tokens->empty() || tokens->size() > kMaxPushTokens) {
      return Invalid(".tokens", absl::StrCat("must be a list of 1 to ", kMaxPushTokens, " tokens"));
    }
    for (size_t i = 0; i < tokens->size(); ++i) {
      const json& token = (*tokens)[i];
      if (!token.is_string() || token.get_ref<const std::string&>().empty() ||
          token.get_ref<const std::string&>().size() > 4096) {
        return Invalid(absl::StrCat(".tokens[", i, "]"), "must be a non-empty string of at most 4096 bytes");
      }
    }
  }
  auto connections = data.find("connections");
  if (connections != data.end()) {
    if (!connections->is_array() || connections->empty() || connections->size() > 100) {
      return Invalid(".connections", "must be a list of 1 to 100 connections");
    }
    for (size_t i = 0; i < connections->size(); ++i) {
      absl::Status valid = ValidateConnection((*connections)[i], absl::StrCat(".connections[", i, "]"));
      if (!valid.ok()) return valid;
    }
  }
  return data;
}

absl::Status ValidateChannelKey(const std::string& user_id, const std::string& channel) {
  absl::Status valid = ValidateId(user_id, "user_id");
  if (valid.ok()) valid = ValidateId(channel, "channel");
  return valid;
}

absl::Status CheckChannelDataFits(const json& data, const std::string& channel, const std::string& channel_type) {
  const char* needed = channel_type == "push" ? "tokens" : channel_type == "chat" ? "connections" : nullptr;
  if (needed != nullptr && !data.contains(needed)) {
    return Invalid(absl::StrCat(".", needed), absl::StrCat("is required for ", channel_type, " channel '", channel, "'"));
  }
  return absl::OkStatus();
}

redis::Command SetChannelDataCommand(const std::string& user_id, const std::string& channel,
                                     const std::string& data_json, int partitions) {
  return {"HSET", Keys(PartitionOf(user_id, partitions)).ChannelData(user_id), channel, data_json};
}

redis::Command GetChannelDataCommand(const std::string& user_id, const std::string& channel, int partitions) {
  return {"HGET", Keys(PartitionOf(user_id, partitions)).ChannelData(user_id), channel};
}

redis::Command UnsetChannelDataCommand(const std::string& user_id, const std::string& channel, int partitions) {
  return {"HDEL", Keys(PartitionOf(user_id, partitions)).ChannelData(user_id), channel};
}

json MergeChannelData(const json& into, const json& from) {
  if (!into.is_object()) return from;
  if (!from.is_object()) return into;
  json merged = into;
  for (const char* list : {"tokens", "connections"}) {
    if (from.contains(list)) Unite(merged[list], from[list]);
  }
  for (auto it = from.begin(); it != from.end(); ++it) {
    if (!merged.contains(it.key())) merged[it.key()] = it.value();
  }
  return merged;
}

}  // namespace herald::users
