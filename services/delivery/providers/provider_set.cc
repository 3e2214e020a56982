// ProviderSet routing and the provider factory.
#include "services/delivery/providers/provider_set.h"

#include <algorithm>
#include <thread>

#include "absl/strings/str_cat.h"
#include "services/delivery/providers/apns_adapter.h"
#include "services/delivery/providers/fcm_adapter.h"
#include "services/delivery/providers/http_provider.h"
#include "services/delivery/providers/outcome.h"
#include "services/delivery/providers/provider_options.h"
#include "services/delivery/providers/slack_adapters.h"
#include "services/delivery/providers/smtp_provider.h"
#include "services/delivery/providers/twilio_adapter.h"
#include "services/delivery/providers/webhook_adapter.h"

namespace herald::delivery {
namespace {

using ::herald::v1::MessageContent;

// The channel type a message's content is for ("" when it has none that a
// provider delivers).
std::string ContentType(const MessageContent& content) {
  switch (content.kind_case()) {
    case MessageContent::kEmail:
      return "email";
    case MessageContent::kSms:
      return "sms";
    case MessageContent::kPush:
      return "push";
    case MessageContent::kChat:
      return "chat";
    case MessageContent::kWebhook:
      return "webhook";
    default:
      return "";
  }
}

absl::StatusOr<HttpClientOptions> ClientOptions(const ChannelConfig& channel) {
  ProviderOptions options(channel);
  HttpClientOptions client;
  client.concurrency = channel.concurrency;
  client.timeout_ms = channel.timeout_ms;
  client.ca_file = options.String("ca_file");
  auto insecure = options.Bool("insecure_skip_verify", false);
  if (!insecure.ok()) return insecure.status();
  client.insecure_skip_verify = *insecure;
  return client;
}

std::vector<std::string> SecretValues(const ChannelConfig& channel) {
  std::vector<std::string> values;
  for (const auto& [name, value] : channel.secrets) values.push_back(value);
  return values;
}

absl::StatusOr<std::unique_ptr<HttpAdapter>> MakeAdapter(const ChannelConfig& channel, const Clock& clock,
                                                         HttpClientOptions& client) {
  const std::string& provider = channel.provider;
  if (provider == "webhook") return WebhookAdapter::Create(channel, clock);
  if (provider == "twilio") return TwilioAdapter::Create(channel);
  if (provider == "fcm") return FcmAdapter::Create(channel);
  if (provider == "slack_webhook") return SlackWebhookAdapter::Create(channel);
  if (provider == "slack_api") return SlackApiAdapter::Create(channel);
  if (provider == "apns") {
    auto adapter = ApnsAdapter::Create(channel);
    if (!adapter.ok()) return adapter.status();
    client.version = (*adapter)->http_version();
    return std::unique_ptr<HttpAdapter>(std::move(*adapter));
  }
  return absl::InvalidArgumentError(
      absl::StrCat("channels.", channel.name, ".provider: unknown provider \"", provider, "\""));
}

}  // namespace

ProviderSet::ProviderSet(std::vector<Channel> served, std::map<std::string, std::string> elsewhere)
    : served_(std::move(served)), elsewhere_(std::move(elsewhere)) {}

int ProviderSet::Route(const Delivery& delivery, std::string& reason) const {
  const std::string& type = delivery.channel_type();
  int chosen = -1;
  for (size_t i = 0; i < served_.size() && chosen < 0; ++i) {
    const ChannelConfig& config = served_[i].config;
    if (config.name == delivery.channel() && (type.empty() || config.type == type)) chosen = static_cast<int>(i);
  }
  if (chosen < 0) {
    if (auto it = elsewhere_.find(delivery.channel()); it != elsewhere_.end()) {
      reason = absl::StrCat("channel ", delivery.channel(), " is delivered by ",
                            it->second.empty() ? "another process" : it->second, ", not this process");
      return -1;
    }
    for (size_t i = 0; i < served_.size() && chosen < 0; ++i) {
      if (!type.empty() && served_[i].config.type == type) chosen = static_cast<int>(i);
    }
  }
  if (chosen < 0) {
    reason = absl::StrCat("no channel configured for ", type.empty() ? "\"\"" : type);
    return -1;
  }
  const std::string content_type = ContentType(delivery.content());
  const std::string& channel_type = served_[chosen].config.type;
  if (content_type != channel_type) {
    reason = absl::StrCat(content_type.empty() ? "no deliverable content" : absl::StrCat(content_type, " content"),
                          " for channel ", served_[chosen].config.name, " (", channel_type, ")");
    return -1;
  }
  return chosen;
}

std::vector<Result> ProviderSet::Deliver(const std::vector<Delivery>& deliveries) {
  std::vector<Result> results(deliveries.size());
  // Per served channel: the messages it delivers and their result slots.
  std::vector<std::vector<const Delivery*>> groups(served_.size());
  std::vector<std::vector<Result*>> group_results(served_.size());
  for (size_t i = 0; i < deliveries.size(); ++i) {
    results[i].set_message_id(deliveries[i].message_id());
    std::string reason;
    const int channel = Route(deliveries[i], reason);
    if (channel < 0) {
      FailUndelivered(reason, results[i]);
      continue;
    }
    groups[channel].push_back(&deliveries[i]);
    group_results[channel].push_back(&results[i]);
  }
  // Each provider's group runs on its own thread, so a slow channel does
  // not hold the others back; the calling thread takes the last group.
  std::vector<size_t> busy;
  for (size_t c = 0; c < groups.size(); ++c) {
    if (!groups[c].empty()) busy.push_back(c);
  }
  std::vector<std::thread> threads;
  for (size_t b = 0; b < busy.size(); ++b) {
    const size_t c = busy[b];
    auto run = [this, c, &groups, &group_results] { served_[c].provider->Deliver(groups[c], group_results[c]); };
    if (b + 1 == busy.size()) {
      run();
    } else {
      threads.emplace_back(run);
    }
  }
  for (std::thread& thread : threads) thread.join();
  return results;
}

absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const ChannelConfig& channel, const Clock& clock) {
  // The secrets this process could not read fail the channel here, where it
  // is served (see ChannelConfig::unresolved_secrets).
  if (!channel.unresolved_secrets.empty()) {
    return absl::InvalidArgumentError(channel.unresolved_secrets.begin()->second);
  }
  if (channel.provider == "smtp") {
    auto smtp = SmtpProvider::Create(channel, clock);
    if (!smtp.ok()) return smtp.status();
    return std::unique_ptr<Provider>(std::move(*smtp));
  }
  auto client = ClientOptions(channel);
  if (!client.ok()) return client.status();
  auto adapter = MakeAdapter(channel, clock, *client);
  if (!adapter.ok()) return adapter.status();
  return std::unique_ptr<Provider>(
      std::make_unique<HttpProvider>(std::move(*adapter), *std::move(client), SecretValues(channel), clock));
}

