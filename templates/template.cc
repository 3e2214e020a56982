// Rendering a compiled Program: walks the node tree with a per-render
// state (local variables, loop frames, bounds), borrowing values from the
// Context wherever it can so a typical message renders without copying.
#include "templates/template.h"

#include <algorithm>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "templates/filters.h"
#include "templates/liquid_parser.h"

namespace herald::templates {
namespace {

using nlohmann::json;

const json& Null() {
  static const json* const kNull = new json(nullptr);
  return *kNull;
}

// A value that is either borrowed (from the context, a local or a loop) or
// owned (a literal's copy, a filter's result, a computed size).
class Value {
 public:
  Value() = default;
  explicit Value(const json* borrowed) : borrowed_(borrowed) {}
  explicit Value(json owned) : owned_(std::move(owned)), is_owned_(true) {}

  const json& get() const { return is_owned_ ? owned_ : borrowed_ != nullptr ? *borrowed_ : Null(); }
  bool missing() const { return !is_owned_ && borrowed_ == nullptr; }

 private:
  const json* borrowed_ = nullptr;
  json owned_;
  bool is_owned_ = false;
};

bool IsEmpty(const json& value) {
  return (value.is_string() && value.get_ref<const std::string&>().empty()) ||
         ((value.is_array() || value.is_object()) && value.empty());
}

bool IsBlank(const json& value) {
  if (value.is_null() || (value.is_boolean() && !value.get<bool>())) return true;
  if (value.is_string()) {
    return absl::StripAsciiWhitespace(value.get_ref<const std::string&>()).empty();
  }
  return IsEmpty(value);
}

bool Equal(const json& a, const json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  return a == b;
}

bool Ordered(const json& a, const json& b, CompareOp op) {
  int order;
  if (a.is_number() && b.is_number()) {
    double x = a.get<double>(), y = b.get<double>();
    order = x < y ? -1 : x > y ? 1 : 0;
  } else if (a.is_string() && b.is_string()) {
    order = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
  } else {
    return false;
  }
  switch (op) {
    case CompareOp::kLt: return order < 0;
    case CompareOp::kGt: return order > 0;
    case CompareOp::kLe: return order <= 0;
    case CompareOp::kGe: return order >= 0;
    default: return false;
  }
}

bool Contains(const json& haystack, const json& needle) {
  if (haystack.is_string()) {
    return haystack.get_ref<const std::string&>().find(AsText(needle)) != std::string::npos;
  }
  if (haystack.is_array()) {
    for (const json& element : haystack) {
      if (Equal(element, needle)) return true;
    }
    return false;
  }
  if (haystack.is_object() && needle.is_string()) return haystack.contains(needle.get_ref<const std::string&>());
  return false;
}

enum class LoopControl { kNone, kBreak, kContinue };

struct LoopFrame {
  int64_t index0 = 0;
  int64_t length = 0;
};

class RenderState {
 public:
  RenderState(const std::string& source, const Context& context, const RenderOptions& options, std::string* out)
      : source_(source), context_(context), options_(options), out_(out), start_(out->size()) {}

  absl::Status RenderBlock(const Block& block) {
    for (const Node& node : block) {
      absl::Status status = std::visit([&](const auto& value) { return Render(value, node.offset); }, node.value);
      if (!status.ok()) return status;
      if (control_ != LoopControl::kNone) return absl::OkStatus();
    }
    return absl::OkStatus();
  }

 private:
  absl::Status Render(const TextNode& node, size_t) { return Append(node.text); }

  absl::Status Render(const OutputNode& node, size_t) {
    auto value = Evaluate(node.expression);
    if (!value.ok()) return value.status();
    size_t before = out_->size();
    AppendValue(value->get(), out_);
    return CheckOutput(before);
  }

  absl::Status Render(const IfNode& node, size_t) {
    for (size_t i = 0; i < node.branches.size(); ++i) {
      auto holds = Holds(node.branches[i].first);
      if (!holds.ok()) return holds.status();
      bool taken = (i == 0 && node.unless) ? !*holds : *holds;
      if (taken) return RenderBlock(node.branches[i].second);
    }
    return RenderBlock(node.otherwise);
  }

