#include "objects/object_store.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "core/ids.h"
#include "core/keys.h"
#include "nlohmann/json.hpp"
#include "objects/change_subscribers.lua.h"
#include "objects/change_user_subscriptions.lua.h"
#include "objects/get.lua.h"
#include "objects/identify.lua.h"
#include "objects/page.lua.h"
#include "redis/script.h"
#include "users/user_store.h"

namespace herald::objects {
namespace {

const redis::Script kIdentify(lua::kObjectsIdentify);
const redis::Script kGet(lua::kObjectsGet);
const redis::Script kChangeSubscribers(lua::kObjectsChangeSubscribers);
const redis::Script kChangeUserSubscriptions(lua::kObjectsChangeUserSubscriptions);
const redis::Script kPage(lua::kObjectsPage);

Keys KeysOf(const std::string& ref, int partitions) { return Keys(PartitionOfRef(ref, partitions)); }

}  // namespace

absl::StatusOr<std::string> ValidateRef(const v1::ObjectRef& object, const std::string& field) {
  absl::Status status = users::ValidateId(object.collection(), absl::StrCat(field, ".collection"));
  if (!status.ok()) return status;
  if (object.collection().find('/') != std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".collection: must not contain '/'"));
  }
  status = users::ValidateId(object.id(), absl::StrCat(field, ".id"));
  if (!status.ok()) return status;
  return absl::StrCat(object.collection(), "/", object.id());
}

v1::ObjectRef ParseRef(const std::string& ref) {
  v1::ObjectRef out;
  size_t slash = ref.find('/');
  out.set_collection(ref.substr(0, slash));
  if (slash != std::string::npos) out.set_id(ref.substr(slash + 1));
  return out;
}

int PartitionOfRef(const std::string& ref, int partitions) { return PartitionOf(absl::StrCat("object:", ref), partitions); }

absl::StatusOr<redis::Command> IdentifyCommand(const v1::IdentifyObjectRequest& request, int partitions,
                                               int64_t now_ms) {
  auto ref = ValidateRef(request.object(), "object");
  if (!ref.ok()) return ref.status();
  if (request.name().size() > users::kMaxFieldBytes) {
    return absl::InvalidArgumentError(absl::StrCat("name: longer than ", users::kMaxFieldBytes, " bytes"));
  }
  if (!request.properties_json().empty()) {
    if (request.properties_json().size() > users::kMaxPropertiesBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("properties_json: larger than ", users::kMaxPropertiesBytes, " bytes"));
    }
    auto parsed = nlohmann::json::parse(request.properties_json(), nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return absl::InvalidArgumentError("properties_json: must be a JSON object");
    }
  }
  Keys keys = KeysOf(*ref, partitions);
  return kIdentify.Call({keys.Object(*ref), keys.Subscribers(*ref)},
                        {std::to_string(now_ms), request.name(), request.name().empty() ? "0" : "1",
                         request.properties_json(), request.properties_json().empty() ? "0" : "1"});
}

redis::Command GetCommand(const std::string& ref, int partitions) {
  Keys keys = KeysOf(ref, partitions);
  return kGet.Call({keys.Object(ref), keys.Subscribers(ref)}, {});
}

absl::StatusOr<v1::Object> ObjectFromReply(const std::string& ref, const redis::Reply& reply) {
  if (reply.elements.size() < 3) return absl::NotFoundError(absl::StrCat("object '", ref, "' not found"));
  v1::Object object;
  v1::ObjectRef parsed = ParseRef(ref);
  object.set_collection(parsed.collection());
  object.set_id(parsed.id());
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    const std::string& field = reply.elements[i].str;
    const std::string& value = reply.elements[i + 1].str;
    if (field == "name") object.set_name(value);
    else if (field == "properties") object.set_properties_json(value);
    else if (field == "created_at") object.set_created_at_ms(std::strtoll(value.c_str(), nullptr, 10));
    else if (field == "updated_at") object.set_updated_at_ms(std::strtoll(value.c_str(), nullptr, 10));
  }
  object.set_subscriber_count(reply.elements.back().integer);
  return object;
}

