// WebhookAdapter: body, Herald's headers, the message's own headers.
#include "services/delivery/providers/webhook_adapter.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/http_headers.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/provider_options.h"
#include "services/delivery/providers/webhook_signature.h"

namespace herald::delivery {
namespace {

// Headers Herald sets itself; a message's headers cannot replace them
// (the signature and the idempotency key must stay Herald's).
bool IsHttpUrl(const std::string& url) {
  return absl::StartsWithIgnoreCase(url, "http://") || absl::StartsWithIgnoreCase(url, "https://");
}

}  // namespace

absl::StatusOr<std::unique_ptr<WebhookAdapter>> WebhookAdapter::Create(const ChannelConfig& channel,
                                                                       const Clock& clock) {
  ProviderOptions options(channel);
  std::string url = options.String("url");
  if (!url.empty() && !IsHttpUrl(url)) {
    return absl::InvalidArgumentError(absl::StrCat(options.OptionPath("url"), ": must be an http:// or https:// URL"));
  }
  return std::unique_ptr<WebhookAdapter>(new WebhookAdapter(std::move(url), options.Secret("signing_secret"), clock));
}

absl::StatusOr<std::vector<HttpRequest>> WebhookAdapter::BuildRequests(const Delivery& delivery) const {
  const auto& webhook = delivery.content().webhook();
  HttpRequest request;
  request.url = webhook.url().empty() ? default_url_ : webhook.url();
  if (request.url.empty()) return absl::InvalidArgumentError("no webhook url (message or options.url)");
  if (!IsHttpUrl(request.url)) return absl::InvalidArgumentError("webhook url must be http:// or https://");
  if (webhook.body_json().empty()) {
    request.body = nlohmann::json{{"message_id", delivery.message_id()},
                                  {"workflow", delivery.workflow()},
                                  {"recipient", delivery.recipient()},
                                  {"tenant", delivery.tenant()},
                                  {"channel", delivery.channel()}}
                       .dump();
  } else {
    request.body = webhook.body_json();
  }
  const int64_t timestamp = clock_.NowMicros() / 1'000'000;
  request.headers = {{"Content-Type", "application/json"},
                     {"Idempotency-Key", delivery.message_id()},
                     {"X-Herald-Message-Id", delivery.message_id()},
                     {"X-Herald-Timestamp", absl::StrCat(timestamp)}};
  if (!signing_secret_.empty()) {
    request.headers.emplace_back("X-Herald-Signature", WebhookSignature(signing_secret_, timestamp, request.body));
  }
  for (const auto& [name, value] : webhook.headers()) {
    if (!IsHeaderName(name) || !IsHeaderValue(value)) {
      return absl::InvalidArgumentError(absl::StrCat("webhook header \"", absl::CHexEscape(name), "\" is not valid"));
    }
    if (IsReservedWebhookHeader(name)) {
      return absl::InvalidArgumentError(absl::StrCat("webhook header ", name, " is set by Herald"));
    }
    request.headers.emplace_back(name, value);
  }
  // Idempotency-Key and message ids come from Herald, but check anyway: a
  // CR/LF here would split the request.
  if (!IsHeaderValue(delivery.message_id())) return absl::InvalidArgumentError("message id is not a header value");
  std::vector<HttpRequest> requests;
  requests.push_back(std::move(request));
  return requests;
}

}  // namespace herald::delivery
