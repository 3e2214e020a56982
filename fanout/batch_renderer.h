// Template rendering for the recipients of one batch. Every recipient of a
// batch sees the same context except `recipient` and `refs`, and the same
// render options except the timezone; a template that names neither root
// renders to the same text (or the same error) for all of them. So the
// fan-out renders such a template once per batch and timezone instead of
// once per recipient.
#pragma once

#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "templates/context.h"
#include "templates/template.h"

namespace herald::fanout {

// Not thread-safe; one per batch. Holds pointers to the templates it
// rendered: they must outlive it (they belong to the workflow registry).
class BatchRenderer {
 public:
  // Appends `t` rendered with `context` and `options` to `*out`, as
  // Template::RenderTo does (same errors). REQUIRES: over the renderer's
  // life, contexts differ only in the roots `recipient` and `refs`, and
  // options only in `timezone`.
  absl::Status RenderTo(const templates::Template& t, const templates::Context& context,
                        const templates::RenderOptions& options, std::string* out);

 private:
  // (template, timezone) -> its text or error.
  absl::flat_hash_map<std::pair<const templates::Template*, std::string>, absl::StatusOr<std::string>> rendered_;
};

}  // namespace herald::fanout
