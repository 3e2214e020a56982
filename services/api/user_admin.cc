#include "services/api/user_admin.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/ids.h"
#include "core/keys.h"
#include "messages/user_messages.h"
#include "nlohmann/json.hpp"
#include "objects/object_store.h"
#include "users/channel_data.h"
#include "users/user_store.h"

namespace herald::api {
namespace {

using nlohmann::json;

constexpr int kChunk = 200;

// Flat HGETALL reply -> map.
std::map<std::string, std::string> Fields(const redis::Reply& reply) {
  std::map<std::string, std::string> fields;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) fields[reply.elements[i].str] = reply.elements[i + 1].str;
  return fields;
}

std::vector<redis::Command> SubscriptionChanges(const redis::Reply& refs, const std::string& user, bool subscribe,
                                                int partitions) {
  std::vector<redis::Command> commands;
  google::protobuf::RepeatedPtrField<std::string> ids;
  *ids.Add() = user;
  for (const redis::Reply& ref : refs.elements) {
    for (auto& command : objects::SubscriptionCommands(ref.str, ids, subscribe, partitions)) {
      commands.push_back(std::move(command));
    }
  }
  return commands;
}

// Profile fields `into` lacks, taken from `from`; properties merged key by
// key with `into` winning.
redis::Command MergedProfileCommand(const std::string& key, const std::map<std::string, std::string>& into,
                                    const std::map<std::string, std::string>& from, int64_t now_ms) {
  redis::Command command = {"HSET", key};
  for (const auto& [field, value] : from) {
    if (field == "created_at" || field == "updated_at" || field == "properties") continue;
    if (into.count(field) == 0) {
      command.push_back(field);
      command.push_back(value);
    }
  }
  auto from_properties = from.find("properties");
  if (from_properties != from.end()) {
    json merged = json::parse(from_properties->second, nullptr, false);
    auto into_properties = into.find("properties");
    if (into_properties != into.end()) {
      json kept = json::parse(into_properties->second, nullptr, false);
      if (kept.is_object() && merged.is_object()) {
        for (auto it = kept.begin(); it != kept.end(); ++it) merged[it.key()] = it.value();
      } else if (kept.is_object()) {
        merged = kept;
      }
    }
    if (merged.is_object()) {
      command.push_back("properties");
      command.push_back(merged.dump());
    }
  }
  command.push_back("updated_at");
  command.push_back(std::to_string(now_ms));
  if (into.count("created_at") == 0) {
    auto created = from.find("created_at");
    command.push_back("created_at");
    command.push_back(created != from.end() ? created->second : std::to_string(now_ms));
  }
  return command;
}

}  // namespace

absl::StatusOr<int64_t> DeleteUser(redis::RedisClient& client, const std::string& user_id, int partitions) {
  Keys keys(PartitionOf(user_id, partitions));
  // Subscriptions first: the user's set still lists them if this fails,
  // so a repeated delete finds them again.
  auto refs = client.Execute({"SMEMBERS", keys.UserSubscriptions(user_id)});
  if (!refs.ok()) return refs.status();
  std::vector<redis::Command> unsubscribe = SubscriptionChanges(*refs, user_id, /*subscribe=*/false, partitions);
  if (!unsubscribe.empty()) {
    absl::Status status = redis::FirstError(client.Pipeline(unsubscribe));
    if (!status.ok()) return status;
  }
  int64_t deleted = 0;
  while (true) {
    auto chunk = client.Execute(messages::DeleteUserChunkCommand(keys, user_id, kChunk));
    if (!chunk.ok()) return chunk.status();
    if (chunk->elements.size() != 2) return absl::InternalError("delete user: unexpected reply");
    deleted += chunk->elements[0].integer;
    if (chunk->elements[1].integer == 0) break;
  }
  return deleted;
}

absl::StatusOr<v1::User> MergeUsers(redis::RedisClient& client, const std::string& user_id,
                                    const std::string& from_user_id, int partitions, int64_t now_ms) {
  absl::Status valid = users::ValidateId(user_id, "user_id");
  if (valid.ok()) valid = users::ValidateId(from_user_id, "from_user_id");
  if (!valid.ok()) return valid;
  if (user_id == from_user_id) return absl::InvalidArgumentError("from_user_id: must differ from user_id");
  Keys into(PartitionOf(user_id, partitions));
  Keys from(PartitionOf(from_user_id, partitions));

  auto read = client.Pipeline({{"HGETALL", from.User(from_user_id)},
                               {"HGETALL", from.Preferences(from_user_id)},
                               {"HGETALL", from.ChannelData(from_user_id)},
                               {"SMEMBERS", from.UserSubscriptions(from_user_id)},
                               messages::TakeChunkCommand(from, from_user_id, 1),
                               {"HGETALL", into.User(user_id)},
                               {"HGETALL", into.ChannelData(user_id)}});
  absl::Status status = redis::FirstError(read);
  if (!status.ok()) return status;
  const redis::Reply& from_profile = *read[0];
  const redis::Reply& from_preferences = *read[1];
  const redis::Reply& from_channels = *read[2];
  const redis::Reply& from_subscriptions = *read[3];
  if (from_profile.elements.empty() && from_preferences.elements.empty() && from_channels.elements.empty() &&
      from_subscriptions.elements.empty() && read[4]->elements.empty()) {
    return absl::NotFoundError(absl::StrCat("from_user_id: user '", from_user_id, "' not found"));
  }

  std::vector<redis::Command> writes;
  writes.push_back(MergedProfileCommand(into.User(user_id), Fields(*read[5]), Fields(from_profile), now_ms));
  for (const auto& [field, value] : Fields(from_preferences)) {
    writes.push_back({"HSETNX", into.Preferences(user_id), field, value});
  }
  std::map<std::string, std::string> into_channels = Fields(*read[6]);
  for (const auto& [channel, value] : Fields(from_channels)) {
    json from_data = json::parse(value, nullptr, false);
    auto existing = into_channels.find(channel);
    json into_data = existing == into_channels.end() ? json(nullptr) : json::parse(existing->second, nullptr, false);
    writes.push_back({"HSET", into.ChannelData(user_id), channel, users::MergeChannelData(into_data, from_data).dump()});
  }
  for (auto& command : SubscriptionChanges(from_subscriptions, user_id, /*subscribe=*/true, partitions)) {
    writes.push_back(std::move(command));
  }
  status = redis::FirstError(client.Pipeline(writes));
  if (!status.ok()) return status;

  // Messages move in chunks: adopt into the target, then release from the
  // source; a repeat after a failure skips what was already adopted.
  while (true) {
    auto taken = client.Execute(messages::TakeChunkCommand(from, from_user_id, kChunk));
    if (!taken.ok()) return taken.status();
    auto messages = messages::ParseTakeChunkReply(*taken);
    if (!messages.ok()) return messages.status();
    if (messages->empty()) break;
    // Adopted feed items are inserted now (their sequence is their insert time).
    auto adopted = client.Execute(messages::AdoptCommand(into, user_id, *messages, absl::GetCurrentTimeNanos() / 1000));
    if (!adopted.ok()) return adopted.status();
    auto released = client.Execute(messages::ReleaseCommand(from, from_user_id, *messages));
    if (!released.ok()) return released.status();
  }
  auto deleted = DeleteUser(client, from_user_id, partitions);
  if (!deleted.ok()) return deleted.status();
  auto merged = client.Execute({"HGETALL", into.User(user_id)});
  if (!merged.ok()) return merged.status();
  return users::UserFromReply(user_id, *merged);
}

}  // namespace herald::api
