// Objects (non-user entities such as "projects/p1"), their subscribers and
// the progress of object fan-outs.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class ObjectHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void IdentifyObject(const v1::IdentifyObjectRequest& request, v1::Object* response, Finish finish) const;
  void GetObject(const v1::ObjectRequest& request, v1::Object* response, Finish finish) const;
  // Unsubscribes everyone page by page (admin thread), then deletes it.
  void DeleteObject(const v1::ObjectRequest& request, v1::DeleteObjectResponse* response, Finish finish) const;
  void Subscribe(const v1::SubscriptionsRequest& request, v1::SubscriptionsResponse* response, Finish finish) const;
  void Unsubscribe(const v1::SubscriptionsRequest& request, v1::SubscriptionsResponse* response,
                   Finish finish) const;
  void ListSubscribers(const v1::ListSubscribersRequest& request, v1::ListSubscribersResponse* response,
                       Finish finish) const;
  void GetObjectFanout(const v1::GetObjectFanoutRequest& request, v1::ObjectFanout* response, Finish finish) const;

 private:
  void ChangeSubscriptions(const v1::SubscriptionsRequest& request, bool subscribe,
                           v1::SubscriptionsResponse* response, Finish finish) const;
};

}  // namespace herald::api
