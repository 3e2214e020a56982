// The `fcm` provider (push): Firebase Cloud Messaging HTTP v1, one request
// per device token.
//   options:  project_id (required), base_url (https://fcm.googleapis.com)
//   secrets:  access_token (required: an OAuth 2 token for the project,
//             refreshed outside Herald)
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/http_provider.h"

namespace herald::delivery {

class FcmAdapter final : public HttpAdapter {
 public:
  // INVALID_ARGUMENT naming the missing or malformed option or secret.
  static absl::StatusOr<std::unique_ptr<FcmAdapter>> Create(const ChannelConfig& channel);

  absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const override;
  // provider_message_id from `name`; FCM's errorCode (UNREGISTERED,
  // INVALID_ARGUMENT, ...) in the reason.
  void InterpretResponse(const HttpResponse& response, Result& result) const override;

 private:
  FcmAdapter(std::string url, std::string access_token)
      : url_(std::move(url)), access_token_(std::move(access_token)) {}

  const std::string url_;
  const std::string access_token_;
};

}  // namespace herald::delivery
