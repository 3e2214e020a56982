// FcmAdapter: POST /v1/projects/{project}/messages:send per token.
#include "services/delivery/providers/fcm_adapter.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/form_encoding.h"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_options.h"
#include "services/delivery/providers/push_tokens.h"

namespace herald::delivery {
namespace {

bool IsFcmToken(const std::string& token) {
  // Registration tokens are URL-safe text; anything with control
  // characters or spaces cannot be one.
  for (unsigned char c : token) {
    if (c <= ' ' || c >= 0x7F) return false;
  }
  return token.size() <= 4096;
}

// FCM's error answer: {"error": {"status": "NOT_FOUND", "message": ...,
// "details": [{"errorCode": "UNREGISTERED"}]}}. Returns "UNREGISTERED" or
// the status, or "".
std::string FcmErrorCode(const nlohmann::json& answer) {
  if (!answer.is_object() || !answer.contains("error") || !answer["error"].is_object()) return "";
  const nlohmann::json& error = answer["error"];
  if (error.contains("details") && error["details"].is_array()) {
    for (const nlohmann::json& detail : error["details"]) {
      if (detail.is_object() && detail.contains("errorCode") && detail["errorCode"].is_string()) {
        return detail["errorCode"].get<std::string>();
      }
    }
  }
  if (error.contains("status") && error["status"].is_string()) return error["status"].get<std::string>();
  return "";
}

}  // namespace

absl::StatusOr<std::unique_ptr<FcmAdapter>> FcmAdapter::Create(const ChannelConfig& channel) {
  ProviderOptions options(channel);
  auto base_url = options.BaseUrl("base_url", "https://fcm.googleapis.com");
  if (!base_url.ok()) return base_url.status();
  auto project_id = options.RequiredString("project_id");
  if (!project_id.ok()) return project_id.status();
  auto access_token = options.RequiredSecret("access_token");
  if (!access_token.ok()) return access_token.status();
  return std::unique_ptr<FcmAdapter>(new FcmAdapter(
      absl::StrCat(*base_url, "/v1/projects/", PercentEncode(*project_id), "/messages:send"), *access_token));
}

absl::StatusOr<std::vector<HttpRequest>> FcmAdapter::BuildRequests(const Delivery& delivery) const {
  auto tokens = PushTokens(delivery, IsFcmToken);
  if (!tokens.ok()) return tokens.status();
  const auto& push = delivery.content().push();
  nlohmann::json data = nlohmann::json::object();
  for (const auto& [key, value] : push.data()) data[key] = value;
  std::vector<HttpRequest> requests;
  for (const std::string& token : *tokens) {
    nlohmann::json message = {{"token", token}, {"notification", {{"title", push.title()}, {"body", push.body()}}}};
    if (!data.empty()) message["data"] = data;
    HttpRequest request;
    request.url = url_;
    request.body = nlohmann::json{{"message", message}}.dump();
    request.headers = {{"Content-Type", "application/json; charset=utf-8"},
                       {"Authorization", absl::StrCat("Bearer ", access_token_)}};
    requests.push_back(std::move(request));
  }
  return requests;
}

void FcmAdapter::InterpretResponse(const HttpResponse& response, Result& result) const {
  if (response.error != TransportError::kNone) return;
  const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (result.outcome() == v1::OUTCOME_DELIVERED) {
    if (answer.is_object() && answer.contains("name") && answer["name"].is_string()) {
      result.set_provider_message_id(answer["name"].get<std::string>());
    }
    return;
  }
  // 404 UNREGISTERED and 400 INVALID_ARGUMENT (a dead or malformed token)
  // are FAILED by the shared mapping; the reason names FCM's code.
  const std::string code = FcmErrorCode(answer);
  if (!code.empty()) result.set_reason(absl::StrCat("http ", response.status, ": ", code));
}

}  // namespace herald::delivery
