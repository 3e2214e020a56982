#include "services/api/user_handlers.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/ids.h"
#include "core/keys.h"
#include "services/api/user_admin.h"
#include "users/channel_data.h"
#include "users/user_store.h"

namespace herald::api {
namespace {

constexpr int kMaxBulkUsers = 1000;

}  // namespace

void UserHandlers::IdentifyUser(const v1::IdentifyUserRequest& request, v1::User* response, Finish finish) const {
  absl::Status valid = users::ValidateInlineUser(request.user(), "user");
  if (!valid.ok()) return std::move(finish)(valid);
  const std::string& id = request.user().id();
  redis::Command command = users::IdentifyCommand(Keys(PartitionOf(id, backend_.partitions())).User(id),
                                                  request.user(), backend_.clock().NowMillis());
  backend_.Run({std::move(command)}, ReplyWith(users::UserFromReply, id, response), std::move(finish));
}

void UserHandlers::GetUser(const v1::GetUserRequest& request, v1::User* response, Finish finish) const {
  absl::Status valid = users::ValidateId(request.id(), "id");
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run({{"HGETALL", Keys(PartitionOf(request.id(), backend_.partitions())).User(request.id())}},
               ReplyWith(users::UserFromReply, request.id(), response), std::move(finish));
}

void UserHandlers::BulkIdentifyUsers(const v1::BulkIdentifyUsersRequest& request,
                                     v1::BulkIdentifyUsersResponse* response, Finish finish) const {
  if (request.users_size() == 0) {
    return std::move(finish)(absl::InvalidArgumentError("users: at least one is required"));
  }
  if (request.users_size() > kMaxBulkUsers) {
    return std::move(finish)(absl::InvalidArgumentError(
        absl::StrCat("users: at most ", kMaxBulkUsers, " per call (got ", request.users_size(), ")")));
  }
  for (int i = 0; i < request.users_size(); ++i) {
    absl::Status valid = users::ValidateInlineUser(request.users(i), absl::StrCat("users[", i, "]"));
    if (!valid.ok()) return std::move(finish)(valid);
  }
  std::vector<redis::Command> commands;
  const int64_t now_ms = backend_.clock().NowMillis();
  for (const v1::InlineUser& user : request.users()) {
    commands.push_back(
        users::IdentifyCommand(Keys(PartitionOf(user.id(), backend_.partitions())).User(user.id()), user, now_ms));
  }
  backend_.Run(std::move(commands),
               [&request, response](const Backend::Results& results) {
                 for (int i = 0; i < request.users_size(); ++i) {
                   auto user = users::UserFromReply(request.users(i).id(), *results[i]);
                   if (!user.ok()) return user.status();
                   *response->add_users() = std::move(*user);
                 }
                 return absl::OkStatus();
               },
               std::move(finish));
}

void UserHandlers::DeleteUser(const v1::DeleteUserRequest& request, v1::DeleteUserResponse* response,
                              Finish finish) const {
  absl::Status valid = users::ValidateId(request.id(), "id");
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.RunAdmin(
      [&request, response, partitions = backend_.partitions()](redis::RedisClient& client) {
        auto deleted = api::DeleteUser(client, request.id(), partitions);
        if (deleted.ok()) response->set_deleted_keys(*deleted);
        return deleted.status();
      },
      std::move(finish));
}

void UserHandlers::MergeUsers(const v1::MergeUsersRequest& request, v1::User* response, Finish finish) const {
  backend_.RunAdmin(
      [&request, response, partitions = backend_.partitions(),
       now_ms = backend_.clock().NowMillis()](redis::RedisClient& client) {
        auto merged = api::MergeUsers(client, request.user_id(), request.from_user_id(), partitions, now_ms);
        if (merged.ok()) *response = std::move(*merged);
        return merged.status();
      },
      std::move(finish));
}

void UserHandlers::SetChannelData(const v1::SetChannelDataRequest& request, v1::ChannelData* response,
                                  Finish finish) const {
  absl::Status valid = users::ValidateChannelKey(request.user_id(), request.channel());
  if (!valid.ok()) return std::move(finish)(valid);
  const auto& channels = backend_.workflows().channels();
  auto channel = channels.find(request.channel());
  if (channel == channels.end()) {
    std::vector<std::string> names;
    for (const auto& [name, type] : channels) names.push_back(name);
    return std::move(finish)(absl::InvalidArgumentError(absl::StrCat(
        "channel: '", request.channel(), "' is not a channel of any workflow (",
        names.empty() ? "no workflow delivers through a channel with channel data"
                      : absl::StrCat("channels: ", absl::StrJoin(names, ", ")),
        ")")));
  }
  auto data = users::ValidateChannelData(request.data_json());
  if (!data.ok()) return std::move(finish)(data.status());
  valid = users::CheckChannelDataFits(*data, channel->first, channel->second);
  if (!valid.ok()) return std::move(finish)(valid);
  std::string stored = data->dump();
  response->set_user_id(request.user_id());
  response->set_channel(request.channel());
  response->set_data_json(stored);
  backend_.Run({users::SetChannelDataCommand(request.user_id(), request.channel(), stored, backend_.partitions())},
               [](const Backend::Results&) { return absl::OkStatus(); }, std::move(finish));
}

void UserHandlers::GetChannelData(const v1::ChannelDataRequest& request, v1::ChannelData* response,
                                  Finish finish) const {
  absl::Status valid = users::ValidateChannelKey(request.user_id(), request.channel());
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run({users::GetChannelDataCommand(request.user_id(), request.channel(), backend_.partitions())},
               [&request, response](const Backend::Results& results) {
                 if (results[0]->type != redis::Reply::Type::kString) {
                   return absl::NotFoundError(absl::StrCat("channel: user '", request.user_id(),
                                                           "' has no data for channel '", request.channel(), "'"));
                 }
                 response->set_user_id(request.user_id());
                 response->set_channel(request.channel());
                 response->set_data_json(results[0]->str);
                 return absl::OkStatus();
               },
               std::move(finish));
}

void UserHandlers::UnsetChannelData(const v1::ChannelDataRequest& request, v1::UnsetChannelDataResponse* response,
                                    Finish finish) const {
  absl::Status valid = users::ValidateChannelKey(request.user_id(), request.channel());
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run({users::UnsetChannelDataCommand(request.user_id(), request.channel(), backend_.partitions())},
               [response](const Backend::Results& results) {
                 response->set_existed(results[0]->integer > 0);
                 return absl::OkStatus();
               },
               std::move(finish));
}

}  // namespace herald::api
