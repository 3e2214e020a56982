// Template text -> Program. Two passes: a scanner cuts the source into text,
// `{{ }}` and `{% %}` pieces (applying whitespace control), then a
// recursive-descent parser builds the node tree and resolves filters, so
// every error is found at compile time and carries a line:column.
#include "templates/liquid_parser.h"

#include <algorithm>
#include <memory>
#include <type_traits>
#include <variant>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "templates/filters.h"

namespace herald::templates {
namespace {

using nlohmann::json;

constexpr int kMaxDepth = 64;

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

struct Piece {
  enum class Kind { kText, kOutput, kTag } kind;
  size_t begin = 0, end = 0;  // the text, or the markup between the delimiters
  size_t offset = 0;          // where the piece starts in the source
};

class Failure {
 public:
  explicit Failure(const std::string& source) : source_(source) {}
  absl::Status At(size_t offset, absl::string_view message) const {
    return absl::InvalidArgumentError(absl::StrCat("template ", Position(source_, offset), ": ", message));
  }

 private:
  const std::string& source_;
};

// Finds `{% name %}` (any whitespace control) at or after `from`; returns
// the positions of its opening "{%" and just past its "%}".
bool FindEndTag(const std::string& source, size_t from, absl::string_view name, size_t* open, size_t* close) {
  for (size_t at = source.find("{%", from); at != std::string::npos; at = source.find("{%", at + 2)) {
    size_t end = source.find("%}", at + 2);
    if (end == std::string::npos) return false;
    absl::string_view inner(source.data() + at + 2, end - at - 2);
    if (!inner.empty() && inner.front() == '-') inner.remove_prefix(1);
    if (!inner.empty() && inner.back() == '-') inner.remove_suffix(1);
    if (absl::StripAsciiWhitespace(inner) == name) {
      *open = at;
      *close = end + 2;
      return true;
    }
  }
  return false;
}

absl::StatusOr<std::vector<Piece>> Scan(const std::string& source) {
  Failure fail(source);
  std::vector<Piece> pieces;
  bool trim_next_text = false;
  size_t position = 0;
  auto add_text = [&](size_t begin, size_t end, bool trim_right_side) {
    if (trim_next_text) {
      while (begin < end && IsSpace(source[begin])) ++begin;
    }
    if (trim_right_side) {
      while (end > begin && IsSpace(source[end - 1])) --end;
    }
    if (begin < end) pieces.push_back({Piece::Kind::kText, begin, end, begin});
  };
  while (position < source.size()) {
    size_t open = source.find('{', position);
    while (open != std::string::npos && open + 1 < source.size() && source[open + 1] != '{' && source[open + 1] != '%') {
      open = source.find('{', open + 1);
    }
    if (open == std::string::npos || open + 1 >= source.size()) {
      add_text(position, source.size(), false);
      break;
    }
    bool is_tag = source[open + 1] == '%';
    bool trim_left = open + 2 < source.size() && source[open + 2] == '-';
    add_text(position, open, trim_left);
    const char* closer = is_tag ? "%}" : "}}";
    size_t close = source.find(closer, open + 2);
    if (close == std::string::npos) {
      return fail.At(open, is_tag ? "unclosed '{%'" : "unclosed '{{'");
    }
    size_t begin = open + 2 + (trim_left ? 1 : 0);
    size_t end = close;
    bool trim_right = end > begin && source[end - 1] == '-';
    if (trim_right) --end;
    trim_next_text = trim_right;
    position = close + 2;
    if (is_tag) {
      absl::string_view inner = absl::StripAsciiWhitespace(absl::string_view(source).substr(begin, end - begin));
      if (inner == "raw" || inner == "comment") {
        std::string end_name = absl::StrCat("end", inner);
        size_t end_open, end_close;
        if (!FindEndTag(source, position, end_name, &end_open, &end_close)) {
          return fail.At(open, absl::StrCat("'{% ", inner, " %}' is never closed with '{% ", end_name, " %}'"));
        }
        if (inner == "raw") add_text(position, end_open, false);
        position = end_close;
        trim_next_text = end_close >= 3 && source[end_close - 3] == '-';
        continue;
      }
    }
    pieces.push_back({is_tag ? Piece::Kind::kTag : Piece::Kind::kOutput, begin, end, open});
  }
  return pieces;
}

// Tokens of one `{{ }}` or `{% %}` markup.
struct Token {
  enum class Kind { kWord, kString, kNumber, kOperator, kPunct, kEnd } kind;
  std::string text;
  size_t offset;
};

absl::StatusOr<std::vector<Token>> Tokenize(const std::string& source, size_t begin, size_t end) {
  Failure fail(source);
  std::vector<Token> tokens;
  size_t i = begin;
  while (i < end) {
    char c = source[i];
    if (IsSpace(c)) {
      ++i;
      continue;
    }
    size_t start = i;
    if (c == '"' || c == '\'') {
      size_t close = source.find(c, i + 1);
      if (close == std::string::npos || close >= end) return fail.At(i, "unterminated string");
      tokens.push_back({Token::Kind::kString, source.substr(i + 1, close - i - 1), start});
      i = close + 1;
    } else if (absl::ascii_isdigit(c) || (c == '-' && i + 1 < end && absl::ascii_isdigit(source[i + 1]))) {
      ++i;
      while (i < end && absl::ascii_isdigit(source[i])) ++i;
      if (i + 1 < end && source[i] == '.' && absl::ascii_isdigit(source[i + 1])) {
        ++i;
        while (i < end && absl::ascii_isdigit(source[i])) ++i;
      }
      tokens.push_back({Token::Kind::kNumber, source.substr(start, i - start), start});
    } else if (absl::ascii_isalpha(c) || c == '_') {
      while (i < end) {
        char d = source[i];
        if (absl::ascii_isalnum(d) || d == '_' || d == '-' || d == '?') {
          ++i;
        } else if (d == '.' && !(i + 1 < end && source[i + 1] == '.')) {
          ++i;
        } else if (d == '[') {
          size_t close = source.find(']', i);
          if (close == std::string::npos || close >= end) return fail.At(i, "unclosed '['");
          i = close + 1;
        } else {
          break;
        }
      }
      tokens.push_back({Token::Kind::kWord, source.substr(start, i - start), start});
    } else if (c == '=' || c == '!' || c == '<' || c == '>') {
      std::string op(1, c);
      if (i + 1 < end && (source[i + 1] == '=' || (c == '<' && source[i + 1] == '>'))) op += source[i + 1];
      if (op == "!") return fail.At(i, "unexpected '!'");
      tokens.push_back({Token::Kind::kOperator, op, start});
      i += op.size();
    } else if (c == '.' && i + 1 < end && source[i + 1] == '.') {
      tokens.push_back({Token::Kind::kPunct, "..", start});
      i += 2;
    } else if (c == '|' || c == ':' || c == ',' || c == '(' || c == ')') {
      tokens.push_back({Token::Kind::kPunct, std::string(1, c), start});
      ++i;
    } else {
      return fail.At(i, absl::StrCat("unexpected character '", std::string(1, c), "'"));
    }
  }
  tokens.push_back({Token::Kind::kEnd, "", end});
  return tokens;
}

// A cursor over one markup's tokens.
class Markup {
 public:
  Markup(const std::string& source, std::vector<Token> tokens) : fail_(source), tokens_(std::move(tokens)) {}

