// PushTokens: tokens that can be sent, and why the others cannot.
#include "services/delivery/providers/push_tokens.h"

#include "absl/strings/str_cat.h"

namespace herald::delivery {

absl::StatusOr<std::vector<std::string>> PushTokens(const Delivery& delivery, bool (*valid)(const std::string&),
                                                    size_t max_tokens) {
  const auto& push = delivery.content().push();
  if (push.tokens_size() == 0) return absl::InvalidArgumentError("no push tokens");
  if (static_cast<size_t>(push.tokens_size()) > max_tokens) {
    return absl::InvalidArgumentError(absl::StrCat(push.tokens_size(), " push tokens, at most ", max_tokens));
  }
  std::vector<std::string> tokens;
  size_t empty = 0, malformed = 0;
  for (const std::string& token : push.tokens()) {
    if (token.empty()) {
      ++empty;
    } else if (!valid(token)) {
      ++malformed;
    } else {
      tokens.push_back(token);
    }
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no valid push token (", empty, " empty, ", malformed, " malformed)"));
  }
  return tokens;
}

}  // namespace herald::delivery
