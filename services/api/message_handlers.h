// Messages: any message of a user (feed item or record) with its status,
// reason, rendered content and engagement; every message of the deployment
// by filters (ListMessages); a message's events; provider receipts.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class MessageHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void GetMessage(const v1::GetMessageRequest& request, v1::Message* response, Finish finish) const;
  // One round trip: one read-only script per partition read.
  void ListMessages(const v1::ListMessagesRequest& request, v1::ListMessagesResponse* response, Finish finish) const;
  void GetMessageEvents(const v1::GetMessageEventsRequest& request, v1::GetMessageEventsResponse* response,
                        Finish finish) const;
  void UpdateMessageStatus(const v1::UpdateMessageStatusRequest& request, v1::Message* response, Finish finish) const;
};

}  // namespace herald::api