  const Token& Peek() const { return tokens_[at_]; }
  const Token& Next() { return tokens_[at_ < tokens_.size() - 1 ? at_++ : at_]; }
  bool AtEnd() const { return Peek().kind == Token::Kind::kEnd; }
  bool TakePunct(absl::string_view text) {
    if (Peek().kind != Token::Kind::kPunct || Peek().text != text) return false;
    ++at_;
    return true;
  }
  bool TakeWord(absl::string_view word) {
    if (Peek().kind != Token::Kind::kWord || Peek().text != word) return false;
    ++at_;
    return true;
  }
  absl::Status Error(absl::string_view message) const { return fail_.At(Peek().offset, message); }
  absl::Status ExpectEnd() const {
    if (AtEnd()) return absl::OkStatus();
    return Error(absl::StrCat("unexpected '", Peek().text, "'"));
  }

  absl::StatusOr<Operand> ParseOperand() {
    const Token& token = Next();
    Operand operand;
    operand.text = token.text;
    operand.offset = token.offset;
    switch (token.kind) {
      case Token::Kind::kString:
        operand.literal = token.text;
        return operand;
      case Token::Kind::kNumber: {
        int64_t integer;
        double number;
        if (absl::SimpleAtoi(token.text, &integer)) {
          operand.literal = integer;
        } else if (absl::SimpleAtod(token.text, &number)) {
          operand.literal = number;
        } else {
          return fail_.At(token.offset, absl::StrCat("bad number '", token.text, "'"));
        }
        return operand;
      }
      case Token::Kind::kWord: {
        if (token.text == "true" || token.text == "false") {
          operand.literal = token.text == "true";
          return operand;
        }
        if (token.text == "nil" || token.text == "null") {
          operand.literal = json(nullptr);
          return operand;
        }
        if (token.text == "empty" || token.text == "blank") {
          operand.literal = json(nullptr);
          operand.special = token.text == "empty" ? Operand::Special::kEmpty : Operand::Special::kBlank;
          return operand;
        }
        operand.path = ParsePath(token.text);
        if (operand.path.empty()) return fail_.At(token.offset, absl::StrCat("bad variable '", token.text, "'"));
        return operand;
      }
      case Token::Kind::kEnd:
        return fail_.At(token.offset, "expected a value");
      default:
        return fail_.At(token.offset, absl::StrCat("expected a value, got '", token.text, "'"));
    }
  }

