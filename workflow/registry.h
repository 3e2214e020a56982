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
  // Parses each document (YAML or JSON, named `source` in errors) and makes
  // a registry of them: the first error as LoadDirectory gives it.
  static absl::StatusOr<std::unique_ptr<Registry>> FromDocuments(const std::vector<std::string>& documents,
                                                                 const std::string& source);

  // nullptr when unknown.
  const Workflow* Find(const std::string& key) const;
  const std::map<std::string, Workflow>& all() const { return by_key_; }

  // The channels the workflows deliver through, other than the in-app feed
  // (channel name -> its channel type, e.g. "apns" -> "push"): the channels
  // a user can have channel data for.
  const std::map<std::string, std::string>& channels() const { return channels_; }

 private:
  std::map<std::string, Workflow> by_key_;
  std::map<std::string, std::string> channels_;
};

}  // namespace herald::workflow
