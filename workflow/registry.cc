#include "workflow/registry.h"

#include <algorithm>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "workflow/parser.h"

namespace herald::workflow {

absl::StatusOr<std::unique_ptr<Registry>> Registry::LoadDirectory(const std::string& directory) {
  std::error_code error;
  std::filesystem::directory_iterator it(directory, error);
  if (error) return absl::NotFoundError(absl::StrCat("workflows directory ", directory, ": ", error.message()));
  std::vector<std::string> files;
  for (const auto& entry : it) {
    std::string extension = entry.path().extension().string();
    if (entry.is_regular_file() && (extension == ".yaml" || extension == ".yml" || extension == ".json")) {
      files.push_back(entry.path().string());
    }
  }
  std::sort(files.begin(), files.end());
  std::vector<Workflow> workflows;
  for (const std::string& file : files) {
    auto workflow = ParseWorkflowFile(file);
    if (!workflow.ok()) return workflow.status();
    workflows.push_back(std::move(*workflow));
  }
  return FromWorkflows(std::move(workflows));
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::FromDocuments(const std::vector<std::string>& documents,
                                                                   const std::string& source) {
  std::vector<Workflow> workflows;
  for (const std::string& document : documents) {
    auto workflow = ParseWorkflow(document, source);
    if (!workflow.ok()) return workflow.status();
    workflows.push_back(std::move(*workflow));
  }
  return FromWorkflows(std::move(workflows));
}

absl::StatusOr<std::unique_ptr<Registry>> Registry::FromWorkflows(std::vector<Workflow> workflows) {
  auto registry = std::make_unique<Registry>();
  for (Workflow& workflow : workflows) {
    auto existing = registry->by_key_.find(workflow.key);
    if (existing != registry->by_key_.end()) {
      return absl::InvalidArgumentError(absl::StrCat(workflow.source_file, ": field 'key': workflow '", workflow.key,
                                                     "' is already defined in ", existing->second.source_file));
    }
    for (const Step& step : workflow.steps) {
      if (step.type != StepType::kChannel || step.channel.channel_type == "in_app_feed") continue;
      auto [channel, inserted] = registry->channels_.emplace(step.channel.channel, step.channel.channel_type);
      if (!inserted && channel->second != step.channel.channel_type) {
        return absl::InvalidArgumentError(absl::StrCat(
            workflow.source_file, ": step '", step.ref, "': field 'channel': channel '", step.channel.channel,
            "' is a ", channel->second, " channel elsewhere, not ", step.channel.channel_type));
      }
    }
    std::string key = workflow.key;
    registry->by_key_.emplace(std::move(key), std::move(workflow));
  }
  return registry;
}

const Workflow* Registry::Find(const std::string& key) const {
  auto it = by_key_.find(key);
  return it == by_key_.end() ? nullptr : &it->second;
}

}  // namespace herald::workflow
