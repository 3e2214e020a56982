#include "redis/reply.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace herald::redis {

absl::Status ErrorReplyToStatus(const std::string& message) {
  // Redis prefixes script errors with the script location in some versions;
  // look for our marker anywhere.
  size_t marker = message.find("HERALD ");
  if (marker != std::string::npos) {
    absl::string_view rest = absl::string_view(message).substr(marker + 7);
    struct Mapping {
      absl::string_view name;
      absl::StatusCode code;
    };
    static constexpr Mapping kMappings[] = {
        {"INVALID_ARGUMENT ", absl::StatusCode::kInvalidArgument},
        {"NOT_FOUND ", absl::StatusCode::kNotFound},
        {"FAILED_PRECONDITION ", absl::StatusCode::kFailedPrecondition},
        {"ALREADY_EXISTS ", absl::StatusCode::kAlreadyExists},
    };
    for (const Mapping& mapping : kMappings) {
      if (absl::StartsWith(rest, mapping.name)) {
        return absl::Status(mapping.code, rest.substr(mapping.name.size()));
      }
    }
  }
  if (absl::StartsWith(message, "LOADING") || absl::StartsWith(message, "BUSY") ||
      absl::StartsWith(message, "TRYAGAIN") || absl::StartsWith(message, "MASTERDOWN")) {
    return absl::UnavailableError(absl::StrCat("redis: ", message));
  }
  return absl::InternalError(absl::StrCat("redis: ", message));
}

absl::StatusOr<Reply> ReplyOrError(Reply reply) {
  if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  return reply;
}

absl::StatusOr<int64_t> AsInteger(const Reply& reply) {
  if (reply.type == Reply::Type::kInteger) return reply.integer;
  if (reply.type == Reply::Type::kString || reply.type == Reply::Type::kStatus) {
    int64_t value;
    if (absl::SimpleAtoi(reply.str, &value)) return value;
  }
  if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  return absl::InternalError("redis: expected an integer reply");
}

absl::StatusOr<std::string> AsString(const Reply& reply) {
  if (reply.type == Reply::Type::kString || reply.type == Reply::Type::kStatus) return reply.str;
  if (reply.type == Reply::Type::kInteger) return std::to_string(reply.integer);
  if (reply.is_error()) return ErrorReplyToStatus(reply.str);
  return absl::InternalError("redis: expected a string reply");
}

absl::Status FirstError(const std::vector<absl::StatusOr<Reply>>& results) {
  for (const auto& result : results) {
    if (!result.ok()) return result.status();
  }
  return absl::OkStatus();
}

}  // namespace herald::redis
