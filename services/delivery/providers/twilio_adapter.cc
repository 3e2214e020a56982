// TwilioAdapter: POST /2010-04-01/Accounts/{sid}/Messages.json.
#include "services/delivery/providers/twilio_adapter.h"

#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/form_encoding.h"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_options.h"

namespace herald::delivery {

absl::StatusOr<std::unique_ptr<TwilioAdapter>> TwilioAdapter::Create(const ChannelConfig& channel) {
  ProviderOptions options(channel);
  std::unique_ptr<TwilioAdapter> adapter(new TwilioAdapter());
  auto base_url = options.BaseUrl("base_url", "https://api.twilio.com");
  if (!base_url.ok()) return base_url.status();
  auto account_sid = options.RequiredString("account_sid");
  if (!account_sid.ok()) return account_sid.status();
  auto auth_token = options.RequiredSecret("auth_token");
  if (!auth_token.ok()) return auth_token.status();
  adapter->account_sid_ = *account_sid;
  adapter->auth_token_ = *auth_token;
  adapter->url_ = absl::StrCat(*base_url, "/2010-04-01/Accounts/", PercentEncode(*account_sid), "/Messages.json");
  adapter->from_ = options.String("from");
  adapter->messaging_service_sid_ = options.String("messaging_service_sid");
  if (adapter->from_.empty() && adapter->messaging_service_sid_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.OptionPath("from"), ": required by provider twilio (or messaging_service_sid)"));
  }
  return adapter;
}

absl::StatusOr<std::vector<HttpRequest>> TwilioAdapter::BuildRequests(const Delivery& delivery) const {
  const auto& sms = delivery.content().sms();
  if (sms.to().empty()) return absl::InvalidArgumentError("sms has no recipient number");
  if (sms.text().empty()) return absl::InvalidArgumentError("sms has no text");
  std::vector<std::pair<std::string, std::string>> fields = {{"To", sms.to()}, {"Body", sms.text()}};
  if (!from_.empty()) fields.emplace_back("From", from_);
  if (!messaging_service_sid_.empty()) fields.emplace_back("MessagingServiceSid", messaging_service_sid_);
  HttpRequest request;
  request.url = url_;
  request.body = FormEncode(fields);
  // Twilio's Messages API takes no idempotency key (PROVIDERS.md).
  request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
  request.basic_auth_user = account_sid_;
  request.basic_auth_password = auth_token_;
  std::vector<HttpRequest> requests;
  requests.push_back(std::move(request));
  return requests;
}

void TwilioAdapter::InterpretResponse(const HttpResponse& response, Result& result) const {
  if (response.error != TransportError::kNone) return;
  const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!answer.is_object()) return;
  if (result.outcome() == v1::OUTCOME_DELIVERED) {
    if (answer.contains("sid") && answer["sid"].is_string()) {
      result.set_provider_message_id(answer["sid"].get<std::string>());
    }
    return;
  }
  // Twilio's errors: {"code": 21211, "message": "...", "status": 400}. A
  // 400 (21211 invalid 'To', 21614 not a mobile number, ...) is permanent
  // and already FAILED by the shared mapping; this only names it.
  if (answer.contains("code") && answer["code"].is_number_integer()) {
    std::string message = answer.contains("message") && answer["message"].is_string()
                              ? answer["message"].get<std::string>()
                              : "";
    result.set_reason(absl::StrCat("http ", response.status, ": twilio ", answer["code"].get<int64_t>(),
                                   message.empty() ? "" : ": ", ShortBody(message)));
  }
}

}  // namespace herald::delivery
