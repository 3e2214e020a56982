// UTF-8 validation for text that arrives from outside.
#pragma once

#include <string>

#include "absl/strings/string_view.h"

namespace herald {

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

// At most `max_bytes` of `text`, cut at a character boundary, with every
// byte that is not part of well-formed UTF-8 replaced by '?': safe to store
// in JSON and protobuf strings whatever a provider answered.
std::string BoundedUtf8(absl::string_view text, size_t max_bytes);

}  // namespace herald
