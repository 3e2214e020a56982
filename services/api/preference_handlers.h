// Preferences: a user's sets (whole, or within a tenant), a tenant's
// default set, and explanations of the decision for one message.
#pragma once

#include "herald/v1/herald.pb.h"
#include "services/api/backend.h"

namespace herald::api {

// Thread-safe.
class PreferenceHandlers : public HandlerGroup {
 public:
  using HandlerGroup::HandlerGroup;

  void SetPreferences(const v1::SetPreferencesRequest& request, v1::Preferences* response, Finish finish) const;
  void GetPreferences(const v1::GetPreferencesRequest& request, v1::Preferences* response, Finish finish) const;
  void ExplainPreferences(const v1::ExplainPreferencesRequest& request, v1::ExplainPreferencesResponse* response,
                          Finish finish) const;

};

}  // namespace herald::api
