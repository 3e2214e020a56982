// The `twilio` provider (sms): Twilio's Messages API.
//   options:  account_sid (required), from or messaging_service_sid
//             (one required), base_url (https://api.twilio.com)
//   secrets:  auth_token (required)
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/http_provider.h"

namespace herald::delivery {

class TwilioAdapter final : public HttpAdapter {
 public:
  // INVALID_ARGUMENT naming the missing or malformed option or secret.
  static absl::StatusOr<std::unique_ptr<TwilioAdapter>> Create(const ChannelConfig& channel);

  absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const override;
  // provider_message_id from `sid`; Twilio's error code and message in the
  // reason ("http 400: twilio 21211: Invalid 'To' Phone Number").
  void InterpretResponse(const HttpResponse& response, Result& result) const override;

 private:
  TwilioAdapter() = default;

  std::string url_;
  std::string account_sid_;
  std::string auth_token_;
  std::string from_;
  std::string messaging_service_sid_;
};

}  // namespace herald::delivery
