#include "templates/template.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace herald::templates {
namespace {

// 1-based line and column of byte `offset` in `text`.
std::string Position(absl::string_view text, size_t offset) {
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

}  // namespace

absl::StatusOr<Template> Template::Compile(absl::string_view source) {
  Template compiled;
  compiled.source_ = std::string(source);
  size_t position = 0;
  std::string literal;
  while (position < source.size()) {
    size_t open = source.find("{{", position);
    size_t tag = source.find("{%", position);
    if (tag != absl::string_view::npos && (open == absl::string_view::npos || tag < open)) {
      return absl::InvalidArgumentError(
          absl::StrCat("template ", Position(source, tag), ": tags ({% ... %}) are not supported yet"));
    }
    if (open == absl::string_view::npos) {
      absl::StrAppend(&literal, source.substr(position));
      break;
    }
    absl::StrAppend(&literal, source.substr(position, open - position));
    size_t close = source.find("}}", open + 2);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat("template ", Position(source, open), ": unclosed '{{'"));
    }
    absl::string_view inner = source.substr(open + 2, close - open - 2);
    // Whitespace-control dashes are accepted and ignored for now.
    if (!inner.empty() && inner.front() == '-') inner.remove_prefix(1);
    if (!inner.empty() && inner.back() == '-') inner.remove_suffix(1);
    inner = absl::StripAsciiWhitespace(inner);
    if (inner.find('|') != absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("template ", Position(source, open), ": filters are not supported yet in '{{", inner, "}}'"));
    }
    Path path = ParsePath(inner);
    if (path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("template ", Position(source, open), ": bad variable '", inner, "'"));
    }
    if (!literal.empty()) {
      compiled.segments_.emplace_back(std::move(literal));
      literal.clear();
    }
    compiled.segments_.emplace_back(Variable{std::move(path), std::string(inner)});
    position = close + 2;
  }
  if (!literal.empty()) compiled.segments_.emplace_back(std::move(literal));
  return compiled;
}

absl::Status Template::RenderTo(const Context& context, std::string* out, const RenderOptions& options) const {
  for (const Segment& segment : segments_) {
    if (const std::string* text = std::get_if<std::string>(&segment)) {
      out->append(*text);
      continue;
    }
    const Variable& variable = std::get<Variable>(segment);
    const nlohmann::json* value = context.Lookup(variable.path);
    if (value == nullptr) {
      if (options.strict) return absl::InvalidArgumentError(absl::StrCat("unknown variable '", variable.text, "'"));
      continue;
    }
    AppendValue(*value, out);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Template::Render(const Context& context, const RenderOptions& options) const {
  std::string out;
  absl::Status status = RenderTo(context, &out, options);
  if (!status.ok()) return status;
  return out;
}

bool Template::is_literal() const {
  for (const Segment& segment : segments_) {
    if (std::holds_alternative<Variable>(segment)) return false;
  }
  return true;
}

}  // namespace herald::templates
