// An owned, typed copy of one Redis reply.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace herald::redis {

struct Reply {
  enum class Type { kNil, kString, kStatus, kInteger, kArray, kError };
  Type type = Type::kNil;
  std::string str;  // kString, kStatus, kError
  int64_t integer = 0;
  std::vector<Reply> elements;

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
};

// The reply itself unless it is a Redis error, which becomes INTERNAL (or the
// code a script chose, see ScriptErrorToStatus).
absl::StatusOr<Reply> ReplyOrError(Reply reply);

// Scripts report user errors as `redis.error_reply("HERALD <CODE> message")`;
// this maps them to the matching absl code (INVALID_ARGUMENT, NOT_FOUND,
// FAILED_PRECONDITION, ALREADY_EXISTS) and anything else to INTERNAL.
absl::Status ErrorReplyToStatus(const std::string& message);

// The status of the first failed result of a pipeline, or OK.
absl::Status FirstError(const std::vector<absl::StatusOr<Reply>>& results);

// Typed accessors with INTERNAL on a surprising shape.
absl::StatusOr<int64_t> AsInteger(const Reply& reply);
absl::StatusOr<std::string> AsString(const Reply& reply);

}  // namespace herald::redis
