// The set of workflows a process serves, loaded from files at start.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "workflow/workflow.h"

namespace herald::workflow {

// Immutable after Load; thread-safe.
class Registry {
 public:
  // Loads every *.yaml, *.yml and *.json file directly in `directory`.
  // INVALID_ARGUMENT (naming the file) on the first bad file or a key
  // defined twice; NOT_FOUND when the directory cannot be read.
  static absl::StatusOr<std::unique_ptr<Registry>> LoadDirectory(const std::string& directory);
  static absl::StatusOr<std::unique_ptr<Registry>> FromWorkflows(std::vector<Workflow> workflows);

  // nullptr when unknown.
  const Workflow* Find(const std::string& key) const;
  const std::map<std::string, Workflow>& all() const { return by_key_; }

 private:
  std::map<std::string, Workflow> by_key_;
};

}  // namespace herald::workflow
