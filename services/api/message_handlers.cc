#include "services/api/message_handlers.h"

#include "core/ids.h"
#include "core/keys.h"
#include "messages/message_store.h"
#include "users/user_store.h"

namespace herald::api {

void MessageHandlers::GetMessage(const v1::GetMessageRequest& request, v1::Message* response, Finish finish) const {
  absl::Status valid = users::ValidateId(request.user_id(), "user_id");
  if (valid.ok()) valid = users::ValidateId(request.message_id(), "message_id");
  if (!valid.ok()) return std::move(finish)(valid);
  Keys keys(PartitionOf(request.user_id(), backend_.partitions()));
  backend_.Run({messages::GetMessageCommand(keys, request.message_id())},
               [&request, response](const Backend::Results& results) {
                 auto message = messages::MessageFromReply(request.user_id(), request.message_id(), *results[0]);
                 if (message.ok()) *response = std::move(*message);
                 return message.status();
               },
               std::move(finish));
}

}  // namespace herald::api
