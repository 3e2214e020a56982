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
    case StepType::kThrottle:
      return "throttle";
    case StepType::kBranch:
      return "branch";
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
      if (!delay.until_path.empty()) {
        return absl::StrCat("wait until ", absl::StrJoin(delay.until_path, "."),
                            delay.offset == absl::ZeroDuration() ? "" : absl::StrCat(" ", absl::FormatDuration(delay.offset)));
      }
      if (!delay.duration_path.empty()) return absl::StrCat("wait ", absl::StrJoin(delay.duration_path, "."));
      return absl::StrCat("wait ", absl::FormatDuration(delay.duration));
    case StepType::kThrottle:
      return absl::StrCat("at most ", throttle.limit, " per ", absl::FormatDuration(throttle.window),
                          throttle.key.empty() ? "" : absl::StrCat(", key ", throttle.key.source()));
    case StepType::kBranch: {
      std::vector<std::string> names;
      for (const Branch& b : branch.branches) names.push_back(b.terminate ? absl::StrCat(b.name, " (terminates)") : b.name);
      return absl::StrCat("branches: ", absl::StrJoin(names, ", "));
    }
    case StepType::kChannel:
      return absl::StrCat(channel.channel_type, conditions.empty() ? "" : " (conditional)",
                          channel.fallback.empty() ? "" : absl::StrCat(", fallback ", channel.fallback),
                          fallback_only ? " (only as a fallback)" : "");
  }
  return "";
}

}  // namespace herald::workflow