  absl::StatusOr<Expression> ParseExpression() {
    Expression expression;
    auto base = ParseOperand();
    if (!base.ok()) return base.status();
    expression.base = std::move(*base);
    while (TakePunct("|")) {
      const Token& name = Next();
      if (name.kind != Token::Kind::kWord) return fail_.At(name.offset, "expected a filter name after '|'");
      FilterCall call;
      call.offset = name.offset;
      call.spec = FindFilter(name.text);
      if (call.spec == nullptr) return fail_.At(name.offset, absl::StrCat("unknown filter '", name.text, "'"));
      if (TakePunct(":")) {
        do {
          auto arg = ParseOperand();
          if (!arg.ok()) return arg.status();
          call.args.push_back(std::move(*arg));
        } while (TakePunct(","));
      }
      int count = static_cast<int>(call.args.size());
      if (count < call.spec->min_args || count > call.spec->max_args) {
        return fail_.At(name.offset, absl::StrCat("filter '", name.text, "' takes ", call.spec->min_args,
                                                  call.spec->min_args == call.spec->max_args
                                                      ? ""
                                                      : absl::StrCat(" to ", call.spec->max_args),
                                                  " argument(s), got ", count));
      }
      expression.filters.push_back(std::move(call));
    }
    return expression;
  }

  absl::StatusOr<ConditionExpr> ParseCondition() {
    ConditionExpr condition;
    while (true) {
      Comparison comparison;
      auto left = ParseOperand();
      if (!left.ok()) return left.status();
      comparison.left = std::move(*left);
      const Token& op = Peek();
      CompareOp compare = CompareOp::kNone;
      if (op.kind == Token::Kind::kOperator) {
        if (op.text == "==") compare = CompareOp::kEq;
        else if (op.text == "!=" || op.text == "<>") compare = CompareOp::kNe;
        else if (op.text == "<") compare = CompareOp::kLt;
        else if (op.text == ">") compare = CompareOp::kGt;
        else if (op.text == "<=") compare = CompareOp::kLe;
        else if (op.text == ">=") compare = CompareOp::kGe;
        else return Error(absl::StrCat("unknown operator '", op.text, "'"));
      } else if (op.kind == Token::Kind::kWord && op.text == "contains") {
        compare = CompareOp::kContains;
      }
      if (compare != CompareOp::kNone) {
        Next();
        comparison.op = compare;
        auto right = ParseOperand();
        if (!right.ok()) return right.status();
        comparison.right = std::move(*right);
      }
      condition.terms.push_back(std::move(comparison));
      if (TakeWord("and")) {
        condition.joins.push_back(true);
      } else if (TakeWord("or")) {
        condition.joins.push_back(false);
      } else {
        break;
      }
    }
    absl::Status end = ExpectEnd();
    if (!end.ok()) return end;
    return condition;
  }

