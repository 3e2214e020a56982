// The `apns` provider (push): Apple Push Notification service over HTTP/2,
// one request per device token, token-based authentication.
//   options:  topic (required: the app's bundle id), base_url
//             (https://api.push.apple.com), push_type (alert), priority
//             (10), http2_prior_knowledge (false; true only for a
//             cleartext test server)
//   secrets:  auth_token (required: the provider JWT, refreshed outside
//             Herald)
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/http_provider.h"

namespace herald::delivery {

// APNs refuses larger payloads (413); Herald fails them before sending.
inline constexpr size_t kMaxApnsPayloadBytes = 4096;

class ApnsAdapter final : public HttpAdapter {
 public:
  // INVALID_ARGUMENT naming the missing or malformed option or secret.
  static absl::StatusOr<std::unique_ptr<ApnsAdapter>> Create(const ChannelConfig& channel);

  absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const override;
  // provider_message_id from the apns-id header; APNs's reason
  // (BadDeviceToken, Unregistered, ...) in the result's reason.
  void InterpretResponse(const HttpResponse& response, Result& result) const override;

  // The HTTP version the channel's options ask for.
  HttpVersion http_version() const { return http_version_; }

 private:
  ApnsAdapter() = default;

  std::string base_url_;
  std::string topic_;
  std::string push_type_;
  std::string priority_;
  std::string auth_token_;
  HttpVersion http_version_ = HttpVersion::kHttp2Tls;
};

// A name-based UUID (version 5, RFC 4122) of `message_id`, lower case: the
// same message always gets the same apns-id.
std::string ApnsIdForMessage(absl::string_view message_id);

}  // namespace herald::delivery
