// Names of a user's in-app feeds ("main", "announcements", ...): chosen by
// an `in_app_feed` step of a workflow and by every feed call. Shared by the
// workflow parser and the feed store, so both accept the same names.
#pragma once

#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace herald {

// The feed a step or a request names when it names none.
inline constexpr absl::string_view kMainFeed = "main";
inline constexpr size_t kMaxFeedNameBytes = 64;

// OK when `feed` is a feed name: 1..64 letters, digits, '-', '_' and '.'.
// INVALID_ARGUMENT naming `field` otherwise. ('' is not a name: callers
// that take '' for the main feed check that first.)
absl::Status ValidateFeedName(absl::string_view feed, absl::string_view field);

// `feed` with '' read as the main feed.
inline absl::string_view FeedOrMain(absl::string_view feed) { return feed.empty() ? kMainFeed : feed; }

}  // namespace herald