 private:
  Failure fail_;
  std::vector<Token> tokens_;
  size_t at_ = 0;
};

bool IsVariableName(absl::string_view name) {
  if (name.empty() || !(absl::ascii_isalpha(name[0]) || name[0] == '_')) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '-') return false;
  }
  return true;
}

class Parser {
 public:
  Parser(const std::string& source, std::vector<Piece> pieces)
      : source_(source), fail_(source), pieces_(std::move(pieces)) {}

  absl::StatusOr<Program> Run() {
    Program program;
    std::string stopped_at;
    absl::Status status = ParseBlock(&program.root, {}, &stopped_at, 0);
    if (!status.ok()) return status;
    program.literal = literal_;
    return program;
  }

 private:
  // The tag's name and a cursor over the rest of its markup.
  absl::StatusOr<std::pair<std::string, Markup>> OpenTag(const Piece& piece) {
    auto tokens = Tokenize(source_, piece.begin, piece.end);
    if (!tokens.ok()) return tokens.status();
    if (tokens->front().kind != Token::Kind::kWord) return fail_.At(piece.offset, "expected a tag name after '{%'");
    std::string name = tokens->front().text;
    tokens->erase(tokens->begin());
    return std::make_pair(std::move(name), Markup(source_, std::move(*tokens)));
  }

