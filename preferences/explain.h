// ExplainPreferences: whether a message of a workflow would reach a user on
// a channel type, which setting decided, and what applied or was
// overridden. It reads the same levels the fan-out reads (the user's sets,
// the tenant's default set, the environment default) and evaluates them
// with the same Evaluate().
#pragma once

#include <string>
#include <vector>

#include "herald/v1/herald.pb.h"
#include "nlohmann/json.hpp"
#include "preferences/preferences.h"
#include "redis/client.h"

namespace herald::preferences {

struct ExplainInput {
  std::string user_id;
  std::string tenant;  // "" = none
  Question question;
  nlohmann::json data = nlohmann::json::object();  // what conditions read as `data`
};

// The reads an explanation needs: the user's profile and sets, and the
// tenant's default set when there is a tenant.
std::vector<redis::Command> ExplainReads(const ExplainInput& input, int partitions);

// The explanation from the replies of ExplainReads (in order).
// `environment` may be null.
v1::ExplainPreferencesResponse Explain(const ExplainInput& input, const PreferenceSet* environment,
                                       const std::vector<redis::Reply>& replies);

}  // namespace herald::preferences
