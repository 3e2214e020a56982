// Liquid filters: a fixed table looked up by name when a template compiles
// (an unknown name or a wrong argument count is a compile error), called
// with already evaluated arguments when it renders. Pure functions, no I/O.
#pragma once

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"
#include "templates/template.h"

namespace herald::templates {

using FilterFn = absl::Status (*)(const nlohmann::json& input, const std::vector<const nlohmann::json*>& args,
                                  const RenderOptions& options, nlohmann::json* out);

struct FilterSpec {
  const char* name;
  int min_args;
  int max_args;
  FilterFn fn;
};

// The filter called `name`, or nullptr.
const FilterSpec* FindFilter(absl::string_view name);

// Liquid truthiness: everything but nil and false.
bool Truthy(const nlohmann::json& value);

// Number view used by the arithmetic filters and comparisons: numbers as
// they are, numeric strings parsed, anything else nullopt.
std::optional<double> AsNumber(const nlohmann::json& value);

// The text a value prints as (see AppendValue).
std::string AsText(const nlohmann::json& value);

}  // namespace herald::templates
