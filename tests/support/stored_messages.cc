#include "tests/support/stored_messages.h"

#include <cstdlib>

#include "core/keys.h"
#include "messages/message_store.h"

namespace herald::testing {
namespace {

MessageFields FieldsOf(const redis::Reply& reply) {
  MessageFields fields;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) fields[reply.elements[i].str] = reply.elements[i + 1].str;
  return fields;
}

}  // namespace

std::map<std::string, MessageFields> StoredMessagesOf(redis::RedisClient& client, const std::vector<std::string>& all_keys,
                                                      const std::string& user) {
  std::map<std::string, MessageFields> out;
  for (const std::string& key : all_keys) {
    size_t at = key.find(":msg:");
    if (at != std::string::npos) {
      auto reply = client.Execute({"HGETALL", key});
      if (!reply.ok()) continue;
      MessageFields fields = FieldsOf(*reply);
      if (fields["recipient"] == user) out[key.substr(at + 5)] = std::move(fields);
      continue;
    }
    // herald:{p}:feed:<user>:items
    const std::string suffix = ":feed:" + user + ":items";
    if (key.size() <= suffix.size() || key.compare(key.size() - suffix.size(), suffix.size(), suffix) != 0) continue;
    const Keys keys(std::atoi(key.c_str() + key.find('{') + 1));
    auto ids = client.Execute({"HKEYS", key});
    if (!ids.ok()) continue;
    for (const redis::Reply& id : ids->elements) {
      auto reply = client.Execute(messages::GetMessageCommand(keys, user, id.str));
      if (reply.ok()) out[id.str] = FieldsOf(*reply);
    }
  }
  return out;
}

}  // namespace herald::testing