  absl::Status Render(const ForNode& node, size_t offset) {
    // Ranges are materialized as integers; collections stay borrowed.
    Value collection;
    int64_t range_from = 0, range_count = 0;
    bool is_range = node.range.has_value();
    if (is_range) {
      auto from = Resolve(node.range->first, false);
      auto to = Resolve(node.range->second, false);
      if (!from.ok()) return from.status();
      if (!to.ok()) return to.status();
      double a = AsNumber(from->get()).value_or(0), b = AsNumber(to->get()).value_or(0);
      if (a < -1e12 || a > 1e12 || b < -1e12 || b > 1e12) return Exhausted("range bounds out of reach");
      range_from = static_cast<int64_t>(a);
      range_count = std::max<int64_t>(0, static_cast<int64_t>(b) - range_from + 1);
    } else {
      auto resolved = Resolve(node.collection, false);
      if (!resolved.ok()) return resolved.status();
      collection = std::move(*resolved);
    }
    const json& items = collection.get();
    json pairs;  // objects iterate as [key, value]
    const json* list = &items;
    if (!is_range && items.is_object()) {
      pairs = json::array();
      for (auto it = items.begin(); it != items.end(); ++it) pairs.push_back(json::array({it.key(), it.value()}));
      list = &pairs;
    }
    int64_t total = is_range ? range_count : list->is_array() ? static_cast<int64_t>(list->size()) : 0;
    if (!is_range && !list->is_array() && !list->is_null() && !(list->is_boolean() && !list->get<bool>()) &&
        !IsEmpty(*list)) {
      total = 1;  // a scalar iterates once, as itself
    }
    int64_t skip = 0, limit = total;
    if (node.offset.has_value()) {
      auto value = Resolve(*node.offset, false);
      if (!value.ok()) return value.status();
      skip = std::clamp<int64_t>(static_cast<int64_t>(AsNumber(value->get()).value_or(0)), 0, total);
    }
    if (node.limit.has_value()) {
      auto value = Resolve(*node.limit, false);
      if (!value.ok()) return value.status();
      limit = std::clamp<int64_t>(static_cast<int64_t>(AsNumber(value->get()).value_or(0)), 0, total);
    }
    int64_t count = std::min(limit, total - skip);
    if (count <= 0) return RenderBlock(node.otherwise);

    loops_.push_back({0, count});
    locals_.emplace_back(node.variable, nullptr);
    size_t slot = locals_.size() - 1;
    json range_item;
    absl::Status status;
    for (int64_t i = 0; i < count; ++i) {
      if (++iterations_ > options_.max_loop_iterations) {
        status = Exhausted(absl::StrCat("more than ", options_.max_loop_iterations, " loop iterations at ",
                                        Position(source_, offset)));
        break;
      }
      int64_t at = skip + (node.reversed ? count - 1 - i : i);
      if (is_range) {
        range_item = range_from + at;
        locals_[slot].second = &range_item;
      } else {
        locals_[slot].second = list->is_array() ? &(*list)[static_cast<size_t>(at)] : list;
      }
      loops_.back().index0 = i;
      status = RenderBlock(node.body);
      if (!status.ok()) break;
      LoopControl control = control_;
      control_ = LoopControl::kNone;
      if (control == LoopControl::kBreak) break;
    }
    locals_.erase(locals_.begin() + static_cast<std::ptrdiff_t>(slot));
    loops_.pop_back();
    return status;
  }

  absl::Status Render(const AssignNode& node, size_t) {
    auto value = Evaluate(node.expression);
    if (!value.ok()) return value.status();
    SetLocal(node.name, json(value->get()));
    return absl::OkStatus();
  }

