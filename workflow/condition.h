// Step conditions: `{variable, operator, argument}` tests over the template
// context (data, recipient, actor, tenant, refs, ...), combined with all/any.
//
// `refs.<step ref>.status` and `refs.<step ref>.engagement_status` read the
// message an earlier channel step of the same run made. Compared with
// equal_to/not_equal_to they are plain strings; greater_than, less_than and
// the *_or_equal_to forms follow the message order (kMessageStatusOrder):
//   undelivered < bounced < delivery_attempted < queued < not_sent < sent
//   < delivered < seen < read < interacted < link_clicked < archived
// so "email only if the in-app message is still unread" is
// `refs.in_app.engagement_status less_than read`. A message with no
// engagement yet has its status as engagement_status (an unread feed item
// is "delivered"). When the step made no message (skipped by a condition)
// the variable does not exist: every ordered comparison is then false;
// test that case with `exists` / `not_exists`.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "templates/context.h"

namespace herald::workflow {

enum class Operator {
  kEqualTo,
  kNotEqualTo,
  kGreaterThan,
  kGreaterThanOrEqualTo,
  kLessThan,
  kLessThanOrEqualTo,
  kContains,
  kNotContains,
  kExists,
  kNotExists,
  kEmpty,
  kNotEmpty,
};

// INVALID_ARGUMENT for an unknown operator name.
absl::StatusOr<Operator> ParseOperator(const std::string& name);

// Message statuses and engagement statuses, least advanced first.
inline constexpr absl::string_view kMessageStatusOrder[] = {
    "undelivered", "bounced", "delivery_attempted", "queued", "not_sent", "sent",
    "delivered",   "seen",    "read",               "interacted", "link_clicked", "archived"};
// The position of `status` in kMessageStatusOrder, or -1 when not in it.
int MessageStatusRank(absl::string_view status);

// The refs variable of `path` ("status" or "engagement_status") when path is
// `refs.<step>.<that>`, else "".
absl::string_view RefsField(const templates::Path& path);

struct Condition {
  std::string variable;
  templates::Path path;
  Operator op = Operator::kEqualTo;
  nlohmann::json argument;
  // Compare by kMessageStatusOrder, not as strings (refs statuses).
  bool status_order = false;
};

struct ConditionGroup {
  // true: any condition passes; false: all must pass.
  bool any = false;
  std::vector<Condition> conditions;

  bool empty() const { return conditions.empty(); }
  // True when there are no conditions.
  bool Evaluate(const templates::Context& context) const;
  // True when any condition reads a root other than the ones listed.
  bool Reads(const std::string& root) const;
};

bool EvaluateCondition(const Condition& condition, const templates::Context& context);

}  // namespace herald::workflow
