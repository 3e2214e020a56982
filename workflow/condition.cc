#include "workflow/condition.h"

#include <iterator>
#include <optional>

#include "absl/strings/str_cat.h"

namespace herald::workflow {
namespace {

using nlohmann::json;

bool IsEmptyValue(const json* value) {
  if (value == nullptr || value->is_null()) return true;
  // json::empty() is false for every string, so strings are checked apart.
  if (value->is_string()) return value->get_ref<const std::string&>().empty();
  if (value->is_array() || value->is_object()) return value->empty();
  return false;
}

// Compares numbers as numbers, strings as strings, and a number against a
// numeric string as numbers (data often carries "3").
std::optional<int> Compare(const json& left, const json& right) {
  auto as_number = [](const json& value) -> std::optional<double> {
    if (value.is_number()) return value.get<double>();
    if (value.is_string()) {
      const std::string& text = value.get_ref<const std::string&>();
      char* end = nullptr;
      double number = std::strtod(text.c_str(), &end);
      if (!text.empty() && end == text.c_str() + text.size()) return number;
    }
    return std::nullopt;
  };
  auto l = as_number(left);
  auto r = as_number(right);
  if (l && r && (left.is_number() || right.is_number())) return *l < *r ? -1 : (*l > *r ? 1 : 0);
  if (left.is_string() && right.is_string()) {
    int c = left.get_ref<const std::string&>().compare(right.get_ref<const std::string&>());
    return c < 0 ? -1 : (c > 0 ? 1 : 0);
  }
  if (left.is_boolean() && right.is_boolean()) return left.get<bool>() == right.get<bool>() ? 0 : 1;
  if (left == right) return 0;
  return std::nullopt;
}

bool Contains(const json& haystack, const json& needle) {
  if (haystack.is_string() && needle.is_string()) {
    return haystack.get_ref<const std::string&>().find(needle.get_ref<const std::string&>()) != std::string::npos;
  }
  if (haystack.is_array()) {
    for (const json& element : haystack) {
      auto c = Compare(element, needle);
      if (c && *c == 0) return true;
    }
    return false;
  }
  if (haystack.is_object() && needle.is_string()) return haystack.contains(needle.get<std::string>());
  return false;
}

// Ordered by kMessageStatusOrder; nullopt when either side is not a status.
std::optional<int> CompareStatus(const json& left, const json& right) {
  if (!left.is_string() || !right.is_string()) return std::nullopt;
  int l = MessageStatusRank(left.get_ref<const std::string&>());
  int r = MessageStatusRank(right.get_ref<const std::string&>());
  if (l < 0 || r < 0) return std::nullopt;
  return l < r ? -1 : (l > r ? 1 : 0);
}

}  // namespace

int MessageStatusRank(absl::string_view status) {
  for (size_t i = 0; i < std::size(kMessageStatusOrder); ++i) {
    if (kMessageStatusOrder[i] == status) return static_cast<int>(i);
  }
  return -1;
}

absl::string_view RefsField(const templates::Path& path) {
  if (path.size() != 3 || path[0] != "refs") return "";
  if (path[2] == "status" || path[2] == "engagement_status") return path[2];
  return "";
}

absl::StatusOr<Operator> ParseOperator(const std::string& name) {
  static const std::pair<const char*, Operator> kOperators[] = {
      {"equal_to", Operator::kEqualTo},
      {"not_equal_to", Operator::kNotEqualTo},
      {"greater_than", Operator::kGreaterThan},
      {"greater_than_or_equal_to", Operator::kGreaterThanOrEqualTo},
      {"less_than", Operator::kLessThan},
      {"less_than_or_equal_to", Operator::kLessThanOrEqualTo},
      {"contains", Operator::kContains},
      {"not_contains", Operator::kNotContains},
      {"exists", Operator::kExists},
      {"not_exists", Operator::kNotExists},
      {"empty", Operator::kEmpty},
      {"not_empty", Operator::kNotEmpty},
  };
  for (const auto& [text, op] : kOperators) {
    if (name == text) return op;
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown operator '", name, "'"));
}

bool EvaluateCondition(const Condition& condition, const templates::Context& context) {
  const json* value = context.Lookup(condition.path);
  switch (condition.op) {
    case Operator::kExists:
      return value != nullptr && !value->is_null();
    case Operator::kNotExists:
      return value == nullptr || value->is_null();
    case Operator::kEmpty:
      return IsEmptyValue(value);
    case Operator::kNotEmpty:
      return !IsEmptyValue(value);
    case Operator::kContains:
      return value != nullptr && Contains(*value, condition.argument);
    case Operator::kNotContains:
      return value == nullptr || !Contains(*value, condition.argument);
    case Operator::kNotEqualTo: {
      if (value == nullptr) return !condition.argument.is_null();
      auto c = Compare(*value, condition.argument);
      return !c || *c != 0;
    }
    default:
      break;
  }
  if (value == nullptr) return condition.op == Operator::kEqualTo && condition.argument.is_null();
  auto c = condition.status_order ? CompareStatus(*value, condition.argument) : Compare(*value, condition.argument);
  if (!c) return false;
  switch (condition.op) {
    case Operator::kEqualTo:
      return *c == 0;
    case Operator::kGreaterThan:
      return *c > 0;
    case Operator::kGreaterThanOrEqualTo:
      return *c >= 0;
    case Operator::kLessThan:
      return *c < 0;
    case Operator::kLessThanOrEqualTo:
      return *c <= 0;
    default:
      return false;
  }
}

bool ConditionGroup::Evaluate(const templates::Context& context) const {
  if (conditions.empty()) return true;
  for (const Condition& condition : conditions) {
    bool passed = EvaluateCondition(condition, context);
    if (any && passed) return true;
    if (!any && !passed) return false;
  }
  return !any;
}

bool ConditionGroup::Reads(const std::string& root) const {
  for (const Condition& condition : conditions) {
    if (!condition.path.empty() && condition.path[0] == root) return true;
  }
  return false;
}

}  // namespace herald::workflow
