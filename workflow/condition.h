// Step conditions: `{variable, operator, argument}` tests over the template
// context (data, recipient, actor, tenant, ...), combined with all/any.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
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

struct Condition {
  std::string variable;
  templates::Path path;
  Operator op = Operator::kEqualTo;
  nlohmann::json argument;
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
