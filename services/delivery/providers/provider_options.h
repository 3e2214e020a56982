// Typed access to a channel's provider options and secrets, with
// INVALID_ARGUMENT errors naming the field ("channels.email.options.port").
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/delivery/config.h"

namespace herald::delivery {

class ProviderOptions {
 public:
  explicit ProviderOptions(const ChannelConfig& channel) : channel_(channel) {}

  // The option, or `fallback` when unset.
  std::string String(const std::string& name, const std::string& fallback = "") const;
  // INVALID_ARGUMENT when unset or empty.
  absl::StatusOr<std::string> RequiredString(const std::string& name) const;
  // INVALID_ARGUMENT when set but not an integer in [min, max].
  absl::StatusOr<int64_t> Int(const std::string& name, int64_t fallback, int64_t min, int64_t max) const;
  // INVALID_ARGUMENT when set but not true/false.
  absl::StatusOr<bool> Bool(const std::string& name, bool fallback) const;
  // INVALID_ARGUMENT when set but not one of `allowed`.
  absl::StatusOr<std::string> OneOf(const std::string& name, const std::string& fallback,
                                    const std::vector<std::string>& allowed) const;
  // An http(s) base URL without a trailing '/'; INVALID_ARGUMENT otherwise.
  absl::StatusOr<std::string> BaseUrl(const std::string& name, const std::string& fallback) const;

  // The secret, or "" when unset.
  std::string Secret(const std::string& name) const;
  // INVALID_ARGUMENT (naming the secret, never its value) when unset or empty.
  absl::StatusOr<std::string> RequiredSecret(const std::string& name) const;

  // "channels.<name>.options.<option>".
  std::string OptionPath(const std::string& option) const;

 private:
  const ChannelConfig& channel_;
};

}  // namespace herald::delivery
