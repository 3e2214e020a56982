#include "redis/streams_tail.h"

#include "absl/strings/match.h"

namespace herald::redis {
namespace {

constexpr char kReadCount[] = "1000";

}  // namespace

absl::Status StreamsTail::Read(RedisClient& client, const std::vector<std::string>& positions,
                               absl::FunctionRef<void(size_t, const Reply&)> on_entries,
                               absl::FunctionRef<void(absl::Duration)> wait) {
  if (!per_key_) {
    Command command = {"XREAD", "COUNT", kReadCount, "BLOCK", block_ms_, "STREAMS"};
    command.insert(command.end(), keys_.begin(), keys_.end());
    command.insert(command.end(), positions.begin(), positions.end());
    auto reply = client.Execute(command);
    if (!reply.ok()) {
      if (!absl::StrContains(reply.status().message(), "CROSSSLOT")) return reply.status();
      per_key_ = true;
      return absl::OkStatus();  // the next Read polls
    }
    for (const Reply& stream : reply->elements) {
      if (stream.elements.size() != 2) continue;
      for (size_t i = 0; i < keys_.size(); ++i) {
        if (keys_[i] == stream.elements[0].str) on_entries(i, stream.elements[1]);
      }
    }
    return absl::OkStatus();
  }
  std::vector<Command> commands;
  for (size_t i = 0; i < keys_.size(); ++i) {
    commands.push_back({"XREAD", "COUNT", kReadCount, "STREAMS", keys_[i], positions[i]});
  }
  std::vector<absl::StatusOr<Reply>> replies = client.Pipeline(commands);
  absl::Status first_error;
  bool any = false;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (!replies[i].ok()) {
      if (first_error.ok()) first_error = replies[i].status();
      continue;
    }
    for (const Reply& stream : replies[i]->elements) {
      if (stream.elements.size() != 2 || stream.elements[1].elements.empty()) continue;
      any = true;
      on_entries(i, stream.elements[1]);
    }
  }
  if (!any && first_error.ok()) wait(poll_);
  return first_error;
}

}  // namespace herald::redis
