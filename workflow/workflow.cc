#include "workflow/workflow.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace herald::workflow {

bool IsChannelType(absl::string_view type) {
  for (absl::string_view known : kChannelTypes) {
    if (type == known) return true;
  }
  return false;
}

std::string ChannelTypeList() { return absl::StrJoin(kChannelTypes, ", "); }

const char* StepTypeName(StepType type) {
  switch (type) {
    case StepType::kBatch:
      return "batch";
    case StepType::kDelay:
      return "delay";
    case StepType::kChannel:
      return "channel";
  }
  return "unknown";
}

std::string Step::Summary() const {
  switch (type) {
    case StepType::kBatch:
      return absl::StrCat(batch.mode == WindowMode::kSliding ? "sliding" : "fixed", " window ",
                          absl::FormatDuration(batch.window),
                          batch.mode == WindowMode::kSliding ? absl::StrCat(" (max ", absl::FormatDuration(batch.max_window), ")") : "",
                          batch.key.empty() ? "" : absl::StrCat(", key ", batch.key.source()),
                          batch.max_activities > 0 ? absl::StrCat(", max ", batch.max_activities, " activities") : "",
                          batch.flush_leading_item ? ", flushes leading item" : "");
    case StepType::kDelay:
      return absl::StrCat("wait ", absl::FormatDuration(delay.duration));
    case StepType::kChannel:
      return absl::StrCat(channel.channel_type, conditions.empty() ? "" : " (conditional)",
                          channel.fallback.empty() ? "" : absl::StrCat(", fallback ", channel.fallback),
                          fallback_only ? " (only as a fallback)" : "");
  }
  return "";
}

}  // namespace herald::workflow
