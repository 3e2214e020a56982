#include "services/api/message_handlers.h"

#include "core/ids.h"
#include "core/keys.h"
#include "messages/message_history.h"
#include "messages/message_list.h"
#include "messages/message_store.h"
#include "users/user_store.h"

namespace herald::api {

void MessageHandlers::GetMessage(const v1::GetMessageRequest& request, v1::Message* response, Finish finish) const {
  absl::Status valid = users::ValidateId(request.user_id(), "user_id");
  if (valid.ok()) valid = users::ValidateId(request.message_id(), "message_id");
  if (!valid.ok()) return std::move(finish)(valid);
  Keys keys(PartitionOf(request.user_id(), backend_.partitions()));
  backend_.Run({messages::GetMessageCommand(keys, request.user_id(), request.message_id())},
               [&request, response](const Backend::Results& results) {
                 auto message = messages::MessageFromReply(request.user_id(), request.message_id(), *results[0]);
                 if (message.ok()) *response = std::move(*message);
                 return message.status();
               },
               std::move(finish));
}

void MessageHandlers::ListMessages(const v1::ListMessagesRequest& request, v1::ListMessagesResponse* response,
                                   Finish finish) const {
  auto query = messages::ParseListRequest(request, backend_.partitions());
  if (!query.ok()) return std::move(finish)(query.status());
  std::vector<redis::Command> commands = messages::ListCommands(*query);
  if (commands.empty()) return std::move(finish)(absl::OkStatus());  // every partition read out
  backend_.Run(std::move(commands),
               [query = std::move(*query), response](const Backend::Results& results) {
                 auto page = messages::MergeListReplies(query, results);
                 if (page.ok()) *response = std::move(*page);
                 return page.status();
               },
               std::move(finish));
}

void MessageHandlers::GetMessageEvents(const v1::GetMessageEventsRequest& request,
                                       v1::GetMessageEventsResponse* response, Finish finish) const {
  auto commands = messages::EventsCommands(Keys(PartitionOf(request.user_id(), backend_.partitions())), request);
  if (!commands.ok()) return std::move(finish)(commands.status());
  backend_.Run(std::move(*commands),
               [&request, response](const Backend::Results& results) {
                 auto events = messages::EventsFromReplies(request, *results[0], *results[1]);
                 if (events.ok()) *response = std::move(*events);
                 return events.status();
               },
               std::move(finish));
}

void MessageHandlers::UpdateMessageStatus(const v1::UpdateMessageStatusRequest& request, v1::Message* response,
                                          Finish finish) const {
  auto command = messages::ReceiptCommand(Keys(PartitionOf(request.user_id(), backend_.partitions())), request,
                                          backend_.clock().NowMicros());
  if (!command.ok()) return std::move(finish)(command.status());
  backend_.Run({std::move(*command)},
               [&request, response](const Backend::Results& results) {
                 auto message = messages::MessageFromReply(request.user_id(), request.message_id(), *results[0]);
                 if (message.ok()) *response = std::move(*message);
                 return message.status();
               },
               std::move(finish));
}

}  // namespace herald::api
