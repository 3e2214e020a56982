// Messages: any message of a user (feed item or record) with its status,
// reason and rendered content.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class MessageHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void GetMessage(const v1::GetMessageRequest& request, v1::Message* response, Finish finish) const;

};

}  // namespace herald::api
