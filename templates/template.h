// Compiled templates in a Liquid subset, compiled once when a workflow
// loads and rendered per message without reparsing:
//   {{ path.to.var | filter: arg, ... }}
//   {% if %} {% elsif %} {% else %} {% endif %}, {% unless %},
//   {% for x in list limit: n offset: n reversed %} ... {% else %} {% endfor %}
//   with forloop.index/index0/rindex/rindex0/first/last/length, break and
//   continue, {% assign %}, {% capture %}, {% comment %}, {% raw %},
//   and whitespace control ({{- -}}, {%- -%}).
// Filters: default upcase downcase capitalize size plus minus times
// pluralize truncate join first last date escape url_encode json.
// Values follow Liquid: only nil and false are falsy; missing variables are
// nil and render empty unless RenderOptions::strict.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "templates/context.h"

namespace herald::templates {

struct RenderOptions {
  // Unknown variables fail the render, naming the variable and its
  // position, instead of rendering empty. A variable whose first filter is
  // `default` may be missing even in strict mode.
  bool strict = false;
  // IANA zone for the `date` filter (the recipient's timezone); empty or
  // unknown = UTC.
  std::string timezone;
  // What `date` reads for "now"; absl::InfinitePast() = the real clock.
  absl::Time now = absl::InfinitePast();
  // Bounds that keep one hostile template from stalling a worker: the
  // render fails with RESOURCE_EXHAUSTED past either.
  size_t max_output_bytes = 256 * 1024;
  int64_t max_loop_iterations = 10000;
};

struct Program;  // the compiled node tree (templates/liquid_ast.h)

// Immutable after Compile; copies share the compiled program; thread-safe
// to render concurrently.
class Template {
 public:
  Template();

  // INVALID_ARGUMENT "template L:C: ..." for an unclosed or unknown tag or
  // block, a malformed expression, an unknown filter or a wrong number of
  // filter arguments.
  static absl::StatusOr<Template> Compile(absl::string_view source);

  // Appends the rendered text to `out`. Errors: INVALID_ARGUMENT naming the
  // variable and its line:column in strict mode, RESOURCE_EXHAUSTED past
  // the output or loop bound. `out` may hold partial output on error.
  absl::Status RenderTo(const Context& context, std::string* out, const RenderOptions& options = {}) const;
  absl::StatusOr<std::string> Render(const Context& context, const RenderOptions& options = {}) const;

  const std::string& source() const { return source_; }
  bool empty() const { return source_.empty(); }
  // True when the text has no variables or tags (render is the source).
  bool is_literal() const;
  // Whether any variable path in the template starts at `root` (a local
  // of that name counts too, so false means the render never looks at
  // context root `root`). Callers use it to render once what does not
  // depend on, say, `recipient`.
  bool Reads(absl::string_view root) const;

 private:
  std::string source_;
  std::shared_ptr<const Program> program_;
};

}  // namespace herald::templates
