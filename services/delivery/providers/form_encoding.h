// application/x-www-form-urlencoded and URL path escaping.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace herald::delivery {

// Percent-encodes every byte outside RFC 3986's unreserved set.
std::string PercentEncode(absl::string_view text);

// "a=1&b=x%20y".
std::string FormEncode(const std::vector<std::pair<std::string, std::string>>& fields);

}  // namespace herald::delivery
