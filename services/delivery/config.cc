// Placeholder until the providers branch lands its parser.
#include "services/delivery/config.h"

namespace herald::delivery {

const ChannelConfig* DeliveryConfig::Find(const std::string& channel, const std::string& channel_type) const {
  auto found = channels.find(channel);
  if (found != channels.end() && found->second.type == channel_type) return &found->second;
  for (const auto& [name, config] : channels) {
    if (config.type == channel_type) return &config;
  }
  return nullptr;
}

absl::StatusOr<DeliveryConfig> ParseDeliveryConfig(const std::string&, const std::map<std::string, std::string>&) {
  return absl::UnimplementedError("ParseDeliveryConfig");
}

absl::StatusOr<DeliveryConfig> LoadDeliveryConfig(const std::string&) { return DeliveryConfig{}; }

}  // namespace herald::delivery
