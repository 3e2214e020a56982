// Compiled text templates: `{{ path.to.var }}` interpolation, compiled once
// when a workflow loads and rendered per message without reparsing.
// (The Liquid subset with filters and tags grows here.)
#pragma once

#include <string>
#include "absl/strings/string_view.h"
#include <variant>
#include <vector>

#include "absl/status/statusor.h"
#include "templates/context.h"

namespace herald::templates {

struct RenderOptions {
  // Unknown variables fail the render (naming the variable) instead of
  // rendering empty.
  bool strict = false;
};

// Immutable after Compile; thread-safe to render concurrently.
class Template {
 public:
  Template() = default;

  // INVALID_ARGUMENT with line:column for an unclosed tag, an empty or
  // malformed variable, or a construct this version does not support.
  static absl::StatusOr<Template> Compile(absl::string_view source);

  // Appends the rendered text to `out`. INVALID_ARGUMENT naming the variable
  // only in strict mode.
  absl::Status RenderTo(const Context& context, std::string* out, const RenderOptions& options = {}) const;
  absl::StatusOr<std::string> Render(const Context& context, const RenderOptions& options = {}) const;

  const std::string& source() const { return source_; }
  bool empty() const { return source_.empty(); }
  // True when the text has no variables (render is the source itself).
  bool is_literal() const;

 private:
  struct Variable {
    Path path;
    std::string text;
  };
  using Segment = std::variant<std::string, Variable>;

  std::string source_;
  std::vector<Segment> segments_;
};

}  // namespace herald::templates
