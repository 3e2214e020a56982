// The `webhook` provider: POSTs the message's JSON to a URL, signed.
//   options:  url (used when the message has none)
//   secrets:  signing_secret (optional; without it nothing is signed)
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "services/delivery/config.h"
#include "services/delivery/providers/http_provider.h"

namespace herald::delivery {

class WebhookAdapter final : public HttpAdapter {
 public:
  // INVALID_ARGUMENT when an option is malformed. `clock` (the signature's
  // timestamp) must outlive the adapter.
  static absl::StatusOr<std::unique_ptr<WebhookAdapter>> Create(const ChannelConfig& channel, const Clock& clock);

  absl::StatusOr<std::vector<HttpRequest>> BuildRequests(const Delivery& delivery) const override;

 private:
  WebhookAdapter(std::string default_url, std::string signing_secret, const Clock& clock)
      : default_url_(std::move(default_url)), signing_secret_(std::move(signing_secret)), clock_(clock) {}

  const std::string default_url_;
  const std::string signing_secret_;
  const Clock& clock_;
};

}  // namespace herald::delivery
