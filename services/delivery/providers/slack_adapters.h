// The Slack providers (chat). Both read the recipient's Slack connections
// from content.chat.channel_data_json ({"connections": [...]}) and post
// {"text", "blocks"} once per connection.
//
// `slack_webhook`: connections[].incoming_webhook.url
//   options:  allowed_url_prefix (https://hooks.slack.com/): a connection's
//             URL must start with it (the URL comes from user data)
// `slack_api`: {base_url}/api/chat.postMessage, connections[].channel_id
//   options:  base_url (https://slack.com)
//   secrets:  token (used when a connection has no access_token)
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/http_provider.h"

namespace herald::delivery {

class SlackWebhookAdapter final : public HttpAdapter {
 public:
  static absl::StatusOr<std::unique_ptr<SlackWebhookAdapter>> Create(const ChannelConfig& channel);

  absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const override;

 private:
  explicit SlackWebhookAdapter(std::string allowed_url_prefix) : allowed_url_prefix_(std::move(allowed_url_prefix)) {}

  const std::string allowed_url_prefix_;
};

class SlackApiAdapter final : public HttpAdapter {
 public:
  static absl::StatusOr<std::unique_ptr<SlackApiAdapter>> Create(const ChannelConfig& channel);

  absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const override;
  // Slack answers 200 {"ok": false, "error": "..."} for its errors:
  // "ratelimited" is RETRY, any other FAILED. provider_message_id is the
  // posted message's "ts".
  void InterpretResponse(const HttpResponse& response, Result& result) const override;

 private:
  SlackApiAdapter(std::string url, std::string token) : url_(std::move(url)), token_(std::move(token)) {}

  const std::string url_;
  const std::string token_;
};

}  // namespace herald::delivery