  // Parses nodes into `block` until one of `stops` (returned in
  // `stopped_at`, with `stop_piece_` at it) or the end of input.
  // `opened_at`: the opening tag's offset, for "never closed" errors.
  absl::Status ParseBlock(Block* block, const std::vector<absl::string_view>& stops, std::string* stopped_at,
                          int depth, size_t opened_at = 0) {
    if (depth > kMaxDepth) return fail_.At(pieces_[std::min(next_, pieces_.size() - 1)].offset, "nesting too deep");
    while (next_ < pieces_.size()) {
      const Piece& piece = pieces_[next_++];
      if (piece.kind == Piece::Kind::kText) {
        block->push_back({TextNode{source_.substr(piece.begin, piece.end - piece.begin)}, piece.offset});
        continue;
      }
      literal_ = false;
      if (piece.kind == Piece::Kind::kOutput) {
        auto tokens = Tokenize(source_, piece.begin, piece.end);
        if (!tokens.ok()) return tokens.status();
        Markup markup(source_, std::move(*tokens));
        if (markup.AtEnd()) return fail_.At(piece.offset, "empty '{{ }}'");
        auto expression = markup.ParseExpression();
        if (!expression.ok()) return expression.status();
        absl::Status end = markup.ExpectEnd();
        if (!end.ok()) return end;
        block->push_back({OutputNode{std::move(*expression)}, piece.offset});
        continue;
      }
      auto tag = OpenTag(piece);
      if (!tag.ok()) return tag.status();
      auto& [name, markup] = *tag;
      for (absl::string_view stop : stops) {
        if (name == stop) {
          *stopped_at = name;
          stop_piece_ = next_ - 1;
          stop_markup_ = std::make_unique<Markup>(std::move(markup));
          return absl::OkStatus();
        }
      }
      absl::Status status = ParseTag(name, markup, piece, block, depth);
      if (!status.ok()) return status;
    }
    if (!stops.empty()) {
      return fail_.At(opened_at, absl::StrCat("this tag is never closed with '{% ", stops.back(), " %}'"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseTag(const std::string& name, Markup& markup, const Piece& piece, Block* block, int depth) {
    if (name == "if" || name == "unless") return ParseIf(name, markup, piece, block, depth);
    if (name == "for") return ParseFor(markup, piece, block, depth);
    if (name == "assign") {
      const Token& target = markup.Next();
      if (target.kind != Token::Kind::kWord || !IsVariableName(target.text)) {
        return fail_.At(target.offset, "assign needs a variable name");
      }
      AssignNode node{target.text, {}};
      if (markup.Peek().kind != Token::Kind::kOperator || markup.Next().text != "=") {
        return markup.Error("expected '=' in assign");
      }
      auto expression = markup.ParseExpression();
      if (!expression.ok()) return expression.status();
      absl::Status end = markup.ExpectEnd();
      if (!end.ok()) return end;
      node.expression = std::move(*expression);
      block->push_back({std::move(node), piece.offset});
      return absl::OkStatus();
    }
    if (name == "capture") {
      const Token& target = markup.Next();
      if (target.kind != Token::Kind::kWord || !IsVariableName(target.text)) {
        return fail_.At(target.offset, "capture needs a variable name");
      }
      absl::Status end = markup.ExpectEnd();
      if (!end.ok()) return end;
      CaptureNode node{target.text, {}};
      std::string stopped;
      absl::Status status = ParseBlock(&node.body, {"endcapture"}, &stopped, depth + 1, piece.offset);
      if (!status.ok()) return status;
      block->push_back({std::move(node), piece.offset});
      return absl::OkStatus();
    }
    if (name == "break" || name == "continue") {
      absl::Status end = markup.ExpectEnd();
      if (!end.ok()) return end;
      block->push_back({LoopControlNode{name == "break"}, piece.offset});
      return absl::OkStatus();
    }
    if (name == "elsif" || name == "else" || name.rfind("end", 0) == 0) {
      return fail_.At(piece.offset, absl::StrCat("unexpected '{% ", name, " %}'"));
    }
    return fail_.At(piece.offset, absl::StrCat("unknown tag '", name, "'"));
  }

  absl::Status ParseIf(const std::string& name, Markup& markup, const Piece& piece, Block* block, int depth) {
    IfNode node;
    node.unless = name == "unless";
    const std::string end_name = absl::StrCat("end", name);
    auto condition = markup.ParseCondition();
    if (!condition.ok()) return condition.status();
    std::vector<absl::string_view> stops = {"elsif", "else", end_name};
    if (node.unless) stops = {"else", end_name};
    ConditionExpr current = std::move(*condition);
    while (true) {
      Block body;
      std::string stopped;
      absl::Status status = ParseBlock(&body, stops, &stopped, depth + 1, piece.offset);
      if (!status.ok()) return status;
      node.branches.emplace_back(std::move(current), std::move(body));
      std::unique_ptr<Markup> stop = std::move(stop_markup_);
      if (stopped == "elsif") {
        auto next = stop->ParseCondition();
        if (!next.ok()) return next.status();
        current = std::move(*next);
        continue;
      }
      if (stopped == "else") {
        absl::Status end = stop->ExpectEnd();
        if (!end.ok()) return end;
        status = ParseBlock(&node.otherwise, {end_name}, &stopped, depth + 1, piece.offset);
        if (!status.ok()) return status;
      }
      break;
    }
    block->push_back({std::move(node), piece.offset});
    return absl::OkStatus();
  }

  absl::Status ParseFor(Markup& markup, const Piece& piece, Block* block, int depth) {
    ForNode node;
    const Token& variable = markup.Next();
    if (variable.kind != Token::Kind::kWord || !IsVariableName(variable.text)) {
      return fail_.At(variable.offset, "for needs a loop variable");
    }
    node.variable = variable.text;
    if (!markup.TakeWord("in")) return markup.Error("expected 'in' after the loop variable");
    if (markup.TakePunct("(")) {
      auto from = markup.ParseOperand();
      if (!from.ok()) return from.status();
      if (!markup.TakePunct("..")) return markup.Error("expected '..' in a range");
      auto to = markup.ParseOperand();
      if (!to.ok()) return to.status();
      if (!markup.TakePunct(")")) return markup.Error("expected ')' to close the range");
      node.range = std::make_pair(std::move(*from), std::move(*to));
    } else {
      auto collection = markup.ParseOperand();
      if (!collection.ok()) return collection.status();
      node.collection = std::move(*collection);
    }
    while (!markup.AtEnd()) {
      if (markup.TakeWord("reversed")) {
        node.reversed = true;
        continue;
      }
      bool is_limit = markup.TakeWord("limit");
      if (!is_limit && !markup.TakeWord("offset")) return markup.Error(absl::StrCat("unexpected '", markup.Peek().text, "' in for"));
      if (!markup.TakePunct(":")) return markup.Error("expected ':'");
      auto value = markup.ParseOperand();
      if (!value.ok()) return value.status();
      (is_limit ? node.limit : node.offset) = std::move(*value);
    }
    std::string stopped;
    absl::Status status = ParseBlock(&node.body, {"else", "endfor"}, &stopped, depth + 1, piece.offset);
    if (!status.ok()) return status;
    if (stopped == "else") {
      absl::Status end = stop_markup_->ExpectEnd();
      if (!end.ok()) return end;
      status = ParseBlock(&node.otherwise, {"endfor"}, &stopped, depth + 1, piece.offset);
      if (!status.ok()) return status;
    }
    block->push_back({std::move(node), piece.offset});
    return absl::OkStatus();
  }

  const std::string& source_;
  Failure fail_;
  std::vector<Piece> pieces_;
  size_t next_ = 0;
  size_t stop_piece_ = 0;
  std::unique_ptr<Markup> stop_markup_;
  bool literal_ = true;
};

// Adds the root of every variable path in `block` to `roots`.
void CollectRoots(const Block& block, std::vector<std::string>* roots);

void CollectRoots(const Operand& operand, std::vector<std::string>* roots) {
  if (!operand.path.empty()) roots->push_back(operand.path[0]);
}

void CollectRoots(const Expression& expression, std::vector<std::string>* roots) {
  CollectRoots(expression.base, roots);
  for (const FilterCall& filter : expression.filters) {
    for (const Operand& arg : filter.args) CollectRoots(arg, roots);
  }
}

void CollectRoots(const Block& block, std::vector<std::string>* roots) {
  for (const Node& node : block) {
    std::visit(
        [roots](const auto& n) {
          using T = std::decay_t<decltype(n)>;
          if constexpr (std::is_same_v<T, OutputNode>) {
            CollectRoots(n.expression, roots);
          } else if constexpr (std::is_same_v<T, IfNode>) {
            for (const auto& [condition, body] : n.branches) {
              for (const Comparison& term : condition.terms) {
                CollectRoots(term.left, roots);
                CollectRoots(term.right, roots);
              }
              CollectRoots(body, roots);
            }
            CollectRoots(n.otherwise, roots);
          } else if constexpr (std::is_same_v<T, ForNode>) {
            CollectRoots(n.collection, roots);
            if (n.range) {
              CollectRoots(n.range->first, roots);
              CollectRoots(n.range->second, roots);
            }
            if (n.limit) CollectRoots(*n.limit, roots);
            if (n.offset) CollectRoots(*n.offset, roots);
            CollectRoots(n.body, roots);
            CollectRoots(n.otherwise, roots);
          } else if constexpr (std::is_same_v<T, AssignNode>) {
            CollectRoots(n.expression, roots);
          } else if constexpr (std::is_same_v<T, CaptureNode>) {
            CollectRoots(n.body, roots);
          }
        },
        node.value);
  }
}

}  // namespace

std::string Position(const std::string& text, size_t offset) {
  int line = 1;
  int column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return absl::StrCat(line, ":", column);
}

absl::StatusOr<std::shared_ptr<const Program>> ParseProgram(const std::string& source) {
  auto pieces = Scan(source);
  if (!pieces.ok()) return pieces.status();
  Parser parser(source, std::move(*pieces));
  auto program = parser.Run();
  if (!program.ok()) return program.status();
  CollectRoots(program->root, &program->roots);
  std::sort(program->roots.begin(), program->roots.end());
  program->roots.erase(std::unique(program->roots.begin(), program->roots.end()), program->roots.end());
  return std::make_shared<const Program>(std::move(*program));
}

}  // namespace herald::templates
