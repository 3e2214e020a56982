#include "core/feed_names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace herald {

absl::Status ValidateFeedName(absl::string_view feed, absl::string_view field) {
  if (feed.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must not be empty"));
  if (feed.size() > kMaxFeedNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": longer than ", kMaxFeedNameBytes, " bytes"));
  }
  for (char c : feed) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": '", feed, "' is not a feed name (letters, digits, '-', '_' and '.')"));
    }
  }
  return absl::OkStatus();
}

}  // namespace herald
