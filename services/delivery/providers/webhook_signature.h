// The webhook signature scheme (PROVIDERS.md): X-Herald-Signature is
// "v1=" + hex(HMAC-SHA256(signing_secret, "<timestamp>.<body>")), where
// timestamp is X-Herald-Timestamp (Unix seconds). Receivers recompute it
// and reject old timestamps, which stops replays.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace herald::delivery {

// "v1=<64 lower-case hex digits>".
std::string WebhookSignature(absl::string_view secret, int64_t timestamp_seconds, absl::string_view body);

// Lower-case hex HMAC-SHA256 of `data` under `key`.
std::string HmacSha256Hex(absl::string_view key, absl::string_view data);

}  // namespace herald::delivery