absl::StatusOr<std::unique_ptr<ProviderSet>> MakeProviderSet(const DeliveryConfig& config,
                                                             std::vector<std::string> only_channels,
                                                             const Clock& clock) {
  for (const std::string& name : only_channels) {
    if (config.channels.count(name) == 0) {
      return absl::InvalidArgumentError(absl::StrCat("channel ", name, " is not configured"));
    }
  }
  std::vector<std::string> order = config.channel_order;
  for (const auto& [name, channel] : config.channels) {
    if (std::find(order.begin(), order.end(), name) == order.end()) order.push_back(name);
  }
  std::vector<ProviderSet::Channel> served;
  std::map<std::string, std::string> elsewhere;
  for (const std::string& name : order) {
    auto it = config.channels.find(name);
    if (it == config.channels.end()) continue;
    const ChannelConfig& channel = it->second;
    const bool here = only_channels.empty()
                          ? channel.service.empty()
                          : std::find(only_channels.begin(), only_channels.end(), name) != only_channels.end();
    if (!here) {
      elsewhere[name] = channel.service;
      continue;
    }
    auto provider = MakeProvider(channel, clock);
    if (!provider.ok()) return provider.status();
    served.push_back({channel, *std::move(provider)});
  }
  return std::make_unique<ProviderSet>(std::move(served), std::move(elsewhere));
}

absl::StatusOr<std::unique_ptr<ProviderSet>> MakeProviderSet(const DeliveryConfig& config,
                                                             std::vector<std::string> only_channels) {
  return MakeProviderSet(config, std::move(only_channels), SystemClock::Get());
}

}  // namespace herald::delivery