absl::Status ValidateUserIds(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  if (ids.empty()) return absl::InvalidArgumentError("user_ids: at least one is required");
  if (ids.size() > kMaxSubscriptionsPerCall) {
    return absl::InvalidArgumentError(
        absl::StrCat("user_ids: at most ", kMaxSubscriptionsPerCall, " per call (got ", ids.size(), ")"));
  }
  for (int i = 0; i < ids.size(); ++i) {
    absl::Status status = users::ValidateId(ids[i], absl::StrCat("user_ids[", i, "]"));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

std::vector<redis::Command> SubscriptionCommands(const std::string& ref,
                                                 const google::protobuf::RepeatedPtrField<std::string>& user_ids,
                                                 bool subscribe, int partitions) {
  const char* action = subscribe ? "add" : "remove";
  std::vector<std::string> args = {action};
  std::map<int, std::vector<std::string>> by_partition;
  for (const std::string& id : user_ids) {
    args.push_back(id);
    by_partition[PartitionOf(id, partitions)].push_back(id);
  }
  std::vector<redis::Command> commands;
  commands.push_back(kChangeSubscribers.Call({KeysOf(ref, partitions).Subscribers(ref)}, args));
  for (auto& [partition, ids] : by_partition) {
    std::vector<std::string> user_keys;
    for (const std::string& id : ids) user_keys.push_back(Keys(partition).UserSubscriptions(id));
    commands.push_back(kChangeUserSubscriptions.Call(std::move(user_keys), {action, ref}));
  }
  return commands;
}

absl::StatusOr<v1::SubscriptionsResponse> ParseSubscriptionsReply(const redis::Reply& reply) {
  if (reply.elements.size() != 2) return absl::InternalError("subscriptions: unexpected reply");
  v1::SubscriptionsResponse response;
  response.set_changed(reply.elements[0].integer);
  response.set_subscriber_count(reply.elements[1].integer);
  return response;
}

redis::Command SubscriberPageCommand(const std::string& ref, const std::string& after, int count, int partitions) {
  return kPage.Call({KeysOf(ref, partitions).Subscribers(ref)}, {after, std::to_string(count)});
}

absl::StatusOr<redis::Command> ListCommand(const std::string& ref, const v1::ListSubscribersRequest& request,
                                           int partitions) {
  int page_size = request.page_size() == 0 ? kDefaultSubscriberPage : request.page_size();
  if (page_size < 1 || page_size > kMaxSubscriberPage) {
    return absl::InvalidArgumentError(absl::StrCat("page_size: must be between 1 and ", kMaxSubscriberPage));
  }
  if (request.after().size() > users::kMaxIdBytes) {
    return absl::InvalidArgumentError("after: not a cursor from a previous page");
  }
  return SubscriberPageCommand(ref, request.after(), page_size + 1, partitions);
}

v1::ListSubscribersResponse ParseListReply(const v1::ListSubscribersRequest& request, const redis::Reply& reply) {
  v1::ListSubscribersResponse response;
  if (reply.elements.size() != 2) return response;
  int page_size = request.page_size() == 0 ? kDefaultSubscriberPage : request.page_size();
  const auto& ids = reply.elements[0].elements;
  for (size_t i = 0; i < ids.size() && static_cast<int>(i) < page_size; ++i) response.add_user_ids(ids[i].str);
  if (static_cast<int>(ids.size()) > page_size) response.set_next_cursor(response.user_ids(page_size - 1));
  response.set_subscriber_count(reply.elements[1].integer);
  return response;
}

absl::StatusOr<int64_t> DeleteObject(redis::RedisClient& client, const std::string& ref, int partitions) {
  constexpr int kPage = 500;
  Keys keys = KeysOf(ref, partitions);
  int64_t unsubscribed = 0;
  // Always from the start: each page is removed before the next is read.
  while (true) {
    auto page = client.Execute(SubscriberPageCommand(ref, "", kPage, partitions));
    if (!page.ok()) return page.status();
    if (page->elements.size() != 2 || page->elements[0].elements.empty()) break;
    google::protobuf::RepeatedPtrField<std::string> ids;
    for (const redis::Reply& id : page->elements[0].elements) *ids.Add() = id.str;
    // Users' own sets first: a failure leaves the object's set intact and
    // the delete can be retried.
    std::vector<redis::Command> commands = SubscriptionCommands(ref, ids, /*subscribe=*/false, partitions);
    std::rotate(commands.begin(), commands.begin() + 1, commands.end());
    for (auto& result : client.Pipeline(commands)) {
      if (!result.ok()) return result.status();
    }
    unsubscribed += ids.size();
  }
  auto deleted = client.Execute({"DEL", keys.Object(ref), keys.Subscribers(ref)});
  if (!deleted.ok()) return deleted.status();
  return unsubscribed;
}

}  // namespace herald::objects
