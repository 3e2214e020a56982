// Compiles template text into a Program (templates/liquid_ast.h).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "templates/liquid_ast.h"

namespace herald::templates {

// INVALID_ARGUMENT "template L:C: ..." on any syntax error.
absl::StatusOr<std::shared_ptr<const Program>> ParseProgram(const std::string& source);

}  // namespace herald::templates
