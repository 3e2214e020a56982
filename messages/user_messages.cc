#include "messages/user_messages.h"

#include "absl/strings/str_cat.h"
#include "messages/adopt.lua.h"
#include "messages/delete_user_chunk.lua.h"
#include "messages/release.lua.h"
#include "messages/take_chunk.lua.h"
#include "redis/script.h"

namespace herald::messages {
namespace {

const redis::Script kDeleteChunk(lua::kMessagesDeleteUserChunk);
const redis::Script kTakeChunk(lua::kMessagesTakeChunk);
const redis::Script kAdopt(lua::kMessagesAdopt);
const redis::Script kRelease(lua::kMessagesRelease);

}  // namespace

redis::Command DeleteUserChunkCommand(const Keys& keys, const std::string& user, int limit) {
  return kDeleteChunk.Call({keys.FeedSet(user, "index"), keys.UserRecords(user), keys.User(user),
                           keys.Preferences(user), keys.ChannelData(user), keys.UserSubscriptions(user)},
                          {user, std::to_string(limit)});
}

redis::Command TakeChunkCommand(const Keys& keys, const std::string& user, int limit) {
  return kTakeChunk.Call({keys.FeedSet(user, "index"), keys.UserRecords(user)}, {std::to_string(limit), user});
}

absl::StatusOr<std::vector<MovedMessage>> ParseTakeChunkReply(const redis::Reply& reply) {
  if (reply.elements.size() % 3 != 0) return absl::InternalError("take chunk: unexpected reply");
  std::vector<MovedMessage> messages;
  for (size_t i = 0; i < reply.elements.size(); i += 3) {
    MovedMessage& message = messages.emplace_back();
    message.in_feed = reply.elements[i].integer == 1;
    message.id = reply.elements[i + 1].str;
    const auto& fields = reply.elements[i + 2].elements;
    for (size_t f = 0; f + 1 < fields.size(); f += 2) {
      // Feed placement is recomputed by the adopting side.
      if (fields[f].str == "seq" || fields[f].str == "recipient") continue;
      message.fields.push_back(fields[f].str);
      message.fields.push_back(fields[f + 1].str);
    }
  }
  return messages;
}

redis::Command AdoptCommand(const Keys& keys, const std::string& user, const std::vector<MovedMessage>& messages,
                            int64_t now_us) {
  std::vector<std::string> args = {user, std::to_string(now_us)};
  for (const MovedMessage& message : messages) {
    args.push_back(message.in_feed ? "1" : "0");
    args.push_back(message.id);
    args.push_back(std::to_string(message.fields.size()));
    args.insert(args.end(), message.fields.begin(), message.fields.end());
  }
  return kAdopt.Call({keys.FeedSet(user, "index"), keys.UserRecords(user), keys.FeedSequence()}, args);
}

redis::Command ReleaseCommand(const Keys& keys, const std::string& user, const std::vector<MovedMessage>& messages) {
  std::vector<std::string> args = {user};
  for (const MovedMessage& message : messages) {
    args.push_back(message.id);
    // The tenant travels in the fields (the adopted copy may already say
    // the new owner's partition, so it is read from what was taken).
    std::string tenant, feed;
    for (size_t f = 0; f + 1 < message.fields.size(); f += 2) {
      if (message.fields[f] == "tenant") tenant = message.fields[f + 1];
      if (message.in_feed && message.fields[f] == "feed") feed = message.fields[f + 1];
    }
    args.push_back(tenant);
    args.push_back(feed);
  }
  return kRelease.Call({keys.UserRecords(user)}, args);
}

}  // namespace herald::messages
