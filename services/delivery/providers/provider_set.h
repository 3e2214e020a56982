// ProviderSet: Herald's built-in DeliveryService. It routes each message of
// a batch to its channel's provider, lets every provider send its group
// concurrently, and returns the results in input order.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/clock.h"
#include "services/delivery/config.h"
#include "services/delivery/delivery_service.h"
#include "services/delivery/providers/provider.h"

namespace herald::delivery {

// Thread-safe: constant after construction, providers are thread-safe.
class ProviderSet final : public DeliveryService {
 public:
  struct Channel {
    ChannelConfig config;
    std::unique_ptr<Provider> provider;
  };

  // `served`: the channels delivered in this process, in configuration
  // order (the order of the type fallback). `elsewhere`: channel name ->
  // service address of configured channels another process delivers.
  ProviderSet(std::vector<Channel> served, std::map<std::string, std::string> elsewhere);
  ProviderSet(const ProviderSet&) = delete;
  ProviderSet& operator=(const ProviderSet&) = delete;

  // Routing: the channel named by `channel` when served here with the
  // message's type; else the first served channel of `channel_type`. A
  // message with no channel, or content of another type, fails
  // "undelivered" with the reason.
  std::vector<Result> Deliver(const std::vector<Delivery>& deliveries) override;

 private:
  // Index into served_, or -1 with `reason` set.
  int Route(const Delivery& delivery, std::string& reason) const;

  const std::vector<Channel> served_;
  const std::map<std::string, std::string> elsewhere_;
};

// The provider for one channel. INVALID_ARGUMENT naming the missing or
// malformed option or secret. `clock` must outlive the provider.
absl::StatusOr<std::unique_ptr<Provider>> MakeProvider(const ChannelConfig& channel, const Clock& clock);

// A ProviderSet for `only_channels` of `config` (each must be configured;
// INVALID_ARGUMENT otherwise), or, when empty, for every channel without a
// remote `service`. Errors from MakeProvider pass through.
absl::StatusOr<std::unique_ptr<ProviderSet>> MakeProviderSet(const DeliveryConfig& config,
                                                             std::vector<std::string> only_channels);
absl::StatusOr<std::unique_ptr<ProviderSet>> MakeProviderSet(const DeliveryConfig& config,
                                                             std::vector<std::string> only_channels,
                                                             const Clock& clock);

}  // namespace herald::delivery
