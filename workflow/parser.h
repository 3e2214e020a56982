// Turns workflow definition files (YAML, or JSON which YAML reads too) into
// compiled Workflows. Every error names the file, the step and the field.
#pragma once

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/statusor.h"
#include "workflow/workflow.h"

namespace herald::workflow {

// INVALID_ARGUMENT "<source>: steps[i] (ref 'x'): field 'window': ...".
absl::StatusOr<Workflow> ParseWorkflow(absl::string_view text, const std::string& source);

// Reads and parses one file; NOT_FOUND when it cannot be read.
absl::StatusOr<Workflow> ParseWorkflowFile(const std::string& path);

}  // namespace herald::workflow
