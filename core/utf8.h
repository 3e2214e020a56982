// UTF-8 validation for text that arrives from outside.
#pragma once

#include "absl/strings/string_view.h"

namespace herald {

// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF).
bool IsValidUtf8(absl::string_view text);

}  // namespace herald
