#include "services/api/object_handlers.h"

#include "absl/strings/str_cat.h"
#include "core/keys.h"
#include "objects/fanout_job.h"
#include "objects/object_store.h"

namespace herald::api {

void ObjectHandlers::IdentifyObject(const v1::IdentifyObjectRequest& request, v1::Object* response,
                                    Finish finish) const {
  auto command = objects::IdentifyCommand(request, backend_.partitions(), backend_.clock().NowMillis());
  if (!command.ok()) return std::move(finish)(command.status());
  backend_.Run({std::move(*command)},
               ReplyWith(objects::ObjectFromReply,
                         absl::StrCat(request.object().collection(), "/", request.object().id()), response),
               std::move(finish));
}

void ObjectHandlers::GetObject(const v1::ObjectRequest& request, v1::Object* response, Finish finish) const {
  auto ref = objects::ValidateRef(request.object(), "object");
  if (!ref.ok()) return std::move(finish)(ref.status());
  backend_.Run({objects::GetCommand(*ref, backend_.partitions())},
               ReplyWith(objects::ObjectFromReply, *ref, response),
               std::move(finish));
}

void ObjectHandlers::DeleteObject(const v1::ObjectRequest& request, v1::DeleteObjectResponse* response,
                                  Finish finish) const {
  auto ref = objects::ValidateRef(request.object(), "object");
  if (!ref.ok()) return std::move(finish)(ref.status());
  backend_.RunAdmin(
      [ref = *ref, response, partitions = backend_.partitions()](redis::RedisClient& client) {
        auto unsubscribed = objects::DeleteObject(client, ref, partitions);
        if (unsubscribed.ok()) response->set_unsubscribed(*unsubscribed);
        return unsubscribed.status();
      },
      std::move(finish));
}

void ObjectHandlers::Subscribe(const v1::SubscriptionsRequest& request, v1::SubscriptionsResponse* response,
                               Finish finish) const {
  ChangeSubscriptions(request, /*subscribe=*/true, response, std::move(finish));
}

void ObjectHandlers::Unsubscribe(const v1::SubscriptionsRequest& request, v1::SubscriptionsResponse* response,
                                 Finish finish) const {
  ChangeSubscriptions(request, /*subscribe=*/false, response, std::move(finish));
}

void ObjectHandlers::ChangeSubscriptions(const v1::SubscriptionsRequest& request, bool subscribe,
                                         v1::SubscriptionsResponse* response, Finish finish) const {
  auto ref = objects::ValidateRef(request.object(), "object");
  if (!ref.ok()) return std::move(finish)(ref.status());
  absl::Status valid = objects::ValidateUserIds(request.user_ids());
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run(objects::SubscriptionCommands(*ref, request.user_ids(), subscribe, backend_.partitions()),
               [response](const Backend::Results& results) {
                 auto parsed = objects::ParseSubscriptionsReply(*results[0]);
                 if (parsed.ok()) *response = std::move(*parsed);
                 return parsed.status();
               },
               std::move(finish));
}

void ObjectHandlers::ListSubscribers(const v1::ListSubscribersRequest& request,
                                     v1::ListSubscribersResponse* response, Finish finish) const {
  auto ref = objects::ValidateRef(request.object(), "object");
  if (!ref.ok()) return std::move(finish)(ref.status());
  auto command = objects::ListCommand(*ref, request, backend_.partitions());
  if (!command.ok()) return std::move(finish)(command.status());
  backend_.Run({std::move(*command)},
               [&request, response](const Backend::Results& results) {
                 *response = objects::ParseListReply(request, *results[0]);
                 return absl::OkStatus();
               },
               std::move(finish));
}

void ObjectHandlers::GetObjectFanout(const v1::GetObjectFanoutRequest& request, v1::ObjectFanout* response,
                                     Finish finish) const {
  auto partition = objects::PartitionOfFanout(request.fanout_id(), backend_.partitions());
  if (!partition.ok()) return std::move(finish)(partition.status());
  backend_.Run({{"HGETALL", Keys(*partition).Fanout(request.fanout_id())}},
               ReplyWith(objects::FanoutFromReply, request.fanout_id(), response),
               std::move(finish));
}

}  // namespace herald::api
