// Users: identify (one or in bulk), read, delete, merge, and their channel
// data. Deletes and merges page through everything a user has, so they run
// on the admin thread; the rest is one round trip.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class UserHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void IdentifyUser(const v1::IdentifyUserRequest& request, v1::User* response, Finish finish) const;
  void GetUser(const v1::GetUserRequest& request, v1::User* response, Finish finish) const;
  // All users are validated before any is written.
  void BulkIdentifyUsers(const v1::BulkIdentifyUsersRequest& request, v1::BulkIdentifyUsersResponse* response,
                         Finish finish) const;
  void DeleteUser(const v1::DeleteUserRequest& request, v1::DeleteUserResponse* response, Finish finish) const;
  void MergeUsers(const v1::MergeUsersRequest& request, v1::User* response, Finish finish) const;
  // Only for a channel a workflow delivers through, in the shape its
  // channel type reads.
  void SetChannelData(const v1::SetChannelDataRequest& request, v1::ChannelData* response, Finish finish) const;
  void GetChannelData(const v1::ChannelDataRequest& request, v1::ChannelData* response, Finish finish) const;
  void UnsetChannelData(const v1::ChannelDataRequest& request, v1::UnsetChannelDataResponse* response,
                        Finish finish) const;

};

}  // namespace herald::api
