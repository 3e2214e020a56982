// The compiled form of a template (private to templates/): a tree of nodes
// whose expressions hold parsed paths, literals and resolved filters, so
// rendering never parses text.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "nlohmann/json.hpp"
#include "templates/context.h"

namespace herald::templates {

struct FilterSpec;

// A literal or a variable path. `offset` is the byte position in the
// source, for errors.
struct Operand {
  std::optional<nlohmann::json> literal;  // set for literals
  Path path;                              // set for variables
  std::string text;                       // as written, for errors
  size_t offset = 0;
  enum class Special { kNone, kEmpty, kBlank } special = Special::kNone;
};

struct FilterCall {
  const FilterSpec* spec = nullptr;
  std::vector<Operand> args;
  size_t offset = 0;
};

struct Expression {
  Operand base;
  std::vector<FilterCall> filters;
};

enum class CompareOp { kNone, kEq, kNe, kLt, kGt, kLe, kGe, kContains };

struct Comparison {
  Operand left;
  CompareOp op = CompareOp::kNone;
  Operand right;
};

// `a and b or c`: Liquid evaluates right to left without precedence;
// joins[i] is true for `and` between terms[i] and terms[i + 1].
struct ConditionExpr {
  std::vector<Comparison> terms;
  std::vector<bool> joins;
};

struct Node;
using Block = std::vector<Node>;

struct TextNode {
  std::string text;
};
struct OutputNode {
  Expression expression;
};
struct IfNode {
  bool unless = false;  // the first branch's condition is negated
  std::vector<std::pair<ConditionExpr, Block>> branches;
  Block otherwise;
};
struct ForNode {
  std::string variable;
  Operand collection;  // unused for ranges
  std::optional<std::pair<Operand, Operand>> range;
  std::optional<Operand> limit, offset;
  bool reversed = false;
  Block body;
  Block otherwise;  // when there is nothing to iterate
};
struct AssignNode {
  std::string name;
  Expression expression;
};
struct CaptureNode {
  std::string name;
  Block body;
};
struct LoopControlNode {
  bool is_break = false;
};

struct Node {
  std::variant<TextNode, OutputNode, IfNode, ForNode, AssignNode, CaptureNode, LoopControlNode> value;
  size_t offset = 0;
};

struct Program {
  Block root;
  bool literal = true;  // no outputs and no tags
  // The first part of every variable path the template names (locals
  // such as loop variables included), sorted, no duplicates.
  std::vector<std::string> roots;
};

// 1-based "line:column" of byte `offset` in `text`.
std::string Position(const std::string& text, size_t offset);

}  // namespace herald::templates
