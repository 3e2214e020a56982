// Device tokens of a push message, shared by the fcm and apns adapters.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/delivery/delivery_service.h"

namespace herald::delivery {

// The message's non-empty tokens, each accepted by `valid` (at most
// `max_tokens`). INVALID_ARGUMENT when none is left, saying how many were
// empty or malformed; a token's value is never quoted.
absl::StatusOr<std::vector<std::string>> PushTokens(const Delivery& delivery, bool (*valid)(const std::string&),
                                                    size_t max_tokens = 100);

}  // namespace herald::delivery