  absl::Status Render(const CaptureNode& node, size_t) {
    std::string captured;
    std::string* saved = out_;
    size_t saved_start = start_;
    out_ = &captured;
    start_ = 0;
    absl::Status status = RenderBlock(node.body);
    out_ = saved;
    start_ = saved_start;
    if (!status.ok()) return status;
    SetLocal(node.name, json(std::move(captured)));
    return absl::OkStatus();
  }

  absl::Status Render(const LoopControlNode& node, size_t) {
    if (!loops_.empty()) control_ = node.is_break ? LoopControl::kBreak : LoopControl::kContinue;
    return absl::OkStatus();
  }

  void SetLocal(const std::string& name, json value) {
    owned_.push_back(std::move(value));
    locals_.emplace_back(name, &owned_.back());
  }

  absl::Status Append(absl::string_view text) {
    size_t before = out_->size();
    out_->append(text.data(), text.size());
    return CheckOutput(before);
  }

  absl::Status CheckOutput(size_t) {
    if (out_->size() - start_ > options_.max_output_bytes) {
      return Exhausted(absl::StrCat("output larger than ", options_.max_output_bytes, " bytes"));
    }
    return absl::OkStatus();
  }

  absl::Status Exhausted(absl::string_view what) const {
    return absl::ResourceExhaustedError(absl::StrCat("template: ", what));
  }

  absl::StatusOr<Value> Evaluate(const Expression& expression) {
    bool may_be_missing = !expression.filters.empty() && std::string_view(expression.filters[0].spec->name) == "default";
    auto value = Resolve(expression.base, may_be_missing);
    if (!value.ok()) return value.status();
    Value current = std::move(*value);
    for (const FilterCall& call : expression.filters) {
      std::vector<Value> args;
      args.reserve(call.args.size());
      for (const Operand& operand : call.args) {
        auto arg = Resolve(operand, false);
        if (!arg.ok()) return arg.status();
        args.push_back(std::move(*arg));
      }
      std::vector<const json*> arg_refs;
      arg_refs.reserve(args.size());
      for (const Value& arg : args) arg_refs.push_back(&arg.get());
      json result;
      absl::Status status = call.spec->fn(current.get(), arg_refs, options_, &result);
      if (!status.ok()) return status;
      current = Value(std::move(result));
    }
    return current;
  }

  absl::StatusOr<bool> Holds(const ConditionExpr& condition) { return HoldsFrom(condition, 0); }

  // Right to left, as Liquid: `a or b and c` is `a or (b and c)`.
  absl::StatusOr<bool> HoldsFrom(const ConditionExpr& condition, size_t i) {
    auto term = Compare(condition.terms[i]);
    if (!term.ok() || i + 1 == condition.terms.size()) return term;
    auto rest = HoldsFrom(condition, i + 1);
    if (!rest.ok()) return rest;
    return condition.joins[i] ? (*term && *rest) : (*term || *rest);
  }

  absl::StatusOr<bool> Compare(const Comparison& comparison) {
    auto left = Resolve(comparison.left, comparison.op == CompareOp::kNone);
    if (!left.ok()) return left.status();
    if (comparison.op == CompareOp::kNone) return Truthy(left->get());
    auto right = Resolve(comparison.right, false);
    if (!right.ok()) return right.status();
    const json& a = left->get();
    const json& b = right->get();
    auto special = comparison.right.special != Operand::Special::kNone ? comparison.right.special
                                                                         : comparison.left.special;
    if (special != Operand::Special::kNone && (comparison.op == CompareOp::kEq || comparison.op == CompareOp::kNe)) {
      const json& other = comparison.right.special != Operand::Special::kNone ? a : b;
      bool matches = special == Operand::Special::kEmpty ? IsEmpty(other) : IsBlank(other);
      return comparison.op == CompareOp::kEq ? matches : !matches;
    }
    switch (comparison.op) {
      case CompareOp::kEq: return Equal(a, b);
      case CompareOp::kNe: return !Equal(a, b);
      case CompareOp::kContains: return Contains(a, b);
      default: return Ordered(a, b, comparison.op);
    }
  }

