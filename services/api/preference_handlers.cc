#include "services/api/preference_handlers.h"

#include "absl/strings/str_cat.h"
#include "preferences/explain.h"
#include "preferences/preference_store.h"
#include "users/user_store.h"

namespace herald::api {

void PreferenceHandlers::SetPreferences(const v1::SetPreferencesRequest& request, v1::Preferences* response,
                                        Finish finish) const {
  preferences::Scope scope{request.user_id(), request.tenant()};
  auto write = preferences::SetCommand(scope, request.preferences_json(), backend_.partitions());
  if (!write.ok()) return std::move(finish)(write.status());
  response->set_user_id(request.user_id());
  response->set_tenant(request.tenant());
  response->set_preferences_json(write->stored_json);
  backend_.Run({std::move(write->command)}, [](const Backend::Results&) { return absl::OkStatus(); }, std::move(finish));
}

void PreferenceHandlers::GetPreferences(const v1::GetPreferencesRequest& request, v1::Preferences* response,
                                        Finish finish) const {
  preferences::Scope scope{request.user_id(), request.tenant()};
  absl::Status valid = preferences::ValidateScope(scope);
  if (!valid.ok()) return std::move(finish)(valid);
  backend_.Run({preferences::GetCommand(scope, backend_.partitions())},
               [&request, response](const Backend::Results& results) {
                 response->set_user_id(request.user_id());
                 response->set_tenant(request.tenant());
                 response->set_preferences_json(preferences::StoredJson(*results[0]));
                 return absl::OkStatus();
               },
               std::move(finish));
}

void PreferenceHandlers::ExplainPreferences(const v1::ExplainPreferencesRequest& request,
                                            v1::ExplainPreferencesResponse* response, Finish finish) const {
  absl::Status valid = users::ValidateId(request.user_id(), "user_id");
  if (valid.ok() && !request.tenant().empty()) valid = users::ValidateId(request.tenant(), "tenant");
  if (!valid.ok()) return std::move(finish)(valid);
  const workflow::Workflow* workflow = backend_.workflows().Find(request.workflow());
  if (workflow == nullptr) {
    return std::move(finish)(
        absl::InvalidArgumentError(absl::StrCat("workflow: unknown workflow '", request.workflow().substr(0, 256), "'")));
  }
  if (request.channel_type().empty()) return std::move(finish)(absl::InvalidArgumentError("channel_type: required"));
  if (!workflow::IsChannelType(request.channel_type())) {
    return std::move(finish)(absl::InvalidArgumentError(absl::StrCat(
        "channel_type: unknown channel type '", request.channel_type().substr(0, 64), "' (",
        workflow::ChannelTypeList(), ")")));
  }
  preferences::ExplainInput input;
  input.user_id = request.user_id();
  input.tenant = request.tenant();
  input.question = {workflow->key, workflow->categories, request.channel_type(), workflow->critical};
  if (!request.data_json().empty()) {
    input.data = nlohmann::json::parse(request.data_json(), nullptr, false);
    if (!input.data.is_object()) return std::move(finish)(absl::InvalidArgumentError("data_json: must be a JSON object"));
  }
  auto reads = preferences::ExplainReads(input, backend_.partitions());
  backend_.Run(std::move(reads),
               [input = std::move(input), environment = backend_.options().default_preferences,
                response](const Backend::Results& results) {
                 std::vector<redis::Reply> replies;
                 for (const auto& result : results) replies.push_back(*result);
                 *response = preferences::Explain(input, environment.get(), replies);
                 return absl::OkStatus();
               },
               std::move(finish));
}

}  // namespace herald::api
