// Slack: channel data parsing, message body, chat.postMessage answers.
#include "services/delivery/providers/slack_adapters.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_options.h"

namespace herald::delivery {
namespace {

using Json = nlohmann::json;

// The string at connection[outer][inner] (inner may be empty), or "".
std::string StringAt(const Json& connection, const char* outer, const char* inner = nullptr) {
  if (!connection.is_object() || !connection.contains(outer)) return "";
  const Json* node = &connection[outer];
  if (inner != nullptr) {
    if (!node->is_object() || !node->contains(inner)) return "";
    node = &(*node)[inner];
  }
  return node->is_string() ? node->get<std::string>() : "";
}

// The connections array of the channel data. Parse errors are reported
// without nlohmann's text, which quotes the input (and so tokens).
absl::StatusOr<Json> Connections(const Delivery& delivery) {
  const std::string& data = delivery.content().chat().channel_data_json();
  if (data.empty()) return absl::InvalidArgumentError("no slack channel data for the recipient");
  Json parsed = Json::parse(data, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return absl::InvalidArgumentError("channel_data_json: not valid JSON");
  if (!parsed.is_object() || !parsed.contains("connections") || !parsed["connections"].is_array()) {
    return absl::InvalidArgumentError("channel_data_json: no \"connections\" array");
  }
  return std::move(parsed["connections"]);
}

// {"text": ..., "blocks": [...]} plus `extra` fields.
absl::StatusOr<Json> MessageBody(const Delivery& delivery) {
  const auto& chat = delivery.content().chat();
  Json body = {{"text", chat.text()}};
  if (!chat.blocks_json().empty()) {
    Json blocks = Json::parse(chat.blocks_json(), nullptr, /*allow_exceptions=*/false);
    if (blocks.is_discarded() || !blocks.is_array()) {
      return absl::InvalidArgumentError("blocks_json: not a JSON array");
    }
    body["blocks"] = std::move(blocks);
  }
  if (chat.text().empty() && !body.contains("blocks")) return absl::InvalidArgumentError("chat message is empty");
  return body;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SlackWebhookAdapter>> SlackWebhookAdapter::Create(const ChannelConfig& channel) {
  ProviderOptions options(channel);
  std::string prefix = options.String("allowed_url_prefix", "https://hooks.slack.com/");
  if (!absl::StartsWith(prefix, "https://") && !absl::StartsWith(prefix, "http://")) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.OptionPath("allowed_url_prefix"), ": must start with https:// or http://"));
  }
  return std::unique_ptr<SlackWebhookAdapter>(new SlackWebhookAdapter(std::move(prefix)));
}

absl::StatusOr<std::vector<HttpRequest>> SlackWebhookAdapter::BuildRequests(const Delivery& delivery) const {
  auto connections = Connections(delivery);
  if (!connections.ok()) return connections.status();
  auto body = MessageBody(delivery);
  if (!body.ok()) return body.status();
  const std::string payload = body->dump();
  std::vector<HttpRequest> requests;
  size_t refused = 0;
  for (const Json& connection : *connections) {
    std::string url = StringAt(connection, "incoming_webhook", "url");
    if (url.empty()) continue;
    if (!absl::StartsWith(url, allowed_url_prefix_)) {
      ++refused;
      continue;
    }
    HttpRequest request;
    request.url = url;
    request.body = payload;
    request.headers = {{"Content-Type", "application/json"}};
    request.secrets = {url};  // An incoming webhook URL is a credential.
    requests.push_back(std::move(request));
  }
  if (requests.empty()) {
    return absl::InvalidArgumentError(
        refused > 0 ? absl::StrCat(refused, " incoming webhook url(s) outside ", allowed_url_prefix_)
                    : "no slack incoming webhook in channel data");
  }
  return requests;
}

absl::StatusOr<std::unique_ptr<SlackApiAdapter>> SlackApiAdapter::Create(const ChannelConfig& channel) {
  ProviderOptions options(channel);
  auto base_url = options.BaseUrl("base_url", "https://slack.com");
  if (!base_url.ok()) return base_url.status();
  return std::unique_ptr<SlackApiAdapter>(
      new SlackApiAdapter(absl::StrCat(*base_url, "/api/chat.postMessage"), options.Secret("token")));
}

absl::StatusOr<std::vector<HttpRequest>> SlackApiAdapter::BuildRequests(const Delivery& delivery) const {
  auto connections = Connections(delivery);
  if (!connections.ok()) return connections.status();
  auto body = MessageBody(delivery);
  if (!body.ok()) return body.status();
  std::vector<HttpRequest> requests;
  size_t without_token = 0;
  for (const Json& connection : *connections) {
    const std::string channel_id = StringAt(connection, "channel_id");
    if (channel_id.empty()) continue;
    std::string token = StringAt(connection, "access_token");
    if (token.empty()) token = token_;
    if (token.empty()) {
      ++without_token;
      continue;
    }
    Json payload = *body;
    payload["channel"] = channel_id;
    HttpRequest request;
    request.url = url_;
    request.body = payload.dump();
    request.headers = {{"Content-Type", "application/json; charset=utf-8"},
                       {"Authorization", absl::StrCat("Bearer ", token)}};
    request.secrets = {token};
    requests.push_back(std::move(request));
  }
  if (requests.empty()) {
    return absl::InvalidArgumentError(without_token > 0
                                          ? "slack connection has no access_token and the channel no token secret"
                                          : "no slack channel_id in channel data");
  }
  return requests;
}

void SlackApiAdapter::InterpretResponse(const HttpResponse& response, Result& result) const {
  if (response.error != TransportError::kNone || result.outcome() != v1::OUTCOME_DELIVERED) return;
  const Json answer = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object() || !answer.contains("ok") || !answer["ok"].is_boolean()) {
    // The post may have happened; a retry could post twice. Fail visibly.
    FailUndelivered("slack: answer without \"ok\"", result);
    return;
  }
  if (answer["ok"].get<bool>()) {
    if (answer.contains("ts") && answer["ts"].is_string()) result.set_provider_message_id(answer["ts"].get<std::string>());
    return;
  }
  const std::string error = answer.contains("error") && answer["error"].is_string()
                                ? answer["error"].get<std::string>()
                                : "unknown error";
  if (error == "ratelimited") {
    result.set_outcome(v1::OUTCOME_RETRY);
    result.clear_status();
    result.set_reason("slack: ratelimited");
    result.set_provider_status("slack ratelimited");
    return;
  }
  FailUndelivered(absl::StrCat("slack: ", ShortBody(error)), result);
  result.set_provider_status(absl::StrCat("slack ", ShortBody(error)));
}

}  // namespace herald::delivery