  // A literal, or a variable looked up in locals, `forloop` and then the
  // context. `may_be_missing` exempts it from strict mode.
  absl::StatusOr<Value> Resolve(const Operand& operand, bool may_be_missing) {
    if (operand.literal.has_value()) return Value(&*operand.literal);
    Value value = Lookup(operand.path);
    if (value.missing() && options_.strict && !may_be_missing) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown variable '", operand.text, "' at ", Position(source_, operand.offset)));
    }
    return value;
  }

  Value Lookup(const Path& path) {
    const std::string& root = path[0];
    const json* value = nullptr;
    for (auto it = locals_.rbegin(); it != locals_.rend(); ++it) {
      if (it->first == root) {
        value = it->second;
        break;
      }
    }
    if (value == nullptr && root == "forloop" && !loops_.empty()) {
      if (path.size() != 2) return Value();
      return ForloopField(path[1]);
    }
    if (value == nullptr) value = context_.Root(root);
    for (size_t i = 1; value != nullptr && i < path.size(); ++i) {
      const std::string& part = path[i];
      if (value->is_object()) {
        auto found = value->find(part);
        if (found != value->end()) {
          value = &*found;
          continue;
        }
      }
      if (part == "size" && (value->is_array() || value->is_object() || value->is_string())) {
        if (i + 1 != path.size()) return Value();
        json size;
        (void)FindFilter("size")->fn(*value, {}, options_, &size);
        return Value(std::move(size));
      }
      if (!value->is_array()) return Value();
      if (value->empty()) return Value();
      if (part == "first") {
        value = &value->front();
      } else if (part == "last") {
        value = &value->back();
      } else {
        int64_t index;
        if (!absl::SimpleAtoi(part, &index)) return Value();
        if (index < 0) index += static_cast<int64_t>(value->size());
        if (index < 0 || index >= static_cast<int64_t>(value->size())) return Value();
        value = &(*value)[static_cast<size_t>(index)];
      }
    }
    return Value(value);
  }

  Value ForloopField(const std::string& field) const {
    const LoopFrame& loop = loops_.back();
    if (field == "index") return Value(json(loop.index0 + 1));
    if (field == "index0") return Value(json(loop.index0));
    if (field == "rindex") return Value(json(loop.length - loop.index0));
    if (field == "rindex0") return Value(json(loop.length - loop.index0 - 1));
    if (field == "first") return Value(json(loop.index0 == 0));
    if (field == "last") return Value(json(loop.index0 == loop.length - 1));
    if (field == "length") return Value(json(loop.length));
    return Value();
  }

  const std::string& source_;
  const Context& context_;
  const RenderOptions& options_;
  std::string* out_;
  size_t start_;
  std::vector<std::pair<std::string, const json*>> locals_;
  std::deque<json> owned_;  // stable addresses for assigned values
  std::vector<LoopFrame> loops_;
  LoopControl control_ = LoopControl::kNone;
  int64_t iterations_ = 0;
};

}  // namespace

Template::Template() : program_(std::make_shared<const Program>()) {}

absl::StatusOr<Template> Template::Compile(absl::string_view source) {
  Template compiled;
  compiled.source_ = std::string(source);
  auto program = ParseProgram(compiled.source_);
  if (!program.ok()) return program.status();
  compiled.program_ = std::move(*program);
  return compiled;
}

absl::Status Template::RenderTo(const Context& context, std::string* out, const RenderOptions& options) const {
  RenderState state(source_, context, options, out);
  return state.RenderBlock(program_->root);
}

absl::StatusOr<std::string> Template::Render(const Context& context, const RenderOptions& options) const {
  std::string out;
  absl::Status status = RenderTo(context, &out, options);
  if (!status.ok()) return status;
  return out;
}

bool Template::is_literal() const { return program_->literal; }

bool Template::Reads(absl::string_view root) const {
  return std::binary_search(program_->roots.begin(), program_->roots.end(), root);
}

}  // namespace herald::templates
