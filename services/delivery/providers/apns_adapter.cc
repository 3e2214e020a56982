// ApnsAdapter: POST /3/device/{token} with the apns-* headers.
#include "services/delivery/providers/apns_adapter.h"

#include <openssl/evp.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_options.h"
#include "services/delivery/providers/push_tokens.h"

namespace herald::delivery {
namespace {

// APNs device tokens are hex; this also keeps the URL path intact.
bool IsApnsToken(const std::string& token) {
  return token.size() <= 200 && std::all_of(token.begin(), token.end(), absl::ascii_isxdigit);
}

}  // namespace

std::string ApnsIdForMessage(absl::string_view message_id) {
  // A fixed namespace for Herald message ids (random, generated once).
  static constexpr unsigned char kNamespace[16] = {0x6b, 0x1f, 0x3c, 0x52, 0x9d, 0x0e, 0x4a, 0x7b,
                                                   0x8c, 0x21, 0x5e, 0x90, 0xd3, 0x47, 0xa6, 0x18};
  std::string input(reinterpret_cast<const char*>(kNamespace), sizeof(kNamespace));
  input.append(message_id.data(), message_id.size());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(input.data(), input.size(), digest, &length, EVP_sha1(), nullptr);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0F) | 0x50);  // Version 5.
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3F) | 0x80);  // RFC 4122 variant.
  const std::string hex = absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), 16));
  return absl::StrCat(hex.substr(0, 8), "-", hex.substr(8, 4), "-", hex.substr(12, 4), "-", hex.substr(16, 4), "-",
                      hex.substr(20, 12));
}

absl::StatusOr<std::unique_ptr<ApnsAdapter>> ApnsAdapter::Create(const ChannelConfig& channel) {
  ProviderOptions options(channel);
  std::unique_ptr<ApnsAdapter> adapter(new ApnsAdapter());
  auto base_url = options.BaseUrl("base_url", "https://api.push.apple.com");
  if (!base_url.ok()) return base_url.status();
  auto topic = options.RequiredString("topic");
  if (!topic.ok()) return topic.status();
  auto push_type = options.OneOf("push_type", "alert", {"alert", "background", "voip", "complication", "fileprovider", "mdm", "liveactivity"});
  if (!push_type.ok()) return push_type.status();
  auto priority = options.Int("priority", 10, 1, 10);
  if (!priority.ok()) return priority.status();
  auto prior_knowledge = options.Bool("http2_prior_knowledge", false);
  if (!prior_knowledge.ok()) return prior_knowledge.status();
  auto auth_token = options.RequiredSecret("auth_token");
  if (!auth_token.ok()) return auth_token.status();
  adapter->base_url_ = *base_url;
  adapter->topic_ = *topic;
  adapter->push_type_ = *push_type;
  adapter->priority_ = absl::StrCat(*priority);
  adapter->auth_token_ = *auth_token;
  adapter->http_version_ = *prior_knowledge ? HttpVersion::kHttp2PriorKnowledge : HttpVersion::kHttp2Tls;
  return adapter;
}

absl::StatusOr<std::vector<HttpRequest>> ApnsAdapter::BuildRequests(const Delivery& delivery) const {
  auto tokens = PushTokens(delivery, IsApnsToken);
  if (!tokens.ok()) return tokens.status();
  const auto& push = delivery.content().push();
  // Custom data sits beside "aps" at the top level, as apps expect it.
  nlohmann::json payload = nlohmann::json::object();
  for (const auto& [key, value] : push.data()) {
    if (key != "aps") payload[key] = value;
  }
  payload["aps"] = {{"alert", {{"title", push.title()}, {"body", push.body()}}}};
  const std::string body = payload.dump();
  if (body.size() > kMaxApnsPayloadBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("apns payload of ", body.size(), " bytes exceeds ", kMaxApnsPayloadBytes));
  }
  const std::string apns_id = ApnsIdForMessage(delivery.message_id());
  std::vector<HttpRequest> requests;
  for (const std::string& token : *tokens) {
    HttpRequest request;
    request.url = absl::StrCat(base_url_, "/3/device/", token);
    request.body = body;
    request.headers = {{"apns-topic", topic_},
                       {"apns-push-type", push_type_},
                       {"apns-priority", priority_},
                       {"apns-id", apns_id},
                       {"authorization", absl::StrCat("bearer ", auth_token_)},
                       {"content-type", "application/json"}};
    requests.push_back(std::move(request));
  }
  return requests;
}

void ApnsAdapter::InterpretResponse(const HttpResponse& response, Result& result) const {
  if (response.error != TransportError::kNone) return;
  if (result.outcome() == v1::OUTCOME_DELIVERED) {
    result.set_provider_message_id(response.Header("apns-id"));
    return;
  }
  // {"reason": "BadDeviceToken"} (400), {"reason": "Unregistered"} (410):
  // FAILED for that token by the shared mapping; the reason names it.
  const nlohmann::json answer = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_object() && answer.contains("reason") && answer["reason"].is_string()) {
    result.set_reason(absl::StrCat("http ", response.status, ": ", ShortBody(answer["reason"].get<std::string>())));
  }
}

}  // namespace herald::delivery
